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
    assert outputs.count("3") == 2  # add.fn(1, 2) and Prefect 1's add.run(1, 2)


def test_a_task_that_fails_for_good_fails_its_flow_and_prefect_1_wanted_a_delay(site):
    text = site.joined("docs/tasks")
    assert "Failed - Flow run encountered an exception: ConnectionError: no answer" in text
    assert "Task run 'never-answers' - Task run failed with exception" in text
    assert "ValueError: A datetime.timedelta `retry_delay` must be provided" in text


def test_a_task_called_outside_a_flow(site):
    text = site.joined("docs/tasks")
    # prefect 3: a task run of its own, on the server; its logs are not sent
    assert "task run 'add-1-2' on the server: Completed" in text
    assert "warning: Logger 'prefect.task_runs' attempted to send logs to the API" in text
    assert "Task run 'double-sum-1-2' - Finished in state Completed()" in text
    # prefect 1: an error pointing at .run()
    flat = " ".join(text.split())
    assert "ValueError: Could not infer an active Flow context" in flat
    assert "you need to call `add.run(...)`" in flat


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


def test_prefect_3_visualize_in_a_notebook(site):
    text = site.joined("docs/flows")
    assert site.output_with("docs/flows", "coroutine").strip().endswith("coroutine")
    out = site.output_with("docs/flows", "then ran: xdg-open")
    assert "returned: None" in out and "wrote: ['hello-flow.png']" in out
    assert "then ran: xdg-open hello-flow.png" in out
    assert "warning: `flow.visualize()` will execute code inside of your flow" in out
    missing = site.output_with("docs/flows", "no dot:")
    assert "no dot: GraphvizExecutableNotFoundError: It appears you do not have Graphviz" in missing
    assert "dot, no viewer: FlowVisualizationError: Something went wrong" in missing
    assert missing.count("hello-flow.png written: False") == 1
    assert missing.count("hello-flow.png written: True") == 1
    # the PNG it wrote, embedded from images/ under a hashed name
    pngs = [p for p in site.images("docs/flows") if p.name.startswith("hello-flow-")]
    assert len(pngs) == 1 and pngs[0].read_bytes()[:4] == b"\x89PNG"
    # prefect 1: a file, and no viewer
    assert "returned: Digraph" in text and "wrote: ['hello-flow-1.png']" in text
    assert "viewer started: False" in text


def test_failures_the_flow_does_not_see(site):
    text = site.joined("docs/flows")
    assert "fire-and-forget: flow run Completed, task runs ['Failed']" in text
    assert "submit-and-wait: flow run Completed, task runs ['Failed']" in text
    assert (
        "ask-for-the-result: Failed - Flow run encountered an exception: ConnectionError: "
        "no mail server for team@example.org" in text
    )
    assert "return-the-future: Failed - 1/1 states failed." in text
    assert "catch-it: Completed, returned 'kept for later: no mail server" in text
    assert "look-at-the-state: Completed, returned 'not sent: Failed'" in text
    assert "clean-up-anyway: Completed, returned 'closed after ConnectionError'" in text
    # a task whose input failed never runs: called, it returns None and the flow completes
    assert "called: flow run Completed, returned None" in text
    assert "task runs: [('send-report', 'Failed'), ('close_connection', 'NotReady')]" in text
    assert "submitted: flow run Failed - Flow run encountered an exception: UnfinishedRun" in text
    run = site.picture("docs/flows", "submit-and-wait", "Failed")
    assert count_nodes(run) == 1 and "Completed" in run
    # prefect 1: a cleanup task at the end makes the run a success; a reference task fails it
    legacy = site.output_with("docs/flows", "close_connection: closed after ConnectionError")
    assert "Success - All reference tasks succeeded." in legacy and "send_report: Failed" in legacy


# --------------------------------------------------------------------- dependencies


def test_data_dependencies_and_wait_for_edges(site):
    text = site.joined("docs/dependencies")
    assert "Task run 'insert-rows' - Finished in state Completed()" in text
    # the etl flow's own picture (etl-and-announce draws it again, as a subflow)
    [etl] = [
        svg
        for svg in site.svgs("docs/dependencies")
        if ">etl<" in svg and "numbers" in svg and "announce" not in svg
    ]
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


def test_what_prefect_3_visualize_draws_of_each_dependency(site):
    text = site.joined("docs/dependencies")
    assert (
        "data       etl: nodes ['extract-0', 'transform-0', 'load-0'], edges "
        "[('extract-0', 'transform-0'), ('transform-0', 'load-0')]" in text
    )
    assert (
        "wait_for   fill-table-called: nodes ['create_table-0', 'insert_rows-0'], edges []" in text
    )
    assert (
        "subflow    etl-and-announce: nodes ['etl-0', 'announce-0'], edges "
        "[('etl-0', 'announce-0')]" in text
    )
    assert ".submit()  two-cities: RuntimeError: Unable to determine task runner" in text
    assert ".map()     scale-and-add: VisualizationUnsupportedError: `task.map()` is not" in text
    [png] = [p for p in site.images("docs/dependencies") if p.name.startswith("etl-and-announce-")]
    assert png.read_bytes()[:4] == b"\x89PNG"
    # this site's picture of the same flow draws the subflow's tasks inside a box
    ours = site.picture("docs/dependencies", "etl-and-announce", "announce")
    assert all(name in ours for name in ("extract", "transform", "load"))
    # prefect 1 drew the upstream_tasks edges and the map
    legacy = site.picture("docs/dependencies", "<title>insert_rows</title>", "add_up")
    assert count_edges(legacy) >= 3


def test_how_prefect_works_says_where_its_log_lines_come_from(site):
    text = site.joined("docs/how-prefect-works")
    assert "the site's logging settings: prefect_by_example's logging.yml" in text
    out = site.output_with("docs/how-prefect-works", "Prefect's defaults, on stderr:")
    assert "<time> | INFO    | Task run 'say-hello' - Hello, Prefect!" in out
    assert "logging.yml, on stdout:\n  INFO    | Flow run 'hello' - Beginning flow run" in out
    assert "\x1b[" not in out
    assert "\nPREFECT__LOGGING__FORMAT: %(levelname)s - %(name)s | %(message)s" in text
    assert "Prefect 1's default: [%(asctime)s] %(levelname)s - %(name)s | %(message)s" in text
    assert "PREFECT_LOGGING_SETTINGS_PATH=" in site.text("docs/how-prefect-works")


def test_page_links_point_at_pages_that_exist(site):
    for docname in PAGES:
        for link in site.article(docname).select("a.reference.internal"):
            target = link["href"].split("#")[0]
            if target:
                assert (site.html / Path(docname).parent / target).resolve().exists(), target
