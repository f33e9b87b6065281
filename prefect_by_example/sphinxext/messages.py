"""Warnings of the extension: one type, ``pbe``, with a named subtype per kind of problem.

``suppress_warnings = ["pbe.flow-graph"]`` in conf.py silences one kind; with ``-W`` every
other one fails the build, naming the page (and line, where there is one).
"""

from __future__ import annotations

from sphinx.util import logging

logger = logging.getLogger("prefect_by_example")

WARNING_TYPE = "pbe"
# subtype -> what it reports
SUBTYPES = {
    "cell-error": "a jupyter-execute cell raised an exception it is not marked to raise",
    "split": "jupyter-sphinx split a page's cells in a way the kernel sessions did not expect",
    "flow-graph": "a flow-graph directive could not trace or draw its flow",
    "image": "an image a page's code should have written is missing",
    "download": "what the site ships for readers (the wheel) is missing or stale",
}


def warn(message: str, subtype: str, location=None) -> None:
    """Log a warning of type ``pbe.<subtype>`` at `location` (a docname, node or (doc, line))."""
    if subtype not in SUBTYPES:
        raise ValueError(f"unknown warning subtype {subtype!r}: add it to SUBTYPES")
    logger.warning(message, location=location, type=WARNING_TYPE, subtype=subtype)
