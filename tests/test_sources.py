"""What the page sources promise: hidden setup is short and written once."""

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
