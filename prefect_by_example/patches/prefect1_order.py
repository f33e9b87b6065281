"""Prefect 1 runs the tasks that do not depend on each other in one order: by their slugs.

Upstream: prefect/core/flow.py (Prefect 1.4.1), `Flow.sorted_tasks`, which the flow runner
asks for the order to run tasks in. It sorts `flow.tasks` topologically, and `flow.tasks` is
a set whose order follows the tasks' memory addresses, so two independent tasks run, and log,
in a different order from run to run. Any topological order is a valid Prefect 1 run; this one
breaks the ties by slug (``name-1``, ``times-1``), the same on every run. Applied in the
legacy kernel only, by the page helper `stable_prefect1_order()`.
"""

from __future__ import annotations

from . import require

DISTRIBUTION, WRITTEN_FOR = "prefect", "==1.4.1"
UPSTREAM = "prefect/core/flow.py: Flow.sorted_tasks"


def install() -> None:
    """Order ties of Prefect 1's `Flow.sorted_tasks` by slug (idempotent)."""
    require(DISTRIBUTION, WRITTEN_FOR, "prefect1_order", UPSTREAM)
    from prefect import Flow

    if getattr(Flow.sorted_tasks, "stable_order", False):
        return
    original = Flow.sorted_tasks

    def sorted_tasks(self, root_tasks=None):
        tasks = original(self, root_tasks)
        upstream = self.all_upstream_edges()
        slugs = {task: self.slugs.get(task, task.name) for task in tasks}
        remaining = sorted(tasks, key=slugs.__getitem__)
        placed: set = set()
        order = []
        while remaining:
            # the first task, by slug, whose upstream tasks have all been placed
            task = next(
                t
                for t in remaining
                if all(
                    e.upstream_task in placed or e.upstream_task not in slugs for e in upstream[t]
                )
            )
            remaining.remove(task)
            placed.add(task)
            order.append(task)
        return tuple(order)

    sorted_tasks.stable_order = True
    Flow.sorted_tasks = sorted_tasks
