"""Reading the atlas pages: each section's two tabs, the answers they printed, the table's rows."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

P3, P1 = "Prefect 3", "Prefect 1 (legacy)"
ANSWER = re.compile(r"^answer: (.*)$", re.M)
ANSWER_IS = re.compile(r"answer is\s*$", re.I)
# a name in a code literal of the table: `flow.run(parameters=...)` -> "flow.run"
NAME = re.compile(r"[A-Za-z_][\w.]*")


@dataclass
class Section:
    """One section of an atlas page, as built: its code and outputs, by tab."""

    label: str
    title: str
    prose: str
    expected: list = field(default_factory=list)  # the literals the prose states
    code: dict[str, list[str]] = field(default_factory=dict)  # by tab, "" for no tab
    outputs: dict[str, list[str]] = field(default_factory=dict)
    sync_ids: list[str] = field(default_factory=list)

    def answers(self, tab: str) -> list:
        """The values of the `answer:` lines the cells of a tab printed, in page order."""
        return [
            ast.literal_eval(match[1])
            for text in self.outputs.get(tab, [])
            for match in ANSWER.finditer(text)
        ]

    def code_outside(self, tab: str) -> str:
        """The section's code, but for the code of one tab."""
        return "\n".join(src for name, srcs in self.code.items() if name != tab for src in srcs)


def section(site, docname: str, label: str) -> Section:
    """The section of a page that the label `label` (``.. _label:``) names."""
    anchor = site.article(docname).find(id=label)
    assert anchor is not None, f"{docname} has no anchor {label}"
    node = anchor if anchor.name == "section" else anchor.find_parent("section")
    found = Section(label, node.find(re.compile(r"^h\d$")).get_text().strip("#¶ \n"), "")
    paragraphs = [p for p in node.find_all("p") if not p.find_parent("div", class_="sd-tab-set")]
    found.prose = "\n".join(p.get_text() for p in paragraphs)
    for paragraph in paragraphs:
        for code in paragraph.find_all("code"):
            before = code.previous_sibling
            if isinstance(before, str) and ANSWER_IS.search(before):
                found.expected.append(ast.literal_eval(code.get_text()))
    for cell in node.select("div.cell_input, div.cell_output"):
        content = cell.find_parent("div", class_="sd-tab-content")
        tab = content.find_previous_sibling("label").get_text().strip() if content else ""
        if "cell_input" in cell["class"]:
            found.code.setdefault(tab, []).append(cell.get_text())
        else:
            found.outputs.setdefault(tab, []).append(cell.get_text())
    found.sync_ids = [label["data-sync-id"] for label in node.select("label.sd-tab-label")]
    return found


@dataclass
class Row:
    """A row of the migration table: the names it pairs and where it links."""

    prefect1: list[str]
    prefect3: list[str]
    href: str
    needs_backend: bool


def table_rows(site, docname: str = "docs/atlas/index") -> list[Row]:
    table = site.article(docname).find("table", id="atlas-table")
    assert table is not None, "the atlas has no migration table"
    rows = []
    for tr in table.select("tbody tr"):
        first, second, third = tr.find_all("td")
        rows.append(
            Row(
                prefect1=[code.get_text() for code in first.find_all("code")],
                prefect3=[code.get_text() for code in second.find_all("code")],
                href=third.find("a")["href"],
                needs_backend="need a backend" in first.get_text(),
            )
        )
    return rows


def names(literals: list[str]) -> list[str]:
    """The Python name in each code literal, by its last dotted part (``signals.SKIP`` -> SKIP)."""
    found = []
    for literal in literals:
        match = NAME.search(literal)
        if match:
            found.append(match[0].rstrip(".").rsplit(".", 1)[-1])
    return found
