"""Pictures a page's code draws in its kernel land in images/, named by a hash of their content."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from support.site import build_site, kernels_option

pytestmark = pytest.mark.build

OURS = re.compile(r"(steps|hello-flow)-[0-9a-f]{40}\.svg")
MISSING = """:orphan:

Missing
=======

.. jupyter-execute::

   print("this page's code draws nothing")

.. image:: /images/never-drawn.svg
   :alt: a picture nobody draws
"""


@pytest.fixture
def pictures_site(tmp_path, rootdir):
    """roots/test-kernel-images copied, and a function that builds it (again) as nox does."""
    src = tmp_path / "site"
    shutil.copytree(rootdir / "test-kernel-images", src)

    def build():
        return build_site(src, tmp_path / "out", *kernels_option())

    build.src = src
    return build


def drawn(src: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((src / "images").glob("*.svg"))}


def test_pictures_the_code_writes_are_stored_under_hashed_names_and_embedded(pictures_site):
    site = pictures_site()
    assert site.returncode == 0, site.console[-3000:]
    files = drawn(pictures_site.src)
    assert len(files) == 2 and all(OURS.fullmatch(name) for name in files), files
    steps = next(name for name in files if name.startswith("steps-"))
    assert "extract" in files[steps] and "load" in files[steps]
    hello = next(name for name in files if name.startswith("hello-flow-"))
    assert "say_hello" in files[hello]  # drawn by Prefect 1 in the legacy kernel
    page = (site.html / "index.html").read_text()
    assert f'src="_images/{steps}"' in page and f'src="_images/{hello}"' in page
    assert not re.search(r'src="[^"]*/steps\.svg"', page)  # the name the page wrote, rewritten


def test_a_picture_the_code_never_draws_is_a_warning_naming_page_and_name(pictures_site):
    (pictures_site.src / "missing.rst").write_text(MISSING)
    site = pictures_site()
    assert site.returncode != 0
    assert re.search(
        r"missing\.rst:\d+: WARNING: the page embeds /images/never-drawn\.svg", site.console
    )


def test_an_emptied_images_folder_is_drawn_again(pictures_site):
    pictures_site()
    first = drawn(pictures_site.src)
    for name in first:
        (pictures_site.src / "images" / name).unlink()
    site = pictures_site()  # nothing in the sources changed
    assert site.returncode == 0, site.console[-3000:]
    again = drawn(pictures_site.src)
    steps = [name for name in first if name.startswith("steps-")]
    assert steps and set(steps) <= set(again)  # the same bytes, so the same name
    assert len(again) == 2


def test_a_changed_drawing_replaces_its_picture_and_the_old_one_goes(pictures_site):
    pictures_site()
    before = drawn(pictures_site.src)
    page = pictures_site.src / "index.rst"
    page.write_text(page.read_text().replace('"extract", "load"', '"extract", "transform"'))
    site = pictures_site()
    assert site.returncode == 0, site.console[-3000:]
    after = drawn(pictures_site.src)
    new_steps = [name for name in after if name.startswith("steps-")]
    assert len(new_steps) == 1 and new_steps[0] not in before
    assert "transform" in after[new_steps[0]]
    assert len(after) == 2  # the old picture of the steps is gone
