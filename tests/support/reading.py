"""Reading a built site: a page's text, its executed outputs, its pictures and their graphs."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path


class BuiltSite:
    """A site built by `sphinx-build` into a folder, with ways to read its pages."""

    def __init__(self, outdir: Path, console: str, returncode: int, started: float):
        self.outdir = outdir
        self.html = outdir / "html"
        self.home = outdir / "home"
        self.console = console
        self.returncode = returncode
        self.started = started
        self._parsed: dict[str, tuple[str, ...]] = {}

    def soup(self, docname: str):
        from bs4 import BeautifulSoup

        return BeautifulSoup((self.html / f"{docname}.html").read_text(), "html.parser")

    def article(self, docname: str):
        """The page's own content, without theme navigation (any theme's main part)."""
        soup = self.soup(docname)
        return soup.find("article") or soup.find(attrs={"role": "main"}) or soup.body

    def text(self, docname: str) -> str:
        return self.article(docname).get_text()

    def _outputs(self, docname: str) -> tuple[str, ...]:
        """The outputs of a page, parsed from its HTML once (a site is read by many tests)."""
        if docname not in self._parsed:
            divs = self.article(docname).select("div.cell_output")
            self._parsed[docname] = tuple(div.get_text() for div in divs)
        return self._parsed[docname]

    def outputs(self, docname: str) -> list[str]:
        """The text of every executed cell's output, in page order (myst-nb and jupyter-sphinx)."""
        return list(self._outputs(docname))

    def joined(self, docname: str) -> str:
        """Every executed output of a page as one text."""
        return "\n".join(self._outputs(docname))

    def output_with(self, docname: str, *parts: str) -> str:
        """The one cell output of a page that shows all the parts."""
        hits = [text for text in self._outputs(docname) if all(part in text for part in parts)]
        assert len(hits) == 1, f"{len(hits)} outputs on {docname} show {parts}"
        return hits[0]

    def json_outputs(self, docname: str) -> list:
        """Every cell output that is a JSON document, parsed."""
        texts = (output.strip() for output in self._outputs(docname))
        return [json.loads(text) for text in texts if text.startswith(("[", "{"))]

    def images(self, docname: str) -> list[Path]:
        """Files of every <img> in the page's content."""
        page = self.html / f"{docname}.html"
        return [
            (page.parent / img["src"]).resolve()
            for img in self.article(docname).find_all("img")
            if not img["src"].startswith("data:")
        ]

    def svgs(self, docname: str) -> list[str]:
        """The SVG text of every picture on a page, in page order."""
        return [path.read_text() for path in self.images(docname) if path.suffix == ".svg"]

    def svg_texts(self, docname: str) -> list[str]:
        """The words of each SVG picture on the page, joined with " | "."""
        return [
            " | ".join(
                html.unescape(label) for label in re.findall(r"<text[^>]*>([^<]*)</text>", svg)
            )
            for svg in self.svgs(docname)
        ]

    def picture(self, docname: str, *labels: str) -> str:
        """The one SVG picture on a page whose text shows all the labels."""
        # graphviz escapes characters such as "-" in SVG text: match the raw or the read text
        hits = [
            svg
            for svg in self.svgs(docname)
            if all(label in svg or label in html.unescape(svg) for label in labels)
        ]
        assert len(hits) == 1, f"{len(hits)} pictures on {docname} show {labels}"
        return hits[0]


def count_nodes(svg: str) -> int:
    return len(re.findall(r'class="node"', svg))


def edge_pairs(svg: str) -> set[str]:
    """The distinct (upstream, downstream) node pairs the picture connects."""
    return set(re.findall(r'class="edge">\s*<title>(.*?)</title>', svg))


def count_edges(svg: str) -> int:
    return len(re.findall(r'class="edge"', svg))


def named_edges(svg: str) -> set[tuple[str, str]]:
    """(upstream, downstream) pairs of node labels, also where node names are ids (Prefect 1)."""
    labels = dict(
        re.findall(r'class="node">\s*<title>(.*?)</title>.*?<text[^>]*>(.*?)</text>', svg, re.S)
    )
    pairs = set()
    for pair in edge_pairs(svg):
        upstream, _, downstream = html.unescape(pair).partition("->")
        pairs.add(
            (
                html.unescape(labels.get(upstream, upstream)),
                html.unescape(labels.get(downstream, downstream)),
            )
        )
    return pairs
