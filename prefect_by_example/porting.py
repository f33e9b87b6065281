"""Run a Prefect 1 style dependency spec with Prefect 3 tasks.

Prefect 1 flows could be built imperatively::

    flow.set_dependencies(task=train, upstream_tasks=[download], keyword_tasks=dict(data_dir="data"))

Prefect 3 has no graph to build: a flow is a Python function, and Prefect records the
dependencies it sees while the function calls its tasks. :func:`run_dependencies` takes the
same information as a dictionary and makes those calls, in an order that respects it::

    run_dependencies({
        download: dict(keywords=dict(data_dir="data")),
        train: dict(upstream=[download], keywords=dict(data_dir="data")),
    })

It only submits tasks; it does no retries, mapping, caching or state handling of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from graphlib import CycleError, TopologicalSorter
from typing import Any

from prefect import Task
from prefect.futures import PrefectFuture

__all__ = ["DependencySpecError", "run_dependencies", "run_order"]

SPEC_KEYS = frozenset({"upstream", "keywords"})


class DependencySpecError(ValueError):
    """A dependency spec that cannot be run: unknown keys, non-tasks, or a cycle."""


def _entry(task: Any, entry: Mapping[str, Any] | None) -> tuple[list[Task], dict[str, Any]]:
    if not isinstance(task, Task):
        raise DependencySpecError(f"spec keys must be Prefect 3 tasks, got {task!r}")
    entry = entry or {}
    unknown = set(entry) - SPEC_KEYS
    if unknown:
        raise DependencySpecError(
            f"unknown key(s) {sorted(unknown)} for task {task.name!r}: use 'upstream' and 'keywords'"
        )
    upstream = list(entry.get("upstream") or [])
    for other in upstream:
        if not isinstance(other, Task):
            raise DependencySpecError(f"upstream of {task.name!r} must be tasks, got {other!r}")
    return upstream, dict(entry.get("keywords") or {})


def _graph(spec: Mapping[Task, Mapping[str, Any] | None]) -> dict[Task, set[Task]]:
    """Each task and the tasks it must wait for, from both kinds of edges."""
    graph: dict[Task, set[Task]] = {}
    for task, entry in spec.items():
        upstream, keywords = _entry(task, entry)
        needs = set(upstream) | {value for value in keywords.values() if isinstance(value, Task)}
        graph.setdefault(task, set()).update(needs)
        for other in needs:
            # like Prefect 1, a task named only as a dependency joins the flow, called with no arguments
            graph.setdefault(other, set())
    return graph


def run_order(spec: Mapping[Task, Mapping[str, Any] | None]) -> list[Task]:
    """The tasks of a spec, every task after the tasks it depends on (ties keep spec order)."""
    graph = _graph(spec)
    position = {task: i for i, task in enumerate(graph)}
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        names = " -> ".join(task.name for task in exc.args[1])
        raise DependencySpecError(f"the dependencies form a cycle: {names}") from None
    order: list[Task] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return order


def run_dependencies(
    spec: Mapping[Task, Mapping[str, Any] | None],
) -> dict[Task, PrefectFuture]:
    """Submit every task of a spec inside the running flow; return each task's future.

    ``spec`` maps a Prefect 3 task to ``dict(upstream=[...], keywords={...})``, the
    ``upstream_tasks`` and ``keyword_tasks`` of Prefect 1's ``flow.set_dependencies``:

    - a task in ``upstream`` must finish first, and passes no data: it becomes ``wait_for``;
    - a keyword whose value is a task receives that task's result (a data dependency);
    - any other keyword value is passed as it is (Prefect 1 made it a constant).

    Tasks are submitted in :func:`run_order`, so every future a task needs exists when it is
    submitted; Prefect's task runner then runs independent tasks concurrently.
    """
    futures: dict[Task, PrefectFuture] = {}
    for task in run_order(spec):
        upstream, keywords = _entry(task, spec.get(task))
        arguments = {
            name: futures[value] if isinstance(value, Task) else value
            for name, value in keywords.items()
        }
        wait_for = [futures[other] for other in upstream]
        futures[task] = task.submit(**arguments, wait_for=wait_for or None)
    return futures
