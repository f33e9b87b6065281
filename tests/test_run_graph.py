"""run_graph(): the graph of finished Prefect 3 flow runs, read back from a real local server."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prefect import flow, task
from prefect.cache_policies import INPUTS
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

from prefect_by_example import graphs
from prefect_by_example.graphs import STATE_COLOURS, FlowGraphError, run_graph

pytestmark = pytest.mark.usefixtures("prefect_server")


@task
def start() -> str:
    return "seed"


@task
def explode(value: str) -> str:
    raise ValueError(f"cannot handle {value}")


@task
def after(value: str) -> str:
    return f"{value}!"


@task
def square(x: int) -> int:
    return x * x


@task
def total(numbers: list[int]) -> int:
    return sum(numbers)


@task(cache_policy=INPUTS)
def expensive(token: str) -> str:
    return token.upper()


def edges(graph, kind=None):
    """Edges as (source label, target label, kind, label) for readable assertions."""
    by_id = {n.id: n.label for n in graph.nodes} | {c.id: c.label for c in graph.clusters}
    return {
        (by_id[e.source], by_id[e.target], e.kind, e.label)
        for e in graph.edges
        if kind is None or e.kind == kind
    }


def node_line(graph, label):
    node = graph.node(label)
    return next(
        line for line in graph.source.splitlines() if line.strip().startswith(node.id + " ")
    )


@flow
def failing():
    seed = start.submit()
    bad = explode.submit(seed)
    after.submit(bad).wait()
    return "done"


@pytest.fixture(scope="module")
def failed_run():
    return failing(return_state=True)


def test_failed_task_and_its_downstream_are_coloured_by_state(failed_run):
    graph = run_graph(failed_run)
    assert graph.name == "failing" and graph.state == "Completed" and graph.duration > 0
    # task names from the code, never Prefect's random run-name suffixes
    assert [n.label for n in graph.nodes] == ["start", "explode", "after"]
    assert graph.node("explode").state == "Failed"
    # Prefect 3 never runs a task whose upstream failed: it stays Pending, named NotReady
    assert graph.node("after").state == "NotReady"
    assert graph.node("after").duration is None
    assert graph.node("start").duration > 0
    assert edges(graph) == {
        ("start", "explode", "data", "value"),
        ("explode", "after", "data", "value"),
    }
    assert graph.legend == ["Completed", "Failed", "Not run"]
    assert f'fillcolor="{STATE_COLOURS["Failed"][0]}"' in node_line(graph, "explode")
    assert "dashed" in node_line(graph, "after")
    assert f'fillcolor="{STATE_COLOURS["Completed"][0]}"' in node_line(graph, "start")
    assert " · " in node_line(graph, "start")  # the duration
    svg = graph.svg()
    assert "Not run" in svg and "Failed" in svg and "Cached" not in svg  # the legend


def test_accepts_a_state_an_id_a_string_or_a_flow_run(failed_run):
    flow_run_id = failed_run.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
    sources = {run_graph(x).source for x in (flow_run_id, str(flow_run_id), flow_run)}
    assert len(sources) == 1


def test_works_inside_a_running_event_loop(failed_run):
    async def notebook_cell():
        return run_graph(failed_run)

    graph = asyncio.run(notebook_cell())
    assert graph.node("explode").state == "Failed"


def test_bad_input_is_a_clear_error():
    with pytest.raises(FlowGraphError, match="cannot read flow run"):
        run_graph(uuid.uuid4())
    with pytest.raises(FlowGraphError, match="not a flow run id"):
        run_graph("not-an-id")
    with pytest.raises(FlowGraphError, match="takes a State, a FlowRun or a flow run id"):
        run_graph(42)


@flow
def cached(token: str):
    loud = expensive(token)
    return after(loud)


def test_a_rerun_with_the_same_inputs_comes_back_cached(tmp_path):
    token = uuid.uuid4().hex  # inputs no earlier test session has cached
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: tmp_path}):
        first = run_graph(cached(token, return_state=True))
        second = run_graph(cached(token, return_state=True))
    assert first.node("expensive").state == "Completed"
    assert second.node("expensive").state == "Cached"
    assert second.node("after").state == "Completed"
    assert second.legend == ["Completed", "Cached"]
    assert f'fillcolor="{STATE_COLOURS["Cached"][0]}"' in node_line(second, "expensive")
    assert edges(second) == {("expensive", "after", "data", "value")}


@flow
def inner_step(value: str) -> str:
    return after(value)


@flow
def outer_step(value: str) -> str:
    return inner_step(after(value))


@flow
def with_subflows():
    seed = start()
    result = outer_step(seed)
    return after(result)


def test_subflow_runs_are_nested_clusters_with_their_own_task_runs():
    graph = run_graph(with_subflows(return_state=True))
    outer, inner = graph.clusters
    assert (outer.label, outer.parent, outer.state) == ("outer-step", None, "Completed")
    assert (inner.label, inner.parent, inner.state) == ("inner-step", outer.id, "Completed")
    assert outer.duration > inner.duration > 0
    members = {c: [n.label for n in graph.nodes if n.cluster == c] for c in (None, outer.id)}
    assert members == {None: ["start", "after"], outer.id: ["after"]}
    assert [n.label for n in graph.nodes if n.cluster == inner.id] == ["after"]
    found = edges(graph)
    assert ("start", "outer-step", "data", "value") in found  # into the subflow's border
    assert ("outer-step", "after", "data", "value") in found  # its result, out of the border
    assert f'lhead="{outer.id}"' in graph.source and f'ltail="{outer.id}"' in graph.source


@flow
def mapping():
    squares = square.map(range(5))
    return total(squares)


def test_mapped_runs_are_one_group_node():
    graph = run_graph(mapping(return_state=True))
    assert [n.label for n in graph.nodes] == ["square ×5", "total"]
    group = graph.node("square ×5")
    assert (group.mapped, group.count, group.states) == (True, 5, {"Completed": 5})
    assert edges(graph) == {("square ×5", "total", "data", "numbers")}
    assert 'peripheries="2"' in node_line(graph, "square ×5")


def test_a_map_stays_one_group_whatever_order_its_runs_were_created_in(monkeypatch):
    # a map's runs are created by its worker threads: the downstream run can be created (and
    # stamped) between them. Read the runs back in that order: first square, total, the rest
    state = mapping(return_state=True)
    flow_run = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=flow_run)
    (last,) = [run.id for run in runs if run.name.startswith("total")]
    squares = [run.id for run in runs if run.id != last]
    order = [squares[0], last, *squares[1:]]
    monkeypatch.setattr(graphs.runs, "_call_order", lambda run: order.index(run.id))
    graph = run_graph(state)
    assert [n.label for n in graph.nodes] == ["square ×5", "total"]
    assert edges(graph) == {("square ×5", "total", "data", "numbers")}


@task(task_run_name="weigh-{parcel}")
def weigh(parcel: str) -> int:
    return len(parcel)


@flow
def mapping_with_run_names():
    return total(weigh.map(["box", "crate", "envelope", "tube"]))


def test_a_group_of_named_runs_takes_its_functions_name():
    # each run has a name of its own, and the runs start in any order: the group's label
    # must not depend on which one came first
    graph = run_graph(mapping_with_run_names(return_state=True))
    assert [n.label for n in graph.nodes] == ["weigh ×4", "total"]
    assert edges(graph) == {("weigh ×4", "total", "data", "numbers")}


@task
def invert(x: int) -> float:
    return 1 / x


@flow
def mapping_with_a_failure():
    inverses = invert.map([1, 2, 0, 4])
    total.submit(inverses).wait()
    return "done"


def test_a_group_takes_its_most_serious_state_and_counts_them_all():
    graph = run_graph(mapping_with_a_failure(return_state=True))
    group = graph.node("invert ×4")
    assert group.states == {"Completed": 3, "Failed": 1}
    assert (group.state, group.category) == ("Failed", "Failed")
    assert "1 Failed, 3 Completed" in node_line(graph, "invert ×4")  # worst first
    assert graph.node("total").category == "Not run"


@flow
def ordering():
    first = start.submit()
    second = after.submit("x", wait_for=[first])
    return second.result()


def test_wait_for_is_a_dashed_edge_of_its_own_kind():
    graph = run_graph(ordering(return_state=True))
    assert edges(graph) == {("start", "after", "wait_for", "wait_for")}
    start_id, after_id = graph.node("start").id, graph.node("after").id
    line = next(x for x in graph.source.splitlines() if f"{start_id} -> {after_id}" in x)
    assert 'style="dashed"' in line
