"""Page order for a parallel build: one page per reading process, the slowest first.

Sphinx splits the pages into `-j` consecutive chunks and reads each chunk's pages one after
another in one process, so a chunk holding two slow tutorials finishes long after the rest,
and a page waits for its chunk's earlier pages even while a core is free. Read one page per
process instead, longest first (from how long each page took last time), and every process
that finishes takes the next page: the build ends about when its longest page could.

A page whose point is a measurement that other pages' load would spoil (a speed-up on all
cores) says ``pbe_run_alone: true`` (in its MyST front matter, or as an rst field at its
top). It starts after every other page, and runs while no other page runs code: while read,
it holds a lock that every page with code shares.
"""

from __future__ import annotations

import fcntl
import json
import re
from pathlib import Path
from statistics import median

from sphinx.application import Sphinx

from ..patches import sphinx_chunks
from .execution import runs_code

RUN_ALONE = re.compile(r"^:?pbe_run_alone:\s*true\s*$", re.M)


def runs_alone(source: str) -> bool:
    """Whether a page asks to run while no other page runs code."""
    return bool(RUN_ALONE.search(source))


def longest_first(
    docnames: list[str],
    seconds: dict[str, float],
    nproc: int,
    last: set[str] = frozenset(),
    alone: set[str] = frozenset(),
) -> list[str]:
    """`docnames` in the order that makes Sphinx start the slowest page first, then the next;
    the pages in `last` start after all others, slowest first too, and those in `alone` last.

    Sphinx starts the first `nproc` tasks it is given at once and keeps the rest in a dict,
    from which `popitem()` takes the last one added whenever a process is free: so the
    first `nproc` pages come first, and the others after them, in reverse. A page without a
    time counts as the median known page.
    """
    typical = median(seconds.values()) if seconds else 0.0
    # sorted() is stable: pages of equal cost keep the order Sphinx gave them
    wanted = sorted(
        docnames, key=lambda doc: (doc in alone, doc in last, -seconds.get(doc, typical))
    )
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
        sources = {doc: env.doc2path(doc).read_text(encoding="utf8") for doc in docnames}
        # pages without code go first: they are read while the Prefect server starts
        code = {doc for doc, source in sources.items() if runs_code(source)}
        alone = {doc for doc, source in sources.items() if runs_alone(source)}
        docnames[:] = longest_first(docnames, seconds, app.parallel, last=code, alone=alone)
        sphinx_chunks.one_page_per_chunk()


def end_schedule(app: Sphinx, env) -> None:
    """Undo the chunking patch if no parallel read used it (e.g. nothing was outdated)."""
    sphinx_chunks.restore_chunks()


class Turns:
    """Pages with code share a lock while they are read; a page that runs alone takes it whole.

    A file lock (``flock``) beside the doctrees, so that the reading processes of a parallel
    build take turns; it is released when the page is read, or when its process ends.
    """

    def __init__(self) -> None:
        self.held = None

    def take(self, app: Sphinx, docname: str, source: list[str]) -> None:
        if app.parallel <= 1 or not runs_code(source[0]):
            return  # one page at a time anyway, or nothing to run
        handle = open(Path(app.doctreedir) / "pages-running.lock", "a")  # noqa: SIM115
        fcntl.flock(handle, fcntl.LOCK_EX if runs_alone(source[0]) else fcntl.LOCK_SH)
        self.held = handle

    def release(self, app: Sphinx, doctree) -> None:
        held, self.held = self.held, None
        if held is not None:
            held.close()  # closing the file releases its lock
