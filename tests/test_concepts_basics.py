"""The basic concept pages teach what they claim: read back from the executed pages."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from support.reading import count_edges, count_nodes, edge_pairs, named_edges

# the name of a picture a page's code wrote into images/: <what>-<sha1>.svg
KERNEL_IMAGE = re.compile(r"(?!flowgraph-)[a-z0-9-]+-[0-9a-f]{40}\.svg")
PAGES = ["docs/how-prefect-works", "docs/tasks", "docs/flows", "docs/dependencies"]


# --------------------------------------------------------------------- every page


@pytest.mark.parametrize("docname", PAGES)
def test_page_output_is_stable_and_names_no_temporary_things(site, docname):
    text = site.joined(docname)
    assert text.strip(), f"{docname} shows no executed output"
    assert "/tmp/" not in text and "ipykernel_" not in text
    assert "Traceback (most recent call last):\n  File" not in text  # logged tracebacks
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", text), "a UUID"
    assert not re.search(r"0x[0-9a-f]{8,}", text), "a memory address"
    # a run Prefect named itself, e.g. 'add-475' or 'crimson-otter'
    assert not re.search(r"(Task|Flow) run '[a-z_]+-[0-9a-f]{3}'", text)


@pytest.mark.parametrize("docname", PAGES)
def test_pictures_have_white_backgrounds_and_stable_node_names(site, docname):
    for path in site.images(docname):
        if path.suffix != ".svg":
            continue
        svg = path.read_text()
        assert re.search(r'<polygon fill="(white|#ffffff)"', svg), "transparent picture"
        # Prefect 1 names nodes by id(): the pages' inline pictures draw them by name; the
        # files its flow.visualize(filename=...) writes into images/ keep Prefect 1's names
        if not KERNEL_IMAGE.fullmatch(path.name):
            assert not re.search(r"<title>\d{6,}", svg), path.name


@pytest.mark.parametrize("docname", PAGES)
def test_prefect_1_and_3_code_sit_side_by_side_in_synced_tabs(site, docname):
    labels = [
        label.get_text().strip() for label in site.article(docname).select("label.sd-tab-label")
    ]
    assert labels and labels.count("Prefect 3") == labels.count("Prefect 1 (legacy)")


# --------------------------------------------------------------------- how Prefect works


def test_how_prefect_works_draws_both_architectures(site):
    p3 = site.picture("docs/how-prefect-works", "Prefect 3", "work pool")
    assert all(part in p3 for part in ("worker", "deployment", "flow.deploy()"))
    p1 = site.picture("docs/how-prefect-works", "Prefect 1", "Agent")
    assert all(part in p1 for part in ("Storage", "flow.register()"))


def test_how_prefect_works_runs_steps_1_and_2_in_both_versions(site):
    text = site.joined("docs/how-prefect-works")
    assert "Task run 'say-hello' - Hello, Prefect!" in text
    assert "Flow run 'hello' - Finished in state Completed()" in text
    assert "prefect.say_hello | Hello, Cloud!" in text
    assert "Flow run SUCCESS" in text


# --------------------------------------------------------------------- tasks


def test_tasks_run_when_called_in_prefect_3_but_build_a_graph_in_prefect_1(site):
    text = site.joined("docs/tasks")
    assert "Task run 'add-1-2' - Finished in state Completed()" in text
    assert "inside the with block: <Task: add>" in text


def test_prefect_1_style_task_class_fails_and_fn_self_run_works(site):
    text = site.joined("docs/tasks")
    assert "TypeError: Task.__init__() missing 1 required positional argument: 'fn'" in text
    assert "Task run 'triple-2' - Finished in state Completed()" in text
    assert "Flow run 'tripled' - Finished in state Completed()" in text


def test_flaky_task_completes_on_its_second_attempt(site):
    outputs = site.outputs("docs/tasks")
    p3 = next(o for o in outputs if "fetch-with-retries" in o and "INFO    |" in o)
    assert "ConnectionError('attempt 1: no answer') - Retry 1/2" in p3
    assert "Task run 'fetch-page' - Finished in state Completed()" in p3
    assert "completed after 2 attempts" in p3
    p1 = next(o for o in outputs if "fetch-with-retries" in o and "prefect.FlowRunner" in o)
    assert "final state: 'Retrying'" in p1 and "final state: 'Success'" in p1
    assert "completed after 2 attempts" in p1


def test_fn_and_run_call_the_plain_function(site):
    outputs = [o.strip() for o in site.outputs("docs/tasks")]
    assert outputs[-2:] == ["3", "3"]


# --------------------------------------------------------------------- flows


def test_flows_run_and_draw_in_both_versions(site):
    text = site.joined("docs/flows")
    assert "Flow run 'hello' - Finished in state Completed()" in text
    assert "Hello, Cloud!" in text and "Flow run SUCCESS" in text
    p3 = site.picture("docs/flows", "hello-flow", "say_hello")
    assert count_nodes(p3) == 1
    p1 = site.picture("docs/flows", "<title>say_hello</title>")
    assert count_nodes(p1) == 1


def test_states_say_whether_the_run_worked(site):
    text = site.joined("docs/flows")
    assert "Completed 6" in text  # state.is_completed() held; await state.result() == 6
    assert "Success 6" in text  # state.is_successful() held; the task's result is 6


def test_failing_flow_has_a_failed_state_and_shows_where_it_broke(site):
    text = site.joined("docs/flows")
    assert "Failed - Flow run encountered an exception: ZeroDivisionError" in text
    assert "ratio_report() raised ZeroDivisionError: division by zero" in text
    assert "Failed - Some reference tasks failed." in text
    assert "Task 'report': Finished task run for task with final state: 'TriggerFailed'" in text
    run = site.picture("docs/flows", "ratio-report", "Failed")
    assert count_nodes(run) == 2 and "report" not in html.unescape(run).replace("ratio-report", "")
    legacy = site.picture("docs/flows", "<title>report</title>")
    assert count_nodes(legacy) == 3 and count_edges(legacy) == 2


# --------------------------------------------------------------------- dependencies


def test_data_dependencies_and_wait_for_edges(site):
    text = site.joined("docs/dependencies")
    assert "Task run 'insert-rows' - Finished in state Completed()" in text
    etl = site.picture("docs/dependencies", ">etl<", "numbers")
    assert count_nodes(etl) == 3 and count_edges(etl) == 2
    waits = site.picture("docs/dependencies", "fill-table", "wait_for")
    assert count_nodes(waits) == 2 and count_edges(waits) == 1


def test_futures_and_map(site):
    text = site.joined("docs/dependencies")
    assert "Task run 'fetch-Paris' - Finished in state Completed()" in text
    assert all(f"Task run 'scale-{x}' - Finished" in text for x in (1, 2, 3))
    assert "Task 'scale[2]': Finished task run" in text
    mapped = site.picture("docs/dependencies", "scale-and-add")
    assert "×3" in mapped


def test_imperative_prefect_1_flow_has_three_nodes_two_edges_and_succeeds(site):
    text = site.joined("docs/dependencies")
    assert "3 tasks, 2 edges" in text
    assert "constants of TrainModel: {'data_dir': 'data', 'model_dir': 'models'}" in text
    # drawn into images/ by flow.visualize(filename=...), as the old guide did
    [legacy] = [
        p for p in site.images("docs/dependencies") if p.name.startswith("imperative-flow-")
    ]
    assert KERNEL_IMAGE.fullmatch(legacy.name)
    svg = legacy.read_text()
    assert count_nodes(svg) == 3 and count_edges(svg) == 2
    assert named_edges(svg) == {("DownloadDataset", "TrainModel"), ("TrainModel", "EvaluateModel")}
    assert "Flow run SUCCESS: all reference tasks succeeded" in text
    assert "{'test_points': 2, 'mean_abs_error': 0.476}" in text


def test_the_same_pipeline_in_prefect_3(site):
    text = site.joined("docs/dependencies")
    for run in ("imperative-port", "imperative-spec", "train-and-evaluate"):
        assert f"Flow run '{run}' - Finished in state Completed()" in text
    # the metrics match the Prefect 1 run's: the same pipeline
    assert text.count("{'test_points': 2, 'mean_abs_error': 0.476}") == 2
    static = site.picture("docs/dependencies", "My Imperative Flow", "download_dataset")
    assert count_nodes(static) == 3 and count_edges(static) == 2 and "wait_for" in static
    for name in ("My Imperative Flow", "imperative-spec"):
        run = site.picture("docs/dependencies", name, " · Completed")
        # download -> train -> evaluate in order; the spec port also passes data_dir along
        assert count_nodes(run) == 3 and "wait_for" in run
        assert {"r1&#45;&gt;r2", "r2&#45;&gt;r3"} <= edge_pairs(run)
    data = site.picture("docs/dependencies", "train-and-evaluate", "Completed")
    assert count_nodes(data) == 3 and count_edges(data) == 3
    assert "wait_for" not in data and "model_dir" in data


def test_page_links_point_at_pages_that_exist(site):
    for docname in PAGES:
        for link in site.article(docname).select("a.reference.internal"):
            target = link["href"].split("#")[0]
            if target:
                assert (site.html / Path(docname).parent / target).resolve().exists(), target
