"""The build machinery: a clean build is strict, complete, self-made and leaves nothing behind."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from support.site import ROOT, build_site, kernels_option, mini_site, processes_mentioning

from prefect_by_example.server import free_port

pytestmark = pytest.mark.build

PAGES = sorted(
    str(p.relative_to(ROOT).with_suffix(""))
    for pattern in ("docs/*.rst", "docs/*.md", "docs/atlas/*.rst", "tutorials/*.md", "*.md")
    for p in ROOT.glob(pattern)
    if p.name != "README.md"
)
PAGES_WITH_CODE = [
    p for p in PAGES
    if re.search(r"^```\{code-cell\}|jupyter-execute::", next(ROOT.glob(f"{p}.*")).read_text(), re.M)
]  # fmt: skip


def test_clean_build_has_no_warnings(site):
    assert site.returncode == 0, site.console[-5000:]
    assert "WARNING" not in site.console, site.console
    assert "build succeeded" in site.console


@pytest.mark.parametrize("docname", PAGES)
def test_every_page_is_rendered(site, docname):
    assert (site.html / f"{docname}.html").exists()
    assert site.text(docname).strip()


def executed_notebooks(site) -> dict[str, list]:
    """The notebooks myst-nb and jupyter-sphinx executed, grouped by the page they belong to.

    jupyter-sphinx names a notebook after its page, or after a `jupyter-kernel` id that starts
    with the page's name.
    """
    by_page: dict[str, list] = {}
    for path in sorted((site.outdir / "jupyter_execute").rglob("*.ipynb")):
        name = str(path.relative_to(site.outdir / "jupyter_execute").with_suffix(""))
        page = max((p for p in PAGES if name.startswith(p)), key=len, default=None)
        assert page, f"executed notebook {name} belongs to no page"
        by_page.setdefault(page, []).append(nbformat.read(path, as_version=4))
    return by_page


def source_count(docname: str, option: str) -> int:
    src = next(ROOT.glob(f"{docname}.*")).read_text()
    return len(re.findall(rf"^\s*{re.escape(option)}", src, flags=re.M))


def test_every_cell_ran_and_shows_its_outputs(site):
    by_page = executed_notebooks(site)
    assert sorted(by_page) == PAGES_WITH_CODE
    for page, notebooks in by_page.items():
        cells = [
            c for nb in notebooks for c in nb.cells if c.cell_type == "code" and c.source.strip()
        ]
        assert all(c.get("execution_count") for c in cells), f"{page}: a cell did not run"
        errors = [c for c in cells if any(o.output_type == "error" for o in c.outputs)]
        if page.startswith("tutorials/"):
            unmarked = [
                c.source for c in errors if "raises-exception" not in c.metadata.get("tags", [])
            ]
            assert not unmarked, f"{page}: unmarked cells raised: {unmarked}"
            removed = {"remove-output", "remove-cell"}
            hidden = sum(
                1 for c in cells if c.outputs and removed & set(c.metadata.get("tags", []))
            )
        else:
            assert len(errors) <= source_count(page, ":raises:"), f"{page}: unmarked cells raised"
            hidden = source_count(page, ":hide-output:")
        with_outputs = sum(1 for c in cells if c.outputs)
        assert len(site.outputs(page)) >= with_outputs - hidden, f"{page}: outputs missing"


def test_every_image_was_drawn_by_this_build(site):
    images = [img for page in PAGES for img in site.images(page)]
    assert images, "the site shows no pictures at all"
    for img in images:
        assert img.is_file(), f"missing image {img}"
        assert img.stat().st_size > 0
        # a picture older than the build was reused, not drawn from the page's code
        assert img.stat().st_mtime >= site.started - 1, f"{img.name} predates the build"


def test_build_leaves_no_process_and_nothing_in_home(site):
    port = re.search(r"listening on http://127\.0\.0\.1:(\d+)/api", site.console)
    assert port, "the build did not start its Prefect server"
    # nothing answers there, or another Prefect server (not the build's) took the port since
    home = answering_home(int(port[1]))
    assert home is None or not home.startswith(str(site.outdir)), "the build's server answers"
    assert not processes_mentioning(str(site.outdir), f"--port {port[1]}")
    for leftover in (".prefect", ".ipython", ".local/share/jupyter", ".cache/matplotlib"):
        assert not (site.home / leftover).exists(), f"the build wrote ~/{leftover}"


BROKEN_TUTORIAL = (
    (ROOT / "tutorials/01-turn-a-script-into-a-flow.md").read_text()
    + """
```{code-cell} ipython3
numbers = [1, 2, 3]
total = sum(numbers) / undefined_divisor
```
"""
)

BROKEN_RST = """Broken
======

.. jupyter-execute::

   print("fine")

.. jupyter-kernel:: prefect1
   :id: broken-legacy

.. jupyter-execute::

   from prefect import Flow
   flow = Flow("broken")
   flow.not_an_attribute
"""


def test_broken_tutorial_cell_fails_the_build_naming_page_cell_and_traceback(tmp_path):
    src = mini_site(tmp_path, "tutorials/broken.md", BROKEN_TUTORIAL)
    result = build_site(src, tmp_path / "out", *kernels_option())
    assert result.returncode != 0
    assert "tutorials/broken.md" in result.console
    assert "total = sum(numbers) / undefined_divisor" in result.console  # the cell
    assert "NameError" in result.console and "undefined_divisor" in result.console  # traceback


def test_broken_rst_cell_fails_the_build_naming_page_and_traceback(tmp_path):
    src = mini_site(tmp_path, "docs/broken.rst", BROKEN_RST)
    result = build_site(src, tmp_path / "out", *kernels_option())
    assert result.returncode != 0
    assert re.search(r"docs/broken(\.rst)?: WARNING", result.console), result.console
    assert "flow.not_an_attribute" in result.console
    assert "AttributeError" in result.console


def test_missing_kernel_says_how_to_make_it(tmp_path):
    src = mini_site(tmp_path, "docs/page.rst", "Page\n====\n")
    result = build_site(src, tmp_path / "out", "-D", f"pbe_kernels_path={tmp_path / 'none'}")
    assert result.returncode != 0
    assert "'prefect1' is not installed" in result.console and "make kernels" in result.console


SLOW_PAGE = """Slow
====

.. jupyter-execute::

   import time
   print("started", flush=True)
   time.sleep(120)
"""


def answering_home(port: int) -> str | None:
    """PREFECT_HOME of the Prefect server answering on `port`, None if nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/admin/settings", timeout=2) as r:
            return json.load(r)["home"]
    except OSError:
        return None


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_build_stops_its_server_and_kernels(tmp_path, how):
    src = mini_site(tmp_path, "docs/slow.rst", SLOW_PAGE)
    out = tmp_path / "out"
    (out / "home").mkdir(parents=True)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-d", str(out / "doctrees"),
           *kernels_option(), str(src), str(out / "html")]  # fmt: skip
    build = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = None
    for line in build.stdout:
        if m := re.search(r"listening on http://127\.0\.0\.1:(\d+)/api", line):
            port = m[1]
        if "executing slow" in line:
            break
    assert port
    time.sleep(3)  # the kernel is now running the slow cell
    assert processes_mentioning(str(out))
    build.send_signal(how)
    build.communicate(timeout=60)
    deadline = time.monotonic() + 15
    while processes_mentioning(str(out), f"--port {port}") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not processes_mentioning(str(out), f"--port {port}")


def test_busy_port_is_skipped():
    first = free_port(4300)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", first))
        sock.listen()
        assert free_port(first) != first


def test_server_home_with_foreign_files_is_left_alone(tmp_path):
    src = mini_site(tmp_path, "docs/page.rst", "Page\n====\n\n.. jupyter-execute::\n\n   1 + 1\n")
    home = tmp_path / "out" / "runtime" / "prefect-home"
    home.mkdir(parents=True)
    (home / "notes.txt").write_text("mine")
    result = build_site(src, tmp_path / "out", *kernels_option())
    assert result.returncode != 0
    assert "did not make" in result.console
    assert (home / "notes.txt").read_text() == "mine"


SMALL_TUTORIAL = """---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Count words

```{code-cell} ipython3
words = "to be or not to be".split()
len(words)
```
"""


def test_notebook_download_keeps_outputs_when_the_cache_answers(tmp_path):
    src = mini_site(tmp_path, "tutorials/count-words.md", SMALL_TUTORIAL)
    out = tmp_path / "out"
    first = build_site(src, out, *kernels_option())
    assert first.returncode == 0, first.console
    # a second build from the same cache: the page is read again but not executed
    for made in ("doctrees", "html", "home"):
        shutil.rmtree(out / made)
    again = build_site(src, out, *kernels_option())
    assert again.returncode == 0 and "Executed notebook" not in again.console
    download = nbformat.read(out / "html/_sources/tutorials/count-words.ipynb", 4)
    outputs = [o for c in download.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs and outputs[0]["data"]["text/plain"] == "6", "the download lost its outputs"
    assert (out / "html/_sources/tutorials/count-words.md").exists()  # and the .md source


def test_executed_pages_say_what_they_ran_with(site):
    from importlib import metadata

    for page in PAGES_WITH_CODE:
        note = site.article(page).select_one("p.pbe-executed")
        assert note is not None, f"{page} does not say what it ran with"
        assert f"Prefect {metadata.version('prefect')}" in note.text
