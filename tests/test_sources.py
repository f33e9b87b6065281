"""What the page sources promise: hidden setup is short and written once; code proves claims."""

from __future__ import annotations

import re
from itertools import combinations

import jupytext
import pytest
from support.site import ROOT

PAGES = sorted(
    p
    for pattern in ("docs/*.rst", "docs/*.md", "docs/atlas/*.rst", "tutorials/*.md")
    for p in ROOT.glob(pattern)
)
HIDDEN_TAGS = {"remove-cell"}
RST_CELL = re.compile(r"^( *)\.\. jupyter-execute::\n((?:\1   .*\n|\n)*)", re.M)


def code_lines(code: str) -> list[str]:
    """The lines that do something: no blank lines, no comments."""
    lines = (line.strip() for line in code.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def hidden_cells(path) -> list[list[str]]:
    """The code of each setup cell: one whose code and output a reader does not see."""
    text = path.read_text()
    if path.suffix == ".rst":
        cells = []
        for match in RST_CELL.finditer(text):
            options, _, code = match[2].partition("\n\n")
            if ":hide-code:" in options and ":hide-output:" in options:
                cells.append(code_lines(code))
        return cells
    if not text.startswith("---") or "jupytext" not in text.split("---", 2)[1]:
        return []  # a plain MyST page, not a notebook
    notebook = jupytext.reads(text, fmt="md:myst")
    return [
        code_lines(cell.source)
        for cell in notebook.cells
        if cell.cell_type == "code" and HIDDEN_TAGS & set(cell.metadata.get("tags", []))
    ]


def runs(lines: list[str], length: int) -> set[tuple[str, ...]]:
    return {tuple(lines[i : i + length]) for i in range(len(lines) - length + 1)}


def test_pages_have_hidden_setup_cells_to_check():
    assert sum(len(hidden_cells(page)) for page in PAGES) >= 5


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hidden_setup_cells_are_a_few_lines(page):
    for cell in hidden_cells(page):
        assert len(cell) <= 6, f"a hidden cell of {len(cell)} lines: move it into a page helper"


def test_no_hidden_block_of_five_lines_stands_on_two_pages():
    blocks = {page: set().union(*map(lambda c: runs(c, 5), hidden_cells(page))) for page in PAGES}
    for first, second in combinations(PAGES, 2):
        shared = blocks[first] & blocks[second]
        assert not shared, f"{first.name} and {second.name} share hidden lines: {shared}"


# --------------------------------------------------------------------- asserted claims

TOCTREE = re.compile(r"```\{toctree\}\n(.*?)```", re.S)
ASSERTION = re.compile(r"^\s*(assert\b.*|raise AssertionError\b.*)$", re.M)


def toctree_pages() -> list:
    """The pages the home page's toctrees list, as paths of their sources."""
    index = (ROOT / "index.md").read_text()
    names = [
        line.strip()
        for block in TOCTREE.findall(index)
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith(":")
    ]
    pages = []
    for name in names:
        [source] = [p for p in (ROOT / f"{name}.rst", ROOT / f"{name}.md") if p.exists()]
        pages.append(source)
    return pages


def executed_cells(path) -> list[str]:
    """The code of every cell the build executes on a page."""
    text = path.read_text()
    if path.suffix == ".rst":
        return [match[2].partition("\n\n")[2] for match in RST_CELL.finditer(text)]
    if not text.startswith("---") or "jupytext" not in text.split("---", 2)[1]:
        return []
    notebook = jupytext.reads(text, fmt="md:myst")
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def asserted_claims(path) -> list[str]:
    """What a page's executed cells assert: each assert statement's first line."""
    return [
        " ".join(claim.split())
        for code in executed_cells(path)
        for claim in ASSERTION.findall(code)
    ]


def test_the_toctree_lists_pages_with_code():
    assert sum(bool(executed_cells(page)) for page in toctree_pages()) >= 10


@pytest.mark.parametrize("page", toctree_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_page_that_runs_code_asserts_what_it_shows(page):
    """A page whose code runs proves its claims: at least one cell asserts, and the claims are
    listed (run with -s to read them)."""
    cells = executed_cells(page)
    if not cells:
        pytest.skip("no executed code")
    claims = asserted_claims(page)
    print(f"\n{page.relative_to(ROOT)}: {len(cells)} executed cells, {len(claims)} assertions")
    for claim in claims:
        print("   ", claim)
    assert claims, f"{page.name} runs {len(cells)} cells and asserts nothing"
