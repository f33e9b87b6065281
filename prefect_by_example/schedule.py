"""Page order for a parallel build: the slow pages spread over Sphinx's reading processes.

Sphinx reads pages in consecutive chunks, one process per chunk, in the order it is given
them; alphabetical order puts the slow tutorials side by side in one chunk, which then
finishes long after the others. Given how long each page took last time, `balanced_order`
fills the chunks longest page first, each into the chunk with the least work so far.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import median

from sphinx.util.parallel import make_chunks


def balanced_order(docnames: list[str], seconds: dict[str, float], nproc: int) -> list[str]:
    """`docnames` reordered so that Sphinx's chunks (see `make_chunks`) take similar times.

    Pages without a time count as the median known page. Sphinx runs `nproc` chunks at a
    time, so the chunks it starts later get less work.
    """
    if nproc < 2 or not seconds:
        return list(docnames)
    typical = median(seconds.values())
    cost = {d: seconds.get(d, typical) for d in docnames}
    sizes = [len(chunk) for chunk in make_chunks(docnames, nproc)]
    chunks: list[list[str]] = [[] for _ in sizes]
    # a chunk beyond the first nproc starts once an earlier one is done: count it as loaded
    share = sum(cost.values()) / nproc
    totals = [(i // nproc) * share for i in range(len(sizes))]
    for doc in sorted(docnames, key=lambda d: (-cost[d], d)):
        open_ = [i for i, size in enumerate(sizes) if len(chunks[i]) < size]
        best = min(open_, key=lambda i: (totals[i], i))
        chunks[best].append(doc)
        totals[best] += cost[doc]
    # heaviest first among chunks of one size: sizes must stay where make_chunks puts them
    order = sorted(range(len(chunks)), key=lambda i: (-sizes[i], -totals[i]))
    return [doc for i in order for doc in chunks[i]]


def read_seconds(path: Path) -> dict[str, float]:
    """Page times saved by the benchmark; empty if there are none."""
    try:
        return {str(k): float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}
