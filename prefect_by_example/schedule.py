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


def one_page_per_chunk() -> None:
    """Make Sphinx's next parallel read hand each process a single page.

    Only that one call changes (`restore_chunks` undoes it if no parallel read happens): Sphinx
    writes pages in its own chunks, as writing is quick.
    """
    import sphinx.builders

    original = sphinx.builders.make_chunks

    def single_pages(arguments, nproc, maxbatch=10):
        sphinx.builders.make_chunks = original
        return [[doc] for doc in arguments]

    single_pages.original = original
    sphinx.builders.make_chunks = single_pages


def restore_chunks() -> None:
    import sphinx.builders

    current = sphinx.builders.make_chunks
    sphinx.builders.make_chunks = getattr(current, "original", current)


def read_seconds(path: Path) -> dict[str, float]:
    """Page times saved by the benchmark; empty if there are none."""
    try:
        return {str(k): float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}
