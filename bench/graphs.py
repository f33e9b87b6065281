"""Flow-graph benchmark: trace and draw a 200-task flow, then draw a finished 200-task run."""

# starts its own Prefect server in a temporary home, removed afterwards

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as `python bench/graphs.py` from a checkout

CHAINS, LENGTH = 20, 10  # 200 task calls: 20 independent chains of 10 dependent steps
TRACE_TARGET, RUN_TARGET = 1.0, 2.0


def report(what: str, seconds: float, target: float) -> None:
    verdict = "PASS" if seconds <= target else f"OVER TARGET by {seconds - target:.2f} s"
    print(f"{what:<44} {seconds:6.2f} s   target <= {target:.1f} s   {verdict}")


def timed(times: int, fn) -> tuple[float, float, object]:
    """The first and the fastest of a few timed calls, and the last result."""
    seconds, result = [], None
    for _ in range(times):
        started = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - started)
    return seconds[0], min(seconds), result


def main() -> None:
    from prefect_by_example.server import PrefectServer

    home = Path(tempfile.mkdtemp(prefix="pbe-bench-graphs-"))
    try:
        with PrefectServer(home) as server:
            # before Prefect is imported, so this process uses the private server and home
            os.environ.update(server.client_env())
            run_benchmarks()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run_benchmarks() -> None:
    from prefect import flow, task

    from prefect_by_example.graphs import flow_graph, run_graph

    @task
    def seed(chain: int) -> int:
        return chain * 1000

    @task
    def step(value: int) -> int:
        return value + 1

    @flow
    def two_hundred_tasks(chains: int = CHAINS, length: int = LENGTH) -> list[int]:
        ends = []
        for chain in range(chains):
            value = seed.submit(chain)
            for _ in range(length - 1):
                value = step.submit(value)
            ends.append(value)
        return [end.result() for end in ends]

    first, best, svg = timed(5, lambda: flow_graph(two_hundred_tasks).svg())
    print(f"static graph: {CHAINS * LENGTH} task calls, {len(svg)} bytes of SVG")
    report("trace + draw SVG of a 200-task flow, first", first, TRACE_TARGET)
    report("trace + draw SVG of a 200-task flow, best", best, TRACE_TARGET)

    started = time.perf_counter()
    state = two_hundred_tasks(return_state=True)
    print(f"ran the flow in {time.perf_counter() - started:.1f} s: {state.name}")
    run_graph(state)  # let the server finish recording the task runs first
    first, best, svg = timed(5, lambda: run_graph(state).svg())
    graph = run_graph(state)
    print(f"run graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges, {len(svg)} bytes")
    report("read + draw SVG of a 200-task run, first", first, RUN_TARGET)
    report("read + draw SVG of a 200-task run, best", best, RUN_TARGET)


if __name__ == "__main__":
    main()
