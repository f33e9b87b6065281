"""The site as a reader meets it: in Chromium, served from 127.0.0.1, offline, in light and dark mode.

Every page loads with no console error and no request off this machine; every picture shows;
search, the copy button and the notebook download work; graphs stay readable in dark mode;
our content passes an axe-core audit; and `make live` rebuilds once per edit.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    is_local,
    nox_session_command,
    picture_contrast,
    serve,
    site_pages,
)
from support.site import ROOT

from devtools.checkout import copy_sources
from prefect_by_example.server import free_port

if not CHROMIUM.exists():
    pytest.skip(
        f"the browser tests drive Debian's Chromium at {CHROMIUM}: install it with "
        "`sudo apt-get install chromium` (or run `make test`, which does as root)",
        allow_module_level=True,
    )

from playwright.sync_api import sync_playwright  # noqa: E402 - after the skip

GRAPH_PAGE = "docs/dependencies"  # a concept page whose flow graphs come from our renderer
TUTORIAL = "tutorials/01-turn-a-script-into-a-flow"
SEARCHES = {  # term -> a page that teaches it
    "set_dependencies": "docs/dependencies",
    "wait_for": "docs/dependencies",
    "result_storage": "docs/storage",
}
SERIOUS = {"serious", "critical"}
pytestmark = pytest.mark.browser


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def site_url(site):
    """The built site, served over HTTP from 127.0.0.1 (as a reader's browser would get it)."""
    assert (site.html / "index.html").exists(), site.console[-3000:]
    with serve(site.html) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop running in this thread while it is open:
    # closed after this module, so later tests (and Prefect) see no running loop
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Reader:
    """One browser tab that records what a page asked for and what went wrong on it."""

    def __init__(self, context, base_url: str):
        self.base_url = base_url
        self.page = context.new_page()
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", self._on_request)
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda err: self.errors.append(f"uncaught {err}"))

    def _on_request(self, request) -> None:
        if not is_local(request.url):
            self.outside.append(request.url)

    def _on_console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.errors.append(f"{message.text} [{where}]" if where else message.text)

    def open(self, docname: str, query: str = "") -> None:
        self.outside.clear()
        self.errors.clear()
        self.page.goto(f"{self.base_url}{docname}.html{query}", wait_until="load")
        self.page.wait_for_load_state("networkidle")


def new_context(browser, base_url: str, dark: bool = False, **options):
    context = browser.new_context(viewport={"width": 1300, "height": 1000}, **options)
    # nothing leaves the machine: a request to another host is recorded, then refused
    context.route(
        "**/*", lambda route: route.continue_() if is_local(route.request.url) else route.abort()
    )
    if dark:
        # what the theme's switch stores; read by the theme before the page is drawn
        context.add_init_script(
            "localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');"
        )
    return context


@pytest.fixture
def reader(browser, site_url):
    context = new_context(browser, site_url)
    yield Reader(context, site_url)
    context.close()


@pytest.fixture(scope="module")
def visits(browser, site, site_url) -> dict[str, Reader]:
    """Every page of the site opened once: what each requested and logged."""
    context = new_context(browser, site_url)
    reader = Reader(context, site_url)
    seen = {}
    for docname in site_pages(site.html):
        reader.open(docname)
        seen[docname] = (list(reader.outside), list(reader.errors))
    context.close()
    return seen


def report(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"{page}:\n    " + "\n    ".join(items) for page, items in problems.items())


# -- every page ---------------------------------------------------------------------------


def test_site_has_pages(visits):
    assert {"index", TUTORIAL, GRAPH_PAGE} <= set(visits), sorted(visits)


def test_no_page_requests_another_host(visits):
    outside = {page: sorted(set(urls)) for page, (urls, _) in visits.items() if urls}
    assert not outside, "requests to hosts other than 127.0.0.1:\n" + report(outside)


def test_no_page_logs_a_console_error(visits):
    errors = {page: list(dict.fromkeys(errs)) for page, (_, errs) in visits.items() if errs}
    assert not errors, "console errors:\n" + report(errors)


# reveal an element hidden in a closed tab or a collapsed <details>, then say how it shows
MEASURE = """el => {
    for (let node = el; node; node = node.parentElement) {
        if (node.tagName === 'DETAILS' && !node.open) node.open = true;
        if (node.classList.contains('sd-tab-content') && !node.checkVisibility()) {
            node.previousElementSibling.click();  // the tab's label
        }
    }
    el.scrollIntoView({block: 'center'});
    const box = el.getBoundingClientRect();
    const img = el.tagName === 'IMG';
    return {
        what: img ? el.getAttribute('src') : 'inline <svg> #' + [...document.querySelectorAll('article svg')].indexOf(el),
        width: box.width, height: box.height,
        loaded: img ? el.complete && el.naturalWidth > 0 : true,
        visible: el.checkVisibility({opacityProperty: true, visibilityProperty: true}),
    };
}"""
PICTURES = "article img, article .cell_output svg, article .output svg"


def test_every_picture_shows(site, reader):
    problems, counted = {}, 0
    for docname in site_pages(site.html):
        reader.open(docname)
        pictures = [
            el for el in reader.page.query_selector_all(PICTURES)
            # the outer <svg> only, and not the icons of buttons (copy buttons show on hover)
            if not el.evaluate("el => !!(el.parentElement.closest('svg') || el.closest('button'))")
        ]  # fmt: skip
        for el in pictures:
            shown = el.evaluate(MEASURE)
            counted += 1
            if not (
                shown["loaded"] and shown["visible"] and shown["width"] > 0 and shown["height"] > 0
            ):
                problems.setdefault(docname, []).append(str(shown))
    assert counted, "the site shows no pictures"
    print(f"{counted} pictures shown")
    assert not problems, "pictures that do not show:\n" + report(problems)


# -- search -------------------------------------------------------------------------------


@pytest.mark.parametrize("term", SEARCHES)
def test_search_finds_the_page_that_teaches(reader, term):
    reader.open("search", f"?q={term}")
    summary = reader.page.locator("#search-results .search-summary")
    summary.wait_for(timeout=15_000)
    reader.page.wait_for_function(
        "() => /finished/i.test(document.querySelector('#search-results .search-summary').textContent)"
    )
    found = [
        re.sub(r"\.html(#.*)?$", "", href)
        for href in reader.page.eval_on_selector_all("#search-results li a", "as => as.map(a => a.getAttribute('href'))")
    ]  # fmt: skip
    print(term, "->", found)
    assert SEARCHES[term] in found, f"{term}: {summary.text_content()} {found}"


# -- the copy button ----------------------------------------------------------------------


def copy_code(reader, block) -> str:
    """Click a code block's copy button and return what landed on the clipboard."""
    block.scroll_into_view_if_needed()
    block.hover()  # the button shows on hover
    block.locator("button.copybtn").click()
    return reader.page.evaluate("() => navigator.clipboard.readText()")


def shown_code_cells(path: Path) -> list[str]:
    """Sources of a tutorial's code cells that the page shows, in order."""
    import jupytext

    hidden = {"remove-cell", "remove-input"}
    return [
        cell.source
        for cell in jupytext.read(path).cells
        if cell.cell_type == "code" and not hidden & set(cell.metadata.get("tags", []))
    ]


@pytest.fixture
def clipboard_reader(browser, site_url):
    context = new_context(browser, site_url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site_url.rstrip("/"))
    yield Reader(context, site_url)
    context.close()


def test_copy_button_copies_a_cells_code_only(clipboard_reader):
    reader = clipboard_reader
    reader.open(TUTORIAL)
    cells = reader.page.locator("article div.cell:has(.cell_input)")
    sources = shown_code_cells(ROOT / f"{TUTORIAL}.md")
    assert cells.count() == len(sources)
    # the first cell that shows an output: its output must not be copied with it
    index = next(i for i in range(cells.count()) if cells.nth(i).locator(".cell_output").count())
    copied = copy_code(reader, cells.nth(index).locator(".cell_input div.highlight"))
    assert copied.rstrip("\n") == sources[index].rstrip("\n")
    output = cells.nth(index).locator(".cell_output").inner_text().strip()
    assert output and output.splitlines()[0] not in copied
    assert not re.search(r"^(>>>|\.\.\.|In \[\d+\]:) ", copied, flags=re.M)


def test_copy_button_leaves_out_shell_prompts(clipboard_reader):
    reader = clipboard_reader
    reader.open("docs/run-locally")
    block = reader.page.locator("article div.highlight-console").first
    copied = copy_code(reader, block.locator("div.highlight"))
    shown = block.inner_text()
    assert shown.lstrip().startswith("$ ")
    assert copied.strip() and not re.search(r"^\$ ", copied, flags=re.M)
    assert copied.splitlines() == [line[2:] for line in shown.strip().splitlines()]


# -- the notebook download ----------------------------------------------------------------


def test_notebook_download_is_a_valid_notebook_with_outputs(reader):
    import nbformat

    reader.open(TUTORIAL)
    reader.page.locator("button[aria-label='Download this page']").click()
    link = reader.page.locator(".dropdown-download-buttons a", has_text=".ipynb")
    link.wait_for(state="visible")
    href = link.get_attribute("href")
    assert href.endswith(".ipynb")
    url = reader.page.evaluate("href => new URL(href, document.baseURI).href", href)
    assert is_local(url)
    reply = reader.page.request.get(url)
    assert reply.ok, f"{url}: {reply.status}"
    notebook = nbformat.reads(reply.text(), as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and any(c.outputs for c in code), "the download has no outputs"


# -- dark mode ----------------------------------------------------------------------------


def test_graphs_stay_readable_in_dark_mode(browser, site_url, tmp_path):
    context = new_context(browser, site_url, dark=True)
    page = context.new_page()
    page.goto(f"{site_url}{GRAPH_PAGE}.html", wait_until="networkidle")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    body = page.evaluate("getComputedStyle(document.body).backgroundColor")
    images = page.locator("article img")
    assert images.count(), f"{GRAPH_PAGE} shows no graph"
    results = []
    for i in range(images.count()):
        image = images.nth(i)
        if not image.is_visible():
            continue  # in a closed tab: the open one is enough for this page
        shot = tmp_path / f"dark-{i}.png"
        image.screenshot(path=shot)
        c = picture_contrast(shot)
        results.append((shot, c))
        print(
            f"{shot}: mean luminance {c.mean:.2f}, background {c.background:.2f}, "
            f"ink {c.ink:.3f}, contrast {c.ratio:.1f}:1 (page background {body})"
        )
    context.close()
    assert results
    for shot, c in results:
        assert c.mean >= 0.4, f"{shot}: the graph has no light background of its own in dark mode"
        assert c.ratio >= 4.5, (
            f"{shot}: text and lines contrast only {c.ratio:.1f}:1 with the background"
        )


# -- accessibility ------------------------------------------------------------------------


def audit(page) -> tuple[list[str], list[str]]:
    """axe-core's serious and critical violations: (in our content, in the theme around it)."""
    from axe_playwright_python.sync_playwright import Axe

    ours, theme = [], []
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] not in SERIOUS:
            continue
        for node in violation["nodes"]:
            target = (
                node["target"][0] if isinstance(node["target"][0], str) else node["target"][0][0]
            )
            inside = page.evaluate(
                "sel => { const el = document.querySelector(sel); return !!(el && el.closest('article')); }",
                target,
            )
            line = f"{violation['id']} ({violation['impact']}): {target} - {violation['help']}"
            (ours if inside else theme).append(line)
    return ours, theme


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_our_content_passes_an_accessibility_audit(browser, site, site_url, mode):
    context = new_context(browser, site_url, dark=mode == "dark")
    reader = Reader(context, site_url)
    ours, theme = {}, {}
    for docname in site_pages(site.html):
        reader.open(docname)
        in_article, around = audit(reader.page)
        if in_article:
            ours[docname] = in_article
        if around:
            theme[docname] = around
    context.close()
    if theme:
        print(f"theme violations ({mode} mode), not ours to fix here:\n" + report(theme))
    assert not ours, f"serious accessibility violations in our content ({mode} mode):\n" + report(
        ours
    )


# -- make live ----------------------------------------------------------------------------


def reduced_copy(dest: Path, keep: str) -> Path:
    """The sources with one page: every other page removed and the home page listing only it."""
    src = copy_sources(ROOT, dest)
    for pattern in ("docs/*.rst", "docs/*.md", "docs/atlas/*.rst", "tutorials/*.md", "*.md"):
        for page in src.glob(pattern):
            if (
                page.relative_to(src).with_suffix("").as_posix() != keep
                and page.name != "README.md"
            ):
                page.unlink()
    (src / "index.md").write_text(f"# Prefect by Example\n\n```{{toctree}}\n{keep}\n```\n")
    return src


class Output:
    """Lines a process prints, collected by a thread."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(re.sub(r"\x1b\[[0-9;]*m", "", line.rstrip("\n")))

    def count(self, needle: str) -> int:
        return sum(needle in line for line in self.lines)

    def wait_for(self, needle: str, times: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.count(needle) < times:
            assert time.monotonic() < deadline, f"no {needle!r} #{times}:\n" + "\n".join(
                self.lines[-60:]
            )
            time.sleep(0.5)


def test_live_server_rebuilds_once_per_edit(tmp_path):
    src = reduced_copy(tmp_path / "src", keep=TUTORIAL)
    port = free_port(8000)
    command = nox_session_command(ROOT / "noxfile.py", "docs_live", root=src)
    assert command[0] == "sphinx-autobuild"
    command[0] = str(Path(sys.executable).parent / "sphinx-autobuild")
    command[command.index("--port") + 1] = str(port)
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        # the kernels `nox -s kernels` registered for this checkout
        "JUPYTER_PATH": str(ROOT / ".nox/kernels/share/jupyter"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a build writing bytecode must not count as an edit
    live = subprocess.Popen(
        command, cwd=src, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    output = Output(live.stdout)
    try:
        output.wait_for("Serving on", 1, timeout=300)  # the first build executed the page
        assert output.count("Rebuilding") == 0
        time.sleep(5)  # anything the first build left behind would be noticed by now
        assert output.count("Rebuilding") == 0, "\n".join(output.lines[-40:])

        page = src / f"{TUTORIAL}.md"
        page.write_text(
            page.read_text().replace("\n+++\n", "\nA sentence added while serving.\n\n+++\n", 1)
        )
        output.wait_for("Rebuilding", 1, timeout=30)
        output.wait_for("Serving on", 2, timeout=180)
        time.sleep(15)  # a build that triggers itself would have started again by now
        rebuilds = [
            line for line in output.lines if "Detected changes" in line or "Rebuilding" in line
        ]
        print("\n".join(rebuilds))
        assert output.count("Rebuilding") == 1, "\n".join(output.lines[-60:])
        assert f"Detected changes ({TUTORIAL}.md)" in "\n".join(rebuilds)
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/{TUTORIAL}.html", timeout=10
        ) as reply:
            assert "A sentence added while serving." in reply.read().decode()
    finally:
        os.killpg(live.pid, signal.SIGINT)
        try:
            live.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(live.pid, signal.SIGKILL)
            live.wait()
        live.stdout.close()
        output.thread.join(5)
