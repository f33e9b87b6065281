"""The API page: the first paragraph of each Prefect docstring, not its Markdown."""

from __future__ import annotations

from sphinx.application import Sphinx


def docstring_summary(app, what, name, obj, options, lines: list[str]) -> None:
    """Keep the first paragraph of a Prefect docstring on the API page.

    Prefect writes its docstrings in Markdown, which reStructuredText cannot read; the summary
    is plain prose, and the full text is one link away in Prefect's own reference.
    """
    if name.startswith(("prefect.", "prefect_dask.")):
        blank = lines.index("") if "" in lines else len(lines)
        lines[blank:] = []


def connect_autodoc(app: Sphinx, config) -> None:
    """Shorten Prefect's docstrings on the API page, when the site uses autodoc."""
    if "sphinx.ext.autodoc" in app.extensions:
        app.connect("autodoc-process-docstring", docstring_summary)
