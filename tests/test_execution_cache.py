"""The execution cache: a page's code runs again only when what it runs changed.

Every run of a page's code logs a line, so each test sees exactly what executed.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter

import pytest
from support.site import build_site, kernels_option

pytestmark = pytest.mark.build


class CachedSite:
    """A copy of roots/test-execution-cache, built again and again into one output folder."""

    def __init__(self, tmp_path, rootdir):
        self.src = tmp_path / "site"
        shutil.copytree(rootdir / "test-execution-cache", self.src)
        self.out = tmp_path / "out"
        self.log = self.src / "runs.log"

    def build(self, strict: bool = True) -> Counter:
        """Build; what ran (page and kernel -> times)."""
        self.log.write_text("")
        site = build_site(self.src, self.out, *kernels_option())
        if strict:
            assert site.returncode == 0, site.console[-3000:]
        self.last = site
        return Counter(self.log.read_text().splitlines())

    def outputs(self, page: str) -> list[str]:
        return self.last.outputs(page)

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.src / name
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))


@pytest.fixture
def cached(tmp_path, rootdir):
    site = CachedSite(tmp_path, rootdir)
    site.build()  # everything runs once
    return site


EVERYTHING = Counter(
    ["reads python3", "reads prefect1", "other python3", "notebook python3", "flaky python3"]
)


def test_the_first_build_runs_every_page(tmp_path, rootdir):
    assert CachedSite(tmp_path, rootdir).build() == EVERYTHING


def test_a_prose_edit_runs_nothing_and_shows_the_same_outputs(cached):
    before = {page: cached.outputs(page) for page in ("reads", "notebook")}
    cached.edit(
        "reads.rst", "Reads a file\n============\n", "Reads a file\n============\n\nProse.\n"
    )
    cached.edit("notebook.md", "# A notebook\n", "# A notebook\n\nProse.\n")
    assert cached.build() == Counter()
    assert "Prose." in cached.last.text("reads") and "Prose." in cached.last.text("notebook")
    assert {page: cached.outputs(page) for page in ("reads", "notebook")} == before


def test_a_code_edit_runs_that_page_and_kernel_alone(cached):
    cached.edit("reads.rst", 'print("legacy", 6 * 7)', 'print("legacy", 6 * 8)')
    assert cached.build() == Counter(["reads prefect1"])  # its Prefect 3 session is unchanged
    assert any("legacy 48" in output for output in cached.outputs("reads"))
    cached.edit("notebook.md", 'print("notebook", 2 + 2)', 'print("notebook", 2 + 3)')
    assert cached.build() == Counter(["notebook python3"])
    assert any("notebook 5" in output for output in cached.outputs("notebook"))


def test_editing_a_file_the_code_reads_runs_exactly_the_pages_that_read_it(cached):
    (cached.src / "examples" / "words.txt").write_text("second words\n")
    assert cached.build() == Counter(["reads python3"])
    assert any("second words" in output for output in cached.outputs("reads"))


def test_a_new_lock_file_runs_every_page(cached):
    (cached.src / "requirements.txt").write_text("prefect==3.9.2\n")
    assert cached.build() == EVERYTHING
    # and going back finds the first environment's outputs again
    (cached.src / "requirements.txt").write_text("prefect==3.9.1\n")
    assert cached.build() == Counter()


def test_an_unchanged_environment_reads_no_page_again(cached):
    assert cached.build() == Counter()
    assert "0 added, 0 changed, 0 removed" in cached.last.console


def test_a_failed_cell_is_never_served_as_if_it_had_passed(tmp_path, rootdir):
    site = CachedSite(tmp_path, rootdir)
    (site.src / "flag.txt").write_text("fail\n")
    assert site.build(strict=False) == EVERYTHING
    assert site.last.returncode != 0 and "the flag says fail" in site.last.console
    (site.src / "flag.txt").write_text("pass\n")
    site.edit("flaky.rst", "Flaky\n=====\n", "Flaky\n=====\n\nAgain.\n")
    assert site.build() == Counter(["flaky python3"])  # run again, not served from the cache
    assert any("flaky passed" in output for output in site.outputs("flaky"))


def executed_line(site, page: str) -> str:
    return site.article(page).select_one("p.pbe-executed").get_text()


def test_the_executed_line_says_when_the_cells_last_ran_not_when_the_page_was_read(cached):
    import sqlite3

    first = {page: executed_line(cached.last, page) for page in ("notebook", "reads")}
    assert all(re.search(r"on \d{4}-\d\d-\d\d, in \d+\.\d s\.$", line) for line in first.values())
    # pretend the cells ran long ago: the cache's own record of when they ran
    [database] = cached.out.glob(".jupyter_cache/*/global.db")
    with sqlite3.connect(database) as db:
        db.execute("UPDATE nbcache SET created = '2020-01-02 03:04:05.000000'")
    cached.edit("notebook.md", "# A notebook\n", "# A notebook\n\nProse.\n")
    cached.edit(
        "reads.rst", "Reads a file\n============\n", "Reads a file\n============\n\nProse.\n"
    )
    assert cached.build() == Counter()
    for page, line in first.items():
        again = executed_line(cached.last, page)
        assert "on 2020-01-02" in again, again
        assert again.split(", in ")[1] == line.split(", in ")[1]  # the run time of that run
