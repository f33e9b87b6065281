"""flow_graph(): the static task graph of real Prefect 3 flows, traced without running tasks."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prefect import flow, get_run_logger, task, unmapped
from prefect.futures import wait

from prefect_by_example import graphs
from prefect_by_example.graphs import FlowGraphError, flow_graph, require_dot

RAN: list[str] = []  # tasks append here when they really run: tracing must never run them


@task
def extract() -> list[int]:
    RAN.append("extract")
    return [1, 2, 3]


@task
def transform(rows: list[int], factor: int = 2) -> list[int]:
    RAN.append("transform")
    return [r * factor for r in rows]


@task
def load(rows: list[int]) -> int:
    RAN.append("load")
    return len(rows)


@task
def square(x: int, offset: int = 0) -> int:
    RAN.append("square")
    return x * x + offset


@task
def add(a: int, b: int) -> int:
    RAN.append("add")
    return a + b


@task(viz_return_value=[10, 20])
def fetch_ids() -> list[int]:
    RAN.append("fetch_ids")
    return [10, 20, 30]


@task
def notify(message: str) -> None:
    RAN.append("notify")


def edges(graph, kind=None):
    """Edges as (source label, target label, kind, label) for readable assertions."""
    by_id = {n.id: n.label for n in graph.nodes} | {c.id: c.label for c in graph.clusters}
    return {
        (by_id[e.source], by_id[e.target], e.kind, e.label)
        for e in graph.edges
        if kind is None or e.kind == kind
    }


@pytest.fixture(autouse=True)
def nothing_runs():
    RAN.clear()
    yield
    assert RAN == [], f"tracing ran tasks: {RAN}"


@flow
def etl():
    rows = extract()
    rows = transform(rows)
    return load(rows)


def test_linear_chain():
    graph = flow_graph(etl)
    assert graph.name == "etl"
    assert [n.label for n in graph.nodes] == ["extract", "transform", "load"]
    assert edges(graph) == {
        ("extract", "transform", "data", "rows"),
        ("transform", "load", "data", "rows"),
    }
    assert graph.clusters == []
    assert 'label="rows"' in graph.source


@flow
def diamond():
    a = square(2)
    b = square(a, offset=1)
    c = transform([a], factor=3)
    return add(b, c)


def test_diamond_numbers_repeated_tasks_and_finds_nested_arguments():
    graph = flow_graph(diamond)
    assert [n.label for n in graph.nodes] == ["square-0", "square-1", "transform", "add"]
    assert edges(graph) == {
        ("square-0", "square-1", "data", "x"),
        ("square-0", "transform", "data", "rows"),  # found inside a list
        ("square-1", "add", "data", "a"),
        ("transform", "add", "data", "b"),
    }


@flow
def ordered():
    first = extract()
    notify("start", wait_for=[first])
    rows = transform(first, wait_for=[first])
    return rows


def test_wait_for_edges_are_their_own_kind_and_dashed():
    graph = flow_graph(ordered)
    assert edges(graph) == {
        ("extract", "notify", "wait_for", "wait_for"),
        ("extract", "transform", "data", "rows"),
        ("extract", "transform", "wait_for", "wait_for"),
    }
    dashed = re.findall(r"(\w+) -> (\w+) \[([^\]]*)\]", graph.source)
    styles = {(a, b): attrs for a, b, attrs in dashed if "dashed" in attrs}
    notify = graph.node("notify").id
    assert (graph.node("extract").id, notify) in styles


@flow
def submitted():
    rows = extract.submit()
    doubled = transform.submit(rows)
    total = load(doubled.result())
    later = notify.submit("done", wait_for=[doubled])
    later.wait()
    state = square(total, return_state=True)
    wait([rows, doubled])
    return state.result()


def test_submit_returns_futures_whose_results_keep_the_chain():
    graph = flow_graph(submitted)
    assert [n.label for n in graph.nodes] == ["extract", "transform", "load", "notify", "square"]
    assert edges(graph) == {
        ("extract", "transform", "data", "rows"),
        ("transform", "load", "data", "rows"),
        ("transform", "notify", "wait_for", "wait_for"),
        ("load", "square", "data", "x"),
    }


@flow
def mapped():
    offset = square(1)
    squares = square.map([1, 2, 3, 4, 5], offset=unmapped(offset))
    total = load(squares)
    doubled = transform.map(squares)
    ids = fetch_ids()
    notify.map(ids, wait_for=[total])
    return [f.result() for f in doubled]


def test_map_is_one_group_node_with_its_item_count():
    graph = flow_graph(mapped)
    labels = [n.label for n in graph.nodes]
    assert labels == ["square-0", "square-1 ×5", "load", "transform ×5", "fetch_ids", "notify ×2"]
    group = graph.node("square-1 ×5")
    assert (group.mapped, group.count) == (True, 5)
    assert edges(graph) == {
        ("square-0", "square-1 ×5", "data", "offset"),  # through unmapped()
        ("square-1 ×5", "load", "data", "rows"),
        ("square-1 ×5", "transform ×5", "data", "rows"),  # a map over a map
        ("fetch_ids", "notify ×2", "data", "message"),  # viz_return_value has two items
        ("load", "notify ×2", "wait_for", "wait_for"),
    }
    assert f'{group.id} [label="square-1 ×5" peripheries="2"]' in graph.source


@flow
def leaf(values):
    return load(values)


@flow
def middle(rows):
    doubled = transform(rows)
    return leaf(doubled)


@flow
def nested():
    rows = extract()
    count = middle(rows)
    notify(count)
    middle(rows, wait_for=[count])


def test_subflows_are_nested_clusters():
    graph = flow_graph(nested)
    outer = [c for c in graph.clusters if c.parent is None]
    inner = [c for c in graph.clusters if c.parent is not None]
    assert [c.label for c in outer] == ["middle-0", "middle-1"]
    assert [(c.label, c.parent) for c in inner] == [("leaf", outer[0].id), ("leaf", outer[1].id)]
    members = {c.id: [n.label for n in graph.nodes if n.cluster == c.id] for c in graph.clusters}
    assert [members[c.id] for c in graph.clusters] == [["transform"], ["load"]] * 2
    assert graph.node("extract").cluster is None
    transform_0, load_0, notify_ = (
        next(n.id for n in graph.nodes if n.cluster == inner[0].parent),
        next(n.id for n in graph.nodes if n.cluster == inner[0].id),
        graph.node("notify").id,
    )
    found = {(e.source, e.target, e.kind, e.label) for e in graph.edges}
    extract_ = graph.node("extract").id
    assert (extract_, transform_0, "data", "rows") in found  # straight to the task inside
    assert (transform_0, load_0, "data", "rows") in found  # across the inner border
    assert (load_0, notify_, "data", "message") in found  # the subflow's result
    assert (load_0, outer[1].id, "wait_for", "wait_for") in found  # to the cluster's border
    source = graph.source
    assert source.index(f"subgraph {inner[0].id}") > source.index(f"subgraph {outer[0].id}")
    assert f'lhead="{outer[1].id}"' in source


@flow
def branching():
    rows = extract()
    if len(rows) > 2:
        notify("many")
    first = rows[0]
    for row in rows:
        square(row)
    total = add(first.value * 2 + 1, rows[-1])
    if total > 3:
        notify(total)
    for i in fetch_ids():
        square(i, offset=1)


def test_control_flow_on_results_keeps_dependencies():
    graph = flow_graph(branching)
    labels = [n.label for n in graph.nodes]
    # unknown results pretend to hold PLACEHOLDER_LENGTH items; viz_return_value holds two
    assert labels == [
        "extract",
        "notify-0",
        *[f"square-{i}" for i in range(graphs.PLACEHOLDER_LENGTH)],
        "add",
        "notify-1",
        "fetch_ids",
        f"square-{graphs.PLACEHOLDER_LENGTH}",
        f"square-{graphs.PLACEHOLDER_LENGTH + 1}",
    ]
    found = edges(graph)
    assert ("extract", "square-0", "data", "x") in found
    assert ("extract", "add", "data", "a, b") in found  # arithmetic on an attribute of an item
    assert ("add", "notify-1", "data", "message") in found
    last = graphs.PLACEHOLDER_LENGTH + 1
    assert ("fetch_ids", f"square-{last}", "data", "x") in found
    assert ("extract", "notify-0", "data", "message") not in found  # a constant argument


@task
async def fetch(url: str) -> str:
    RAN.append("fetch")
    return url


@task
async def parse(page: str) -> int:
    RAN.append("parse")
    return len(page)


@flow
async def crawl_one(url: str) -> int:
    page = await fetch(url)
    return await parse(page)


@flow
async def crawl(urls: list[str] = ["a", "b"]):  # noqa: B006 - a flow parameter default
    pages = await asyncio.gather(*(fetch(u) for u in urls))
    sizes = parse.map(pages)
    total = load(sizes)
    deep = await crawl_one("c")
    return add(total, deep)


def test_async_flow_with_async_tasks_and_async_subflow():
    graph = flow_graph(crawl)
    assert [n.label for n in graph.nodes] == [
        "fetch-0",
        "fetch-1",
        "parse ×2",
        "load",
        "fetch",
        "parse",
        "add",
    ]
    assert [c.label for c in graph.clusters] == ["crawl-one"]  # Prefect's name for the flow
    found = edges(graph)
    assert ("fetch-0", "parse ×2", "data", "page") in found
    assert ("fetch-1", "parse ×2", "data", "page") in found
    assert ("parse", "add", "data", "b") in found


def test_async_flow_inside_a_running_event_loop():
    async def notebook_cell():
        return flow_graph(crawl, urls=["x", "y", "z"])

    graph = asyncio.run(notebook_cell())
    assert graph.node("parse ×3").count == 3


@flow
def sized(n: int = 3, label: str = "rows"):
    get_run_logger().info("drawing %s squares", n)  # flow bodies may log while traced
    for i in range(n):
        square(i)
    notify(label)


def test_parameters_default_from_the_signature_and_can_be_overridden():
    assert len(flow_graph(sized).nodes) == 4
    assert len(flow_graph(sized, 5).nodes) == 6
    assert len(flow_graph(sized, n=1, label="x").nodes) == 2


@flow
def raises_outside_tasks():
    extract()
    raise RuntimeError("no database here")


@flow
def calls_the_network():
    urllib.request.urlopen("http://127.0.0.1:9/", timeout=1)
    extract()


def test_untraceable_flows_raise_a_clear_error():
    with pytest.raises(FlowGraphError, match=r"'raises-outside-tasks'.*no database here") as info:
        flow_graph(raises_outside_tasks)
    assert isinstance(info.value.__cause__, RuntimeError)

    with pytest.raises(FlowGraphError, match=r"'calls-the-network'.*move that call into a task"):
        flow_graph(calls_the_network)

    with pytest.raises(FlowGraphError, match="is not a Prefect flow"):
        flow_graph(extract)
    with pytest.raises(FlowGraphError, match="cannot call flow 'sized'"):
        flow_graph(sized, 1, 2, 3)


def test_tracing_leaves_prefect_and_sockets_as_they_were():
    import socket

    from prefect import Flow, Task

    before = [Task.__dict__["__call__"], Task.submit, Task.map, Flow.__call__, socket.getaddrinfo]
    flow_graph(mapped)
    with pytest.raises(FlowGraphError):
        flow_graph(calls_the_network)
    after = [Task.__dict__["__call__"], Task.submit, Task.map, Flow.__call__, socket.getaddrinfo]
    assert after == before


def test_same_flow_same_bytes_and_no_run_specific_text():
    first, second = flow_graph(nested), flow_graph(nested)
    assert first.source == second.source
    assert first.pipe("svg") == second.pipe("svg")
    assert not re.search(r"0x[0-9a-f]{6,}|[0-9a-f]{8}-[0-9a-f]{4}-", first.source)
    assert 'bgcolor="#ffffff"' in first.source  # readable on a dark page
    assert 'style="rounded,filled"' in first.source


def test_same_bytes_in_another_process_with_other_hash_seeds(tmp_path):
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import test_flow_graph as t;"
        "sys.stdout.write(t.flow_graph(t.nested).source)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONDONTWRITEBYTECODE": "1"}
    tests = str(Path(__file__).parent)
    other = subprocess.run(
        [sys.executable, "-c", script, tests], env=env, capture_output=True, text=True, check=True
    )
    assert other.stdout == flow_graph(nested).source


def etl_with_a_notification():
    rows = extract()
    rows = transform(rows, factor=3)
    notify("loaded", wait_for=[rows])
    return load(rows)


def test_a_changed_flow_gives_a_different_dot():
    changed = flow(name="etl")(etl_with_a_notification)
    assert flow_graph(changed).name == flow_graph(etl).name
    assert flow_graph(changed).source != flow_graph(etl).source


def test_save_writes_only_the_named_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    graph = flow_graph(mapped)
    svg = graph.save(out / "graph.svg")
    assert svg.read_bytes().lstrip().startswith(b"<?xml")
    assert b"<svg" in svg.read_bytes() and "square&#45;1 ×5".encode() in svg.read_bytes()
    png = graph.save(out / "graph.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["graph.png", "graph.svg", "out"]
    with pytest.raises(ValueError, match=r"use \.svg or \.png"):
        graph.save(out / "graph.pdf")


def test_displays_inline_in_jupyter():
    graph = flow_graph(etl)
    bundle = graph._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    assert "<svg" in graph._repr_svg_()
    assert "etl" in bundle["text/plain"]


def test_missing_dot_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(graphs.dot.shutil, "which", lambda name: None)
    with pytest.raises(FlowGraphError, match=r"sudo apt-get install graphviz.*brew install"):
        require_dot()
    with pytest.raises(FlowGraphError, match="Graphviz `dot` not found on PATH"):
        flow_graph(etl).save("never-written.svg")
