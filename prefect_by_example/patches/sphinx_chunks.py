"""Sphinx reads one page per process in a parallel build, for the next parallel read only.

Upstream: sphinx/builders/__init__.py, `Builder._read_parallel`, splits the outdated pages
with `make_chunks(docnames, nproc)` (imported from sphinx/util/parallel.py into the module
`sphinx.builders`) into chunks of up to 10 pages that one process reads one after the other.
Sphinx has no setting for the chunk size. Writing keeps Sphinx's own chunks: writing is quick.
"""

from __future__ import annotations

from . import require

DISTRIBUTION, WRITTEN_FOR = "sphinx", "==9.0.4"
UPSTREAM = "sphinx/builders/__init__.py: Builder._read_parallel's call of make_chunks"


def one_page_per_chunk() -> None:
    """Make Sphinx's next parallel read hand each process a single page."""
    require(DISTRIBUTION, WRITTEN_FOR, "sphinx_chunks.one_page_per_chunk", UPSTREAM)
    import sphinx.builders

    original = sphinx.builders.make_chunks
    if hasattr(original, "original"):
        return  # already in place for the next read

    def single_pages(arguments, nproc, maxbatch=10):
        sphinx.builders.make_chunks = original  # only this one call changes
        return [[doc] for doc in arguments]

    single_pages.original = original
    sphinx.builders.make_chunks = single_pages


def restore_chunks() -> None:
    """Put Sphinx's `make_chunks` back, if the patch is still in place."""
    import sphinx.builders

    current = sphinx.builders.make_chunks
    sphinx.builders.make_chunks = getattr(current, "original", current)
