"""`run_graph`: the task graph of a finished flow run, read from the Prefect API."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from ..errors import FlowGraphError
from .model import SEVERITY, Cluster, Edge, FlowGraph, Node, number_repeated, state_category


def _duration(run: Any) -> float | None:
    """Run time of a task or flow run; None when it never ran."""
    if run.start_time is None:
        return None
    total = run.total_run_time.total_seconds() if run.total_run_time else 0.0
    if total <= 0 and run.end_time is not None:
        total = (run.end_time - run.start_time).total_seconds()
    return max(total, 0.0)


def _flow_run_id(run: Any) -> UUID:
    from prefect.client.schemas.objects import FlowRun, State

    if isinstance(run, State):
        flow_run_id = run.state_details.flow_run_id
        if flow_run_id is None:
            raise FlowGraphError("this State belongs to no flow run")
        return flow_run_id
    if isinstance(run, FlowRun):
        return run.id
    if isinstance(run, UUID):
        return run
    if isinstance(run, str):
        try:
            return UUID(run)
        except ValueError as exc:
            raise FlowGraphError(f"{run!r} is not a flow run id") from exc
    raise FlowGraphError(
        f"run_graph() takes a State, a FlowRun or a flow run id, not {type(run).__name__}"
    )


def _read_all(read, **filters: Any) -> list:
    """Every row of a paged Prefect API listing."""
    rows: dict[Any, Any] = {}
    offset, limit = 0, 200
    while True:
        page = read(limit=limit, offset=offset, **filters)
        for row in page:
            rows[row.id] = row
        if len(page) < limit:
            return list(rows.values())
        offset += limit


def _read_tree(client, root_id: UUID):
    """The flow run, its subflow runs at any depth, their task runs, and the flows."""
    from prefect.client.schemas import filters as f

    root = client.read_flow_run(root_id)
    flow_runs = {root.id: root}
    task_runs = []
    level = [root.id]
    while level:
        task_runs += _read_all(
            client.read_task_runs,
            task_run_filter=f.TaskRunFilter(flow_run_id=f.TaskRunFilterFlowRunId(any_=level)),
        )
        subflows = _read_all(
            client.read_flow_runs,
            flow_run_filter=f.FlowRunFilter(
                parent_flow_run_id=f.FlowRunFilterParentFlowRunId(any_=level)
            ),
        )
        level = [run.id for run in subflows if run.id not in flow_runs]
        flow_runs.update({run.id: run for run in subflows})
    flows = _read_all(
        client.read_flows,
        flow_filter=f.FlowFilter(
            id=f.FlowFilterId(any_=list({r.flow_id for r in flow_runs.values()}))
        ),
    )
    return root, flow_runs, task_runs, {flow.id: flow.name for flow in flows}


def _is_final(run: Any) -> bool:
    return run.state is not None and run.state.is_final()


def _settled_tree(client, root_id: UUID, timeout: float):
    """Read the run tree until it stops changing: Prefect 3 records task runs from events."""
    deadline = time.monotonic() + timeout
    previous = None
    while True:
        tree = _read_tree(client, root_id)
        root, flow_runs, task_runs, _ = tree
        runs = [*flow_runs.values(), *task_runs]
        snapshot = {(r.id, r.state_id) for r in runs}
        # a finished run with no task runs yet: its events (e.g. from a worker's process) are
        # still on their way, so wait for them rather than take two empty reads as settled
        waiting = not task_runs and _is_final(root)
        settled = snapshot == previous and not waiting
        if time.monotonic() > deadline or not _is_final(root) or settled:
            return tree
        previous = snapshot
        # runs still pending in a finished flow may never move (NotReady): look again soon
        time.sleep(0.05 if all(_is_final(r) for r in runs) else 0.25)


def _call_order(run: Any) -> tuple:
    """When a run was asked for. Prefect makes a run's id (a uuid7, which sorts in the order
    ids were made, to 50 ns) where the task is called or submitted, before any worker thread
    creates the run; older ids fall back to Prefect's own clock."""
    if run.id.version == 7:
        return (0, run.id.int)
    asked = run.expected_start_time or run.created
    return (1, asked.timestamp() if asked else 0.0, str(run.id))


def _inputs_first(runs: list) -> list:
    """`runs` (in call order) reordered so that each comes after the runs it takes inputs from."""
    pending = {run.id: run for run in runs}
    placed: list = []

    def place(run, path=()) -> None:
        if run.id not in pending or run.id in path:
            return
        for items in run.task_inputs.values():
            for item in items:
                upstream = pending.get(getattr(item, "id", None))
                if upstream is not None:
                    place(upstream, (*path, run.id))
        if pending.pop(run.id, None) is not None:
            placed.append(run)

    for run in runs:
        place(run)
    return placed


def _task_name(run: Any) -> str:
    """The task's own name: the run name without the suffix Prefect adds to it."""
    key = str(run.dynamic_key)
    for suffix in (key[:3], key):
        if suffix and run.name.endswith(f"-{suffix}"):
            return run.name[: -len(suffix) - 1]
    return run.name


def run_graph(run: Any, *, timeout: float = 10.0) -> FlowGraph:
    """Graph of a finished flow run, its subflow runs and task runs, coloured by final state.

    `run` is the flow run's final State (what ``my_flow(return_state=True)`` returns), a
    FlowRun, or a flow run id (a UUID or its text). The run is read from the Prefect API of the
    current settings. Prefect records task runs from events that may arrive after the flow run
    ends, so a finished run is read again until it stops changing, for at most `timeout`
    seconds; a run that has not finished is drawn as it stands.

    Raises FlowGraphError when `run` is none of these, when a State belongs to no flow run, and
    when the API cannot be read (the error is its cause).
    """
    from prefect.client.orchestration import get_client

    root_id = _flow_run_id(run)
    try:
        # the sync client does plain blocking HTTP, so it also works inside a running loop
        with get_client(sync_client=True) as client:
            root, flow_runs, task_runs, flow_names = _settled_tree(client, root_id, timeout)
    except FlowGraphError:
        raise
    except Exception as exc:
        raise FlowGraphError(
            f"cannot read flow run {root_id} from the Prefect API: {type(exc).__name__}: {exc}"
        ) from exc
    return _RunGraphBuilder(root, flow_runs, task_runs, flow_names).build()


class _RunGraphBuilder:
    """Turns task runs and subflow runs into nodes, grouped maps, clusters and edges."""

    def __init__(self, root, flow_runs, task_runs, flow_names) -> None:
        self.root = root
        self.flow_runs = flow_runs
        self.task_runs = sorted(task_runs, key=_call_order)
        self.flow_names = flow_names
        # a subflow run hangs off a stand-in task run of its parent flow run
        self.subflow_of = {
            r.parent_task_run_id: r for r in flow_runs.values() if r.parent_task_run_id
        }
        self.cluster_of: dict[UUID, str] = {}  # subflow run id -> cluster id
        self.endpoint: dict[UUID, str] = {}  # task run id -> its node id, or its subflow's cluster
        self.node_count = 0

    def build(self) -> FlowGraph:
        graph = FlowGraph(
            self.flow_names.get(self.root.flow_id, self.root.name),
            state=self.root.state_name,
            duration=_duration(self.root),
        )
        self._clusters(graph, self.root.id, None)
        for flow_run_id, cluster_id in [(self.root.id, None), *self.cluster_of.items()]:
            runs = [r for r in self.task_runs if r.flow_run_id == flow_run_id]
            self._nodes(graph, runs, cluster_id)
        graph.edges = self._edges()
        return graph

    def _clusters(self, graph: FlowGraph, flow_run_id: UUID, parent: str | None) -> None:
        """Clusters for the subflow runs of one flow run, in call order, recursively."""
        subflows = [
            self.subflow_of[r.id]
            for r in self.task_runs
            if r.flow_run_id == flow_run_id and r.id in self.subflow_of
        ]
        made = []
        for subflow in subflows:
            name = self.flow_names.get(subflow.flow_id, subflow.name)
            cluster = Cluster(
                f"cluster_{len(graph.clusters) + 1}",
                name,
                name,
                parent,
                state=subflow.state_name,
                category=state_category(subflow.state),
                duration=_duration(subflow),
            )
            graph.clusters.append(cluster)
            made.append(cluster)
            self.cluster_of[subflow.id] = cluster.id
            self.endpoint[subflow.parent_task_run_id] = cluster.id
        number_repeated(made, lambda c: c.flow, lambda c: c.flow)
        for subflow in subflows:
            self._clusters(graph, subflow.id, self.cluster_of[subflow.id])

    def _nodes(self, graph: FlowGraph, runs: list, cluster: str | None) -> None:
        """Nodes for the task runs of one flow run, in call order, with maps grouped."""
        # Prefect 3 does not record which runs one .map() made: a run joins the runs just
        # before it when they run the same task with inputs from the same nodes (a map over
        # a map: from one group node). A map's runs are created by its worker threads, so a
        # downstream run may be created among them: runs are put after their inputs first.
        groups: list[list[Any]] = []
        current: list[Any] = []
        signature = None
        for run in _inputs_first(runs):
            if run.id in self.subflow_of:
                current = []  # a subflow call in between ends any map
                continue
            mine = (run.task_key, self._inputs(run))
            if not current or mine != signature:
                current, signature = [], mine
                groups.append(current)
                self.node_count += 1
            current.append(run)
            self.endpoint[run.id] = f"r{self.node_count}"
        made = [(self._node(group, cluster), group[0]) for group in groups]
        # number only the names Prefect made up (task-0...), never a custom task_run_name
        prefect_named = [node for node, run in made if _task_name(run) != run.name]
        number_repeated(prefect_named, lambda n: n.task, lambda n: n.task)
        for node, _ in made:
            if node.mapped:
                node.label += f" ×{node.count}"
            graph.nodes.append(node)

    def _inputs(self, run: Any) -> tuple:
        """Per parameter, the nodes (or clusters) its inputs come from."""
        return tuple(
            sorted(
                (key, tuple(sorted({self.endpoint.get(i.id, str(i.id)) for i in items})))
                for key, items in run.task_inputs.items()
                if key != "__parents__"
                for items in [[i for i in items if getattr(i, "input_type", None) == "task_run"]]
            )
        )

    def _node(self, group: list[Any], cluster: str | None) -> Node:
        first = group[0]
        # a map's runs are numbered in whatever order they start, and each may have a name of
        # its own (task_run_name): a group takes the name its runs share, else its function's
        names = {_task_name(run) for run in group}
        name = names.pop() if len(names) == 1 else first.task_key.rsplit("-", 1)[0]
        # a group shows its most serious state; its label counts them all, worst first
        rank = {
            run.state_name or "Pending": SEVERITY.index(state_category(run.state)) for run in group
        }
        states = {name: 0 for name in sorted(rank, key=lambda name: (rank[name], name))}
        for run in group:
            states[run.state_name or "Pending"] += 1
        worst = next(iter(states))
        return Node(
            self.endpoint[first.id],
            name,
            name,
            cluster,
            mapped=len(group) > 1,
            count=len(group) if len(group) > 1 else None,
            state=worst,
            category=SEVERITY[rank[worst]],
            duration=_span(group),
            states=states if len(group) > 1 else {},
        )

    def _edges(self) -> list[Edge]:
        edges: dict[tuple[str, str, str], list[str]] = {}
        for run in self.task_runs:
            target = self.endpoint.get(run.id)
            for key, inputs in run.task_inputs.items():
                if target is None or key == "__parents__":
                    continue
                for item in inputs:
                    kind_of_input = getattr(item, "input_type", None)
                    if kind_of_input == "task_run":
                        source = self.endpoint.get(item.id)
                    elif kind_of_input == "flow_run":
                        source = self.cluster_of.get(item.id)
                    else:
                        continue
                    if source is None or source == target:
                        continue
                    kind = "wait_for" if key == "wait_for" else "data"
                    labels = edges.setdefault((source, target, kind), [])
                    if key not in labels:
                        labels.append(key)
        return [Edge(s, t, k, ", ".join(labels)) for (s, t, k), labels in edges.items()]


def _span(runs: list[Any]) -> float | None:
    """Wall time from the first start to the last end of some runs."""
    if len(runs) == 1:
        return _duration(runs[0])
    starts = [r.start_time for r in runs if r.start_time is not None]
    ends = [r.end_time for r in runs if r.end_time is not None]
    if not starts or not ends:
        return None
    return max((max(ends) - min(starts)).total_seconds(), 0.0)
