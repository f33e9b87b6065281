"""run_dependencies: a Prefect 1 style dependency spec, run with Prefect 3 tasks."""

from __future__ import annotations

import pytest
from prefect import flow, task

from prefect_by_example.graphs import flow_graph
from prefect_by_example.porting import DependencySpecError, run_dependencies, run_order

calls: list[str] = []


@task
def download(data_dir: str) -> str:
    calls.append("download")
    return f"{data_dir}/train.csv"


@task
def train(data_dir: str, model_dir: str) -> str:
    calls.append("train")
    return f"{model_dir}/model.json"


@task
def evaluate(model: str, metrics_path: str) -> dict:
    calls.append("evaluate")
    return {"model": model, "metrics": metrics_path}


@task
def announce() -> str:
    calls.append("announce")
    return "done"


# evaluate comes first on purpose: the spec's order is not the run order
SPEC = {
    evaluate: dict(upstream=[download], keywords=dict(model=train, metrics_path="m.json")),
    train: dict(upstream=[download], keywords=dict(data_dir="data", model_dir="models")),
    download: dict(keywords=dict(data_dir="data")),
}


@flow
def ported() -> dict:
    futures = run_dependencies(SPEC)
    return {t.name: f.result() for t, f in futures.items()}


def test_run_order_puts_every_task_after_what_it_needs():
    assert [t.name for t in run_order(SPEC)] == ["download", "train", "evaluate"]


def test_tasks_named_only_as_dependencies_join_the_run():
    order = run_order(
        {evaluate: dict(upstream=[announce], keywords=dict(model="m", metrics_path="x"))}
    )
    assert [t.name for t in order] == ["announce", "evaluate"]


def test_cycles_unknown_keys_and_non_tasks_are_refused():
    with pytest.raises(DependencySpecError, match="cycle"):
        run_order({train: dict(upstream=[download]), download: dict(upstream=[train])})
    with pytest.raises(DependencySpecError, match="upstream_tasks"):
        run_order({train: dict(upstream_tasks=[download])})
    with pytest.raises(DependencySpecError, match="must be Prefect 3 tasks"):
        run_order({"train": {}})
    with pytest.raises(DependencySpecError, match="must be tasks"):
        run_order({train: dict(upstream=["download"])})


def test_graph_has_wait_for_for_upstream_and_data_for_task_keywords():
    graph = flow_graph(ported)
    edges = {
        (graph.nodes[[n.id for n in graph.nodes].index(e.source)].task,
         graph.nodes[[n.id for n in graph.nodes].index(e.target)].task,
         e.kind, e.label)
        for e in graph.edges
    }  # fmt: skip
    assert edges == {
        ("download", "evaluate", "wait_for", "wait_for"),
        ("download", "train", "wait_for", "wait_for"),
        ("train", "evaluate", "data", "model"),
    }


def test_run_passes_constants_and_results_in_dependency_order(prefect_server):
    calls.clear()
    state = ported(return_state=True)
    assert state.is_completed()
    assert calls == ["download", "train", "evaluate"]
    assert state.result() == {
        "download": "data/train.csv",
        "train": "models/model.json",
        "evaluate": {"model": "models/model.json", "metrics": "m.json"},
    }
