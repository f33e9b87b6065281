"""Page order for a parallel build: one page per reading process, the slowest first.

Sphinx splits the pages into `-j` consecutive chunks and reads each chunk's pages one after
another in one process, so a chunk holding two slow tutorials finishes long after the rest,
and a page waits for its chunk's earlier pages even while a core is free. Read one page per
process instead, longest first (from how long each page took last time), and every process
that finishes takes the next page: the build ends about when its longest page could.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import median

from sphinx.application import Sphinx

from ..patches import sphinx_chunks
from .execution import runs_code


def longest_first(
    docnames: list[str], seconds: dict[str, float], nproc: int, last: set[str] = frozenset()
) -> list[str]:
    """`docnames` in the order that makes Sphinx start the slowest page first, then the next;
    the pages in `last` start after all others, slowest first too.

    Sphinx starts the first `nproc` tasks it is given at once and keeps the rest in a dict,
    from which `popitem()` takes the last one added whenever a process is free: so the
    first `nproc` pages come first, and the others after them, in reverse. A page without a
    time counts as the median known page.
    """
    typical = median(seconds.values()) if seconds else 0.0
    # sorted() is stable: pages of equal cost keep the order Sphinx gave them
    wanted = sorted(docnames, key=lambda doc: (doc in last, -seconds.get(doc, typical)))
    return wanted[:nproc] + wanted[nproc:][::-1]


def read_seconds(path: Path) -> dict[str, float]:
    """Page times saved by the benchmark; empty if there are none."""
    try:
        return {str(k): float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def schedule_pages(app: Sphinx, env, docnames: list[str]) -> None:
    """Read one page per process, the slowest first (Sphinx lets this hook reorder)."""
    if app.parallel > 1:
        times = app.config.pbe_page_seconds
        seconds = read_seconds(Path(app.srcdir, times)) if times else {}
        # pages without code go first: they are read while the Prefect server starts
        code = {doc for doc in docnames if runs_code(env.doc2path(doc).read_text(encoding="utf8"))}
        docnames[:] = longest_first(docnames, seconds, app.parallel, last=code)
        sphinx_chunks.one_page_per_chunk()


def end_schedule(app: Sphinx, env) -> None:
    """Undo the chunking patch if no parallel read used it (e.g. nothing was outdated)."""
    sphinx_chunks.restore_chunks()
