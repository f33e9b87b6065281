"""Tutorials 5-7 teach what they claim: experiment logging, testing flows, scaling out on Dask."""

from __future__ import annotations

import re

import pytest

LOGGING = "tutorials/05-log-experiments-inside-flows"
TESTING = "tutorials/06-test-flows-without-the-orchestrator"
DASK = "tutorials/07-scale-out-on-dask"

# what must never reach a page: temporary or absolute paths, addresses, times of day
UNSTABLE = [
    (r"/tmp/|/home/|/root/|site-packages", "a path"),
    (r"tcp://|127\.0\.0\.1:\d+|localhost:\d+", "an address"),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d", "a timestamp"),
    (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "a UUID"),
    (r"Traceback \(most recent call last\)", "a traceback"),
]


@pytest.mark.parametrize("docname", [LOGGING, TESTING, DASK])
def test_outputs_are_stable(site, docname):
    text = site.joined(docname)
    for pattern, what in UNSTABLE:
        match = re.search(pattern, text)
        assert match is None, f"{docname} shows {what}: {match.group(0)!r}"


@pytest.mark.parametrize(("docname", "pictures"), [(LOGGING, 3), (TESTING, 3), (DASK, 3)])
def test_pages_show_their_graphs(site, docname, pictures):
    # flow graphs, run graphs, the legacy graph and the Dask timeline are image files
    images = site.images(docname)
    assert len(images) >= pictures
    assert all(image.exists() and image.stat().st_size > 0 for image in images)


# --------------------------------------------------------------------------- tutorial 5


def test_legacy_environment_is_prefect_1_with_lazyscribe_1(site):
    assert "legacy environment: prefect 1.4.1 + lazyscribe 1.2.0" in site.joined(LOGGING)


def test_legacy_example_as_written_fails_for_want_of_an_author(site):
    text = site.joined(LOGGING)
    assert "ValueError: Please supply a valid author." in text
    assert "flow run succeeded: False" in text
    assert (
        "Task 'Append experiment': Finished task run for task with final state: 'TriggerFailed'"
        in text
    )


def test_legacy_example_with_an_author_logs_the_metric(site):
    text = site.joined(LOGGING)
    assert "flow run succeeded: True" in text
    for task in ("My experiment", "Log experiment metric", "Append experiment", "Save project"):
        assert f"Task '{task}': Finished task run for task with final state: 'Success'" in text
    legacy = next(doc for doc in site.json_outputs(LOGGING) if isinstance(doc, list))
    assert [e["name"] for e in legacy] == ["My experiment"]
    assert legacy[0]["metrics"] == {"build_time": "10M"}
    assert legacy[0]["author"] == "tutorial"
    assert not {"created_at", "last_updated", "slug"} & set(legacy[0])


def test_modern_project_has_three_experiments_with_metrics(site):
    text = site.joined(LOGGING)
    assert "Flow run 'compare-degrees' - Finished in state Completed()" in text
    for degree in (1, 3, 9):
        assert f"Task run 'log-degree-{degree}' - Finished in state Completed()" in text
    # saved once, after every experiment was logged
    assert text.count("Task run 'save-project' - Finished in state Completed()") == 1
    assert text.index("Task run 'log-degree-9'") < text.index("Task run 'save-project'")

    shown = next(doc for doc in site.json_outputs(LOGGING) if isinstance(doc, dict))
    assert shown["name"] == "degree-1" and shown["parameters"] == {"degree": 1}
    assert set(shown["metrics"]) == {"train_rmse", "test_rmse"}
    assert not {"created_at", "last_updated", "slug"} & set(shown)

    table = re.findall(r"^(degree-\d)\s+([\d.]+)\s+([\d.]+)$", text, flags=re.M)
    assert [row[0] for row in table] == ["degree-1", "degree-3", "degree-9"]
    assert "best on the test points: degree-3" in text
    # an experiment whose block raised is not appended
    assert "the block raised: the fit did not converge\nexperiments in the project: 0" in text


# --------------------------------------------------------------------------- tutorial 6


def test_plain_functions_and_final_states(site):
    text = site.joined(TESTING)
    assert "mean of 10 and 14: 12.0" in text
    assert "refused: day 2: 1 impossible reading(s)" in text
    assert "state: COMPLETED | result: {1: 13.0, 2: 14.0, 3: 15.0}" in text
    assert "state: FAILED | error: ValueError('day 2: 1 impossible reading(s)')" in text


def test_a_task_that_logs_needs_disable_run_logger_under_fn(site):
    text = site.joined(TESTING)
    assert "MissingContextError: There is no active flow or task run context." in text
    assert "with disable_run_logger(): 12.0; the logger: 'null', off: True" in text
    assert "importing prefect.testing.utilities loads Prefect's server code: True" in text


def test_without_an_api_only_plain_functions_run(site):
    text = site.joined(TESTING)
    assert "daily_mean.fn: 12.0" in text
    assert "weather_report: No Prefect API URL provided." in text
    assert "weather_report.fn: No Prefect API URL provided." in text
    assert "plain functions: {1: 13.0, 2: 14.0, 3: 15.0}" in text


def test_pytest_run_inside_the_page_passed_six_tests(site):
    text = site.joined(TESTING)
    results = re.findall(r"^test_weather\.py::(\w+) (PASSED|FAILED|ERROR)", text, flags=re.M)
    assert len(results) == 6
    assert {outcome for _, outcome in results} == {"PASSED"}
    assert "test_the_server_recorded_the_run" in dict(results)
    assert re.search(r"=+ 6 passed =+", text)


def test_cached_task_is_served_from_its_file(site):
    text = site.joined(TESTING)
    assert "first run:  ['Completed', 'Cached']" in text
    assert "result files: 1" in text
    assert "second run: ['Cached', 'Cached']" in text


# --------------------------------------------------------------------------- tutorial 7


def test_threads_ran_in_one_process_dask_in_two(site):
    text = site.joined(DASK)
    assert re.findall(r"processes that computed: (\d+)", text) == ["1", "2"]
    assert "Flow run 'collatz-on-dask' - Finished in state Completed()" in text


def test_both_runners_found_the_same_answer(site):
    answers = re.findall(r"longest chain below 400,000: (n=\d+, \d+ steps)", site.joined(DASK))
    assert answers == ["n=230631, 442 steps"] * 2


def test_waiting_tasks_share_threads_and_what_dask_cannot_pickle(site):
    text = site.joined(DASK)
    assert "two tasks that wait 1 s each, on threads: done in under 1.5 s: True" in text
    assert "threads: Completed, returned 6" in text
    assert "dask:    Failed, because TypeError: cannot pickle '_thread.lock' object" in text


def test_timings_are_shown_rounded(site):
    text = site.joined(DASK)
    rows = dict(
        (name, (float(run), float(computing), float(cpu)))
        for name, run, computing, cpu in re.findall(
            r"^(threads|dask)\s+(\d+\.\d)s\s+(\d+\.\d)s\s+(\d+\.\d)s$", text, flags=re.M
        )
    )
    assert set(rows) == {"threads", "dask"}
    for run, computing, cpu in rows.values():
        assert 0 < computing <= run and cpu > 0
    # the sentence beside the table: threads never beat their CPU time, Dask computed in
    # under four fifths of the threads' time
    [(threads, dask)] = re.findall(
        r"computing / CPU in tasks:  threads (\d\.\d\d), dask (\d\.\d\d)", text
    )
    assert float(threads) >= 0.95 and float(dask) <= 0.8  # as printed: rounded
    [share] = re.findall(r"dask computed in (\d+)% of the threads' time", text)
    assert int(share) <= 80


def test_the_cluster_was_started_and_closed(site):
    text = site.joined(DASK)
    assert "workers: 2" in text
    assert "cluster: closed" in text
    assert any(image.suffix == ".png" for image in site.images(DASK))  # the timeline
