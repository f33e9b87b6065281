"""Parallel reading: one page per process, the slowest pages started first, no races."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import sphinx.builders
from sphinx.util.parallel import ParallelTasks, make_chunks
from support.site import build_site, kernels_option

from prefect_by_example.patches.sphinx_chunks import one_page_per_chunk, restore_chunks
from prefect_by_example.sphinxext.execution import runs_code
from prefect_by_example.sphinxext.order import longest_first, read_seconds

SECONDS = {
    "docs/registration": 20.2, "tutorials/06": 19.3, "tutorials/02": 18.5, "tutorials/04": 15.5,
    "tutorials/07": 14.4, "docs/dependencies": 12.0, "docs/storage": 9.2, "docs/flows": 8.2,
    "docs/tasks": 8.0, "tutorials/01": 7.9, "tutorials/05": 6.7, "tutorials/03": 6.3,
    "docs/api": 4.6, "docs/how": 3.8, "docs/run-locally": 0.0, "about": 0.0, "index": 0.0,
}  # fmt: skip


def started_in_order(order: list[str], nproc: int, log: Path) -> list[str]:
    """The order in which Sphinx's ParallelTasks really starts one task per page."""

    def read(doc: str) -> None:
        with log.open("a") as f:
            f.write(doc + "\n")
        time.sleep(0.05)

    tasks = ParallelTasks(nproc)
    for doc in order:
        tasks.add_task(read, doc)
    tasks.join()
    return log.read_text().split()


def test_sphinx_starts_the_slowest_pages_first(tmp_path):
    pages = [doc for doc in sorted(SECONDS) if SECONDS[doc] > 0][:9]  # no two alike
    # one process at a time: the order is Sphinx's alone, not a race between processes
    started = started_in_order(longest_first(pages, SECONDS, 1), 1, tmp_path / "log")
    assert started == sorted(pages, key=lambda doc: -SECONDS[doc])


def finish_time(chunks: list[list[str]], nproc: int, seconds: dict[str, float]) -> float:
    """When the last chunk is read if processes take the chunks in turn as they become free."""
    free = [0.0] * nproc
    for chunk in chunks:
        start = min(free)
        free[free.index(start)] = start + sum(seconds[doc] for doc in chunk)
    return max(free)


def test_longest_first_finishes_about_when_the_longest_page_could():
    for nproc in (2, 4):
        assert sorted(longest_first(sorted(SECONDS), SECONDS, nproc)) == sorted(SECONDS)
        slowest = sorted(SECONDS, key=lambda doc: -SECONDS[doc])  # the order Sphinx starts them in
        ours = finish_time([[doc] for doc in slowest], nproc, SECONDS)
        sphinx_chunks = finish_time(make_chunks(sorted(SECONDS), nproc), nproc, SECONDS)
        bound = max(sum(SECONDS.values()) / nproc, max(SECONDS.values()))
        print(
            f"-j {nproc}: Sphinx's chunks {sphinx_chunks:.1f} s, ours {ours:.1f} s, bound {bound:.1f} s"
        )
        assert ours < sphinx_chunks and ours <= 1.1 * bound


def test_unknown_pages_count_as_a_typical_page(tmp_path):
    docnames = sorted(SECONDS) + ["tutorials/08-new"]
    order = longest_first(docnames, SECONDS, len(docnames))  # all start at once: no reordering
    assert sorted(order) == docnames
    assert order.index("tutorials/08-new") == sorted(SECONDS.values(), reverse=True).index(8.0) + 1
    # nothing known: pages start in the order Sphinx gave them
    assert started_in_order(longest_first(docnames[:6], {}, 1), 1, tmp_path / "log") == docnames[:6]


def test_one_page_per_chunk_changes_only_the_next_call():
    pages = [f"page{i}" for i in range(12)]
    original = sphinx.builders.make_chunks
    one_page_per_chunk()
    assert sphinx.builders.make_chunks(pages, 4) == [[page] for page in pages]
    assert sphinx.builders.make_chunks is original  # writing keeps Sphinx's chunks
    one_page_per_chunk()
    restore_chunks()  # no parallel read happened: the next build starts as Sphinx does
    assert sphinx.builders.make_chunks is original
    assert make_chunks(pages, 4) == original(pages, 4)


@pytest.mark.sphinx("html", testroot="parallel", srcdir="parallel-order", parallel=2)
def test_a_parallel_build_reads_each_page_in_a_process_of_its_own(app):
    app.build()
    read = [line.split() for line in (app.srcdir / "read.log").read_text().splitlines()]
    pages = [f"page{i}" for i in range(8)]
    assert sorted(doc for doc, _, _ in read) == sorted(["index", *pages])
    pids = {pid for _, pid, _ in read}
    assert len(pids) == len(read) and str(os.getpid()) not in pids
    assert {doc for doc, _, _ in read[:2]} == {"page3", "page5"}  # the slow ones, first
    # jupyter-cache's database was made before the processes forked: they never race to make it
    assert {cache_made for _, _, cache_made in read} == {"True"}
    assert sphinx.builders.make_chunks is make_chunks


def test_read_seconds_tolerates_a_missing_or_broken_file(tmp_path):
    assert read_seconds(tmp_path / "missing.json") == {}
    (tmp_path / "broken.json").write_text("{not json")
    assert read_seconds(tmp_path / "broken.json") == {}
    (tmp_path / "ok.json").write_text('{"docs/tasks": 8}')
    assert read_seconds(tmp_path / "ok.json") == {"docs/tasks": 8.0}


def test_pages_that_need_the_server_start_after_those_that_do_not(tmp_path):
    pages = sorted(SECONDS)
    code = {doc for doc in pages if SECONDS[doc] > 4}
    started = started_in_order(longest_first(pages, SECONDS, 1, last=code), 1, tmp_path / "log")
    no_code = [doc for doc in pages if doc not in code]
    assert set(started[: len(no_code)]) == set(no_code)
    assert started[len(no_code) :] == sorted(code, key=lambda doc: -SECONDS[doc])


def test_runs_code_finds_cells_of_both_kinds():
    assert runs_code("# T\n\n```{code-cell} ipython3\nprint(1)\n```\n")
    assert runs_code("T\n=\n\n.. tab-set::\n\n   .. jupyter-execute::\n\n      print(1)\n")
    assert not runs_code("T\n=\n\n.. code-block:: python\n\n   print(1)\n\n```python\nx\n```\n")
    assert not runs_code("Text that names jupyter-execute:: and {code-cell} in passing.\n")


def test_a_page_that_runs_alone_runs_while_no_other_page_runs_code(tmp_path, rootdir):
    src = tmp_path / "site"
    shutil.copytree(rootdir / "test-run-alone", src)
    site = build_site(src, tmp_path / "out", *kernels_option())
    assert site.returncode == 0, site.console[-3000:]
    times = {}
    for line in (src / "times.log").read_text().splitlines():
        page, started, ended = line.split()
        times[page] = (float(started), float(ended))
    assert sorted(times) == ["alone", *(f"busy{n}" for n in range(1, 8))]
    alone = times.pop("alone")
    # busy pages overlap each other (four reading processes), but none overlaps the alone page
    assert any(
        a[0] < b[1] and b[0] < a[1] for a in times.values() for b in times.values() if a != b
    )
    for started, ended in times.values():
        assert ended <= alone[0] or started >= alone[1]
