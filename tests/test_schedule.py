"""balanced_order(): the slow pages spread over the chunks Sphinx reads side by side."""

from __future__ import annotations

from sphinx.util.parallel import make_chunks

from prefect_by_example.schedule import balanced_order, read_seconds

SECONDS = {
    "docs/registration": 20.2, "tutorials/06": 19.3, "tutorials/02": 18.5, "tutorials/04": 15.5,
    "tutorials/07": 14.4, "docs/dependencies": 12.0, "docs/storage": 9.2, "docs/flows": 8.2,
    "docs/tasks": 8.0, "tutorials/01": 7.9, "tutorials/05": 6.7, "tutorials/03": 6.3,
    "docs/api": 4.6, "docs/how": 3.8, "docs/run-locally": 0.0, "about": 0.0, "index": 0.0, "404": 0.0,
}  # fmt: skip


def finish_time(order: list[str], nproc: int, seconds: dict[str, float]) -> float:
    """When the last chunk is done if `nproc` processes take Sphinx's chunks in turn."""
    free = [0.0] * nproc
    for chunk in make_chunks(order, nproc):
        start = min(free)
        free[free.index(start)] = start + sum(seconds[d] for d in chunk)
    return max(free)


def test_every_page_is_read_once():
    order = balanced_order(sorted(SECONDS), SECONDS, 4)
    assert sorted(order) == sorted(SECONDS)


def test_balanced_order_finishes_sooner_than_alphabetical():
    for nproc in (2, 4):
        alphabetical = finish_time(sorted(SECONDS), nproc, SECONDS)
        balanced = finish_time(balanced_order(sorted(SECONDS), SECONDS, nproc), nproc, SECONDS)
        ideal = sum(SECONDS.values()) / nproc
        print(f"-j {nproc}: alphabetical {alphabetical:.1f} s, balanced {balanced:.1f} s, ideal {ideal:.1f} s")
        assert balanced < alphabetical
        assert balanced <= 1.15 * max(ideal, max(SECONDS.values()))


def test_unknown_pages_count_as_a_typical_page_and_serial_builds_keep_the_order():
    docnames = sorted(SECONDS) + ["tutorials/08-new"]
    order = balanced_order(docnames, SECONDS, 4)
    assert sorted(order) == docnames
    assert balanced_order(docnames, SECONDS, 1) == docnames
    assert balanced_order(docnames, {}, 4) == docnames


def test_read_seconds_tolerates_a_missing_or_broken_file(tmp_path):
    assert read_seconds(tmp_path / "missing.json") == {}
    (tmp_path / "broken.json").write_text("{not json")
    assert read_seconds(tmp_path / "broken.json") == {}
    (tmp_path / "ok.json").write_text('{"docs/tasks": 8}')
    assert read_seconds(tmp_path / "ok.json") == {"docs/tasks": 8.0}
