"""Task graphs of Prefect 3 flows: traced from the code, or read from a finished run."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import html
import inspect
import math
import operator
import shutil
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import Flow, Task
from prefect.logging import disable_run_logger
from prefect.utilities.annotations import BaseAnnotation, unmapped
from prefect.utilities.callables import get_call_parameters

from .errors import FlowGraphError

__all__ = [
    "Cluster",
    "Edge",
    "FlowGraph",
    "FlowGraphError",
    "Node",
    "flow_graph",
    "require_dot",
    "run_graph",
]

DOT_NOT_FOUND = (
    "Graphviz `dot` not found on PATH: install it with `sudo apt-get install graphviz`"
    " (Debian/Ubuntu) or `brew install graphviz`"
)

# how many items a task result of unknown value pretends to have (len, iteration, range)
PLACEHOLDER_LENGTH = 3


def require_dot() -> str:
    """The path of Graphviz `dot`; FlowGraphError saying how to install it when missing."""
    path = shutil.which("dot")
    if path is None:
        raise FlowGraphError(DOT_NOT_FOUND)
    return path


# --------------------------------------------------------------------------- the graph


@dataclass
class Node:
    """A task call, or one group node for the calls of a `.map()`."""

    id: str
    label: str
    task: str
    cluster: str | None = None
    mapped: bool = False
    count: int | None = None  # items of a map; None when not known
    # run graphs only: Prefect's state name, its legend entry, run time, and a group's states
    state: str | None = None
    category: str | None = None
    duration: float | None = None
    states: dict[str, int] = field(default_factory=dict)


@dataclass
class Edge:
    """A dependency: `kind` is "data" (labelled with parameter names) or "wait_for"."""

    source: str
    target: str
    kind: str
    label: str


@dataclass
class Cluster:
    """A subflow call, drawn as a box around its tasks inside its `parent` cluster."""

    id: str
    label: str
    flow: str
    parent: str | None = None
    state: str | None = None
    category: str | None = None
    duration: float | None = None


FONT = "Helvetica,Arial,sans-serif"
INK = "#1f2328"
LINE = "#57606a"
FAINT = "#8c959f"
TASK_FILL = "#e7eef8"
CLUSTER_FILLS = ("#f6f8fa", "#eaeef2")  # alternate with depth so nested subflows stand out

# legend entry -> (fill, border): light tints of the Okabe-Ito colours, under dark text
STATE_COLOURS = {
    "Completed": ("#b8e3d0", "#1d7a5a"),
    "Cached": ("#bcdcf3", "#23699a"),
    "Running": ("#f4ec9c", "#7a6c00"),
    "Paused": ("#f7d79c", "#8f5f00"),
    "Failed": ("#f5bf9f", "#a3410b"),
    "Crashed": ("#e9bdd7", "#8b3b6b"),
    "Cancelled": ("#d5d8dc", "#4b5259"),
    "Not run": ("#ffffff", "#6e7781"),
}
_CATEGORY_BY_NAME = {
    "Cached": "Cached",
    "Retrying": "Running",
    "Suspended": "Paused",
    "AwaitingRetry": "Not run",
}
_CATEGORY_BY_TYPE = {
    "COMPLETED": "Completed",
    "RUNNING": "Running",
    "PAUSED": "Paused",
    "FAILED": "Failed",
    "CRASHED": "Crashed",
    "CANCELLED": "Cancelled",
    "CANCELLING": "Cancelled",
}
# a group of mapped runs takes the colour of its first category in this order
_SEVERITY = [
    "Crashed",
    "Failed",
    "Cancelled",
    "Running",
    "Paused",
    "Not run",
    "Cached",
    "Completed",
]


def state_category(state: Any) -> str:
    """The legend entry of a Prefect State (Pending, Scheduled, NotReady...: "Not run")."""
    if state is None:
        return "Not run"
    if state.name in _CATEGORY_BY_NAME:
        return _CATEGORY_BY_NAME[state.name]
    return _CATEGORY_BY_TYPE.get(getattr(state.type, "value", str(state.type)), "Not run")


def format_duration(seconds: float) -> str:
    """A short duration: <0.01 s, 0.12 s, 3.4 s, 2 min 5 s."""
    if seconds < 0.005:
        return "<0.01 s"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**attrs: Any) -> str:
    items = [f"{key}={_q(str(value))}" for key, value in attrs.items() if value is not None]
    return f" [{' '.join(items)}]" if items else ""


@dataclass
class FlowGraph:
    """Nodes, edges and clusters of one flow or flow run, drawable as DOT, SVG or PNG."""

    name: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    state: str | None = None  # run graphs: the flow run's final state and run time
    duration: float | None = None
    # source files of the traced flows and tasks: a page that draws them depends on these
    files: list[str] = field(default_factory=list, repr=False)

    def node(self, label: str) -> Node:
        """The node with this label, or else the only node of this task."""
        hits = [n for n in self.nodes if n.label == label] or [
            n for n in self.nodes if n.task == label
        ]
        if len(hits) != 1:
            raise KeyError(f"{len(hits)} nodes labelled {label!r} in {self.name!r}")
        return hits[0]

    @property
    def legend(self) -> list[str]:
        """The state colours this run graph uses, in legend order."""
        present = {n.category for n in self.nodes} | {c.category for c in self.clusters}
        return [name for name in STATE_COLOURS if name in present]

    @property
    def source(self) -> str:
        """The graph in the DOT language."""
        return _Drawing(self).dot()

    dot = source

    def pipe(self, format: str = "svg") -> bytes:
        """The drawing as svg or png bytes, made by Graphviz `dot` without writing files."""
        import graphviz

        require_dot()
        # PNGs are for screens and slides: draw them at twice the usual resolution
        source = _Drawing(self).dot(dpi=192 if format == "png" else None)
        try:
            return graphviz.Source(source).pipe(format=format, quiet=True)
        except graphviz.ExecutableNotFound as exc:
            raise FlowGraphError(DOT_NOT_FOUND) from exc
        except graphviz.CalledProcessError as exc:
            raise FlowGraphError(f"dot could not draw {self.name!r}: {exc.stderr!r}") from exc

    def svg(self) -> str:
        """The drawing as SVG text."""
        return self.pipe("svg").decode("utf-8")

    def save(self, path: str | Path) -> Path:
        """Write the drawing to `path`, as SVG or PNG by its suffix, and nothing else."""
        path = Path(path)
        fmt = path.suffix.lower().lstrip(".")
        if fmt not in ("svg", "png"):
            raise ValueError(f"cannot save a flow graph as {path.name!r}: use .svg or .png")
        path.write_bytes(self.pipe(fmt))
        return path

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"image/svg+xml": self.svg(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        return (
            f"<FlowGraph {self.name!r}: {len(self.nodes)} nodes, {len(self.edges)} edges,"
            f" {len(self.clusters)} clusters>"
        )


class _Drawing:
    """Writes a FlowGraph as DOT: nodes inside their nested clusters, then the edges."""

    def __init__(self, graph: FlowGraph) -> None:
        self.graph = graph
        self.children: dict[str | None, list[Cluster]] = {}
        for cluster in graph.clusters:
            self.children.setdefault(cluster.parent, []).append(cluster)
        self.members: dict[str | None, list[Node]] = {}
        for node in graph.nodes:
            self.members.setdefault(node.cluster, []).append(node)

    def dot(self, dpi: int | None = None) -> str:
        graph_attrs = _attrs(
            bgcolor="#ffffff",  # the page behind may be dark: bring our own background
            pad="0.3",
            rankdir="LR",
            nodesep="0.25",
            ranksep="0.45",
            compound="true",
            fontname=FONT,
            fontsize="15",
            fontcolor=INK,
            labelloc="t",
            labeljust="l",
            dpi=dpi,
        )
        node_attrs = _attrs(
            shape="box",
            style="rounded,filled",
            fontname=FONT,
            fontsize="12",
            fontcolor=INK,
            color=LINE,
            fillcolor=TASK_FILL,
            penwidth="1.2",
            margin="0.14,0.06",
            height="0.36",
        )
        edge_attrs = _attrs(
            fontname=FONT, fontsize="10", fontcolor=LINE, color=LINE, arrowsize="0.7"
        )
        lines = [
            f"digraph {_q(self.graph.name)} {{",
            f"  graph{graph_attrs}",
            f"  label={self.title()}",
            f"  node{node_attrs}",
            f"  edge{edge_attrs}",
        ]
        self.scope(lines, None, depth=0)
        lines += self.edges()
        lines.append("}")
        return "\n".join(lines) + "\n"

    def title(self) -> str:
        """The flow's name; for a run also its state, run time and the legend."""
        graph = self.graph
        if graph.state is None:
            return _q(graph.name)
        words = [f"<B>{html.escape(graph.name)}</B>", html.escape(graph.state)]
        if graph.duration is not None:
            words.append(format_duration(graph.duration))
        rows = [f'<TR><TD ALIGN="LEFT">{" · ".join(words)}</TD></TR>']
        cells = "".join(
            f'<TD BGCOLOR="{STATE_COLOURS[name][0]}" COLOR="{STATE_COLOURS[name][1]}">'
            f"{html.escape(name)}</TD>"
            for name in graph.legend
        )
        if cells:
            rows.append(
                '<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="11">'
                '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="4" CELLPADDING="3">'
                f"<TR>{cells}</TR></TABLE></FONT></TD></TR>"
            )
        table = '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
        return f"<{table}{''.join(rows)}</TABLE>>"

    def scope(self, lines: list[str], parent: str | None, depth: int) -> None:
        pad = "  " * (depth + 1)
        for node in self.members.get(parent, []):
            lines.append(f"{pad}{node.id}{self.node(node)}")
        for cluster in self.children.get(parent, []):
            label, border, width = cluster.label, FAINT, "1"
            if cluster.category is not None:
                border, width = STATE_COLOURS[cluster.category][1], "2"
                label += f" · {cluster.state}"
                if cluster.duration is not None:
                    label += f" · {format_duration(cluster.duration)}"
            attrs = _attrs(
                label=label,
                style="rounded,filled",
                fillcolor=CLUSTER_FILLS[depth % 2],
                color=border,
                penwidth=width,
                fontsize="12",
                margin="10",
            )
            lines.append(f"{pad}subgraph {cluster.id} {{")
            lines.append(f"{pad}  graph{attrs}")
            if not self.has_nodes(cluster.id):
                # graphviz leaves out empty clusters: keep the subflow visible
                empty = _attrs(label="no tasks", shape="plaintext", style="", fontcolor=LINE)
                lines.append(f"{pad}  {cluster.id}_empty{empty}")
            self.scope(lines, cluster.id, depth + 1)
            lines.append(f"{pad}}}")

    @staticmethod
    def node(node: Node) -> str:
        label = node.label
        attrs: dict[str, Any] = {}
        if node.mapped:
            attrs["peripheries"] = "2"  # a stack of runs
        if node.category is not None:
            attrs["fillcolor"], attrs["color"] = STATE_COLOURS[node.category]
            if node.category in ("Failed", "Crashed"):
                attrs["penwidth"] = "2.2"
            if node.category == "Not run":
                attrs["style"] = "rounded,filled,dashed"
            if node.duration is not None:
                label += f" · {format_duration(node.duration)}"
            if len(node.states) > 1:
                label += "\n" + ", ".join(f"{n} {state}" for state, n in node.states.items())
        return _attrs(label=label, **attrs)

    def edges(self) -> list[str]:
        clusters = {c.id for c in self.graph.clusters}
        lines = []
        for edge in self.graph.edges:
            attrs: dict[str, Any] = {}
            source, target = edge.source, edge.target
            # an edge to or from a subflow touches its border, from a node just inside
            if source in clusters:
                attrs["ltail"], source = source, self.anchor(source, last=True)
            if target in clusters:
                attrs["lhead"], target = target, self.anchor(target, last=False)
            if edge.kind == "wait_for":
                attrs.update(style="dashed", color=FAINT, fontcolor=FAINT)
            attrs["label"] = edge.label or None
            lines.append(f"  {source} -> {target}{_attrs(**attrs)}")
        return lines

    def has_nodes(self, cluster_id: str) -> bool:
        return bool(self.members.get(cluster_id)) or any(
            self.has_nodes(c.id) for c in self.children.get(cluster_id, [])
        )

    def anchor(self, cluster_id: str, last: bool) -> str:
        """A node inside a cluster (its first, or its last) to attach a border edge to."""
        found = [n.id for n in self.members.get(cluster_id, [])]
        found += [
            self.anchor(c.id, last)
            for c in self.children.get(cluster_id, [])
            if self.has_nodes(c.id)
        ]
        if not found:
            return f"{cluster_id}_empty"
        return found[-1] if last else found[0]


# --------------------------------------------------------------------------- tracing

_UNKNOWN = object()
_TRACER: contextvars.ContextVar[_Tracer | None] = contextvars.ContextVar(
    "prefect_by_example_tracer", default=None
)
_SCOPE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "prefect_by_example_scope", default=None
)


def _with_operators(cls: type) -> type:
    """Give a class Python's operators, each deriving a new traced value."""
    binary = {
        "add": operator.add,
        "sub": operator.sub,
        "mul": operator.mul,
        "matmul": operator.matmul,
        "truediv": operator.truediv,
        "floordiv": operator.floordiv,
        "mod": operator.mod,
        "divmod": divmod,
        "pow": pow,
        "lshift": operator.lshift,
        "rshift": operator.rshift,
        "and": operator.and_,
        "xor": operator.xor,
        "or": operator.or_,
    }
    for name, op in binary.items():
        setattr(cls, f"__{name}__", lambda self, other, op=op: self._derive(op, other))
        setattr(
            cls,
            f"__r{name}__",
            lambda self, other, op=op: self._derive(lambda v, o: op(o, v), other),
        )
    for name in ("lt", "le", "eq", "ne", "gt", "ge"):
        op = getattr(operator, name)
        setattr(cls, f"__{name}__", lambda self, other, op=op: self._derive(op, other))
    for name, op in {
        "neg": operator.neg,
        "pos": operator.pos,
        "abs": abs,
        "invert": operator.inv,
    }.items():
        setattr(cls, f"__{name}__", lambda self, op=op: self._derive(op))
    return cls


@_with_operators
class TracedValue:
    """Stands in for a task result while tracing; values derived from it keep its tasks."""

    __slots__ = ("_name", "_sources", "_value")

    def __init__(self, sources: tuple[str, ...], value: Any = _UNKNOWN, name: str = "result"):
        self._sources = sources
        self._value = value
        self._name = name

    def _derive(self, op, *others: Any) -> TracedValue:
        operands = (self, *others)
        sources = _merge(o._sources for o in operands if isinstance(o, TracedValue))
        values = [o._value if isinstance(o, TracedValue) else o for o in operands]
        value = _UNKNOWN
        if not any(v is _UNKNOWN for v in values):
            try:
                value = op(*values)
            except Exception:  # noqa: BLE001 - a viz_return_value without this operation
                value = _UNKNOWN
        return TracedValue(sources, value, self._name)

    @property
    def _known(self) -> bool:
        return self._value is not _UNKNOWN

    def _known_or(self, ask: Any, stand_in: Any) -> Any:
        """`ask(value)` when the value is known and supports it, else `stand_in`."""
        if self._known:
            try:
                return ask(self._value)
            except TypeError:
                pass
        return stand_in

    def __bool__(self) -> bool:
        return bool(self._value) if self._known else True

    def __len__(self) -> int:
        return self._known_or(len, PLACEHOLDER_LENGTH)

    def __iter__(self) -> Iterator[TracedValue]:
        items = self._known_or(list, [_UNKNOWN] * PLACEHOLDER_LENGTH)
        for item in items:
            yield TracedValue(self._sources, item, self._name)

    def __contains__(self, item: Any) -> bool:
        return self._known_or(lambda value: item in value, True)

    def __getitem__(self, key: Any) -> TracedValue:
        return self._derive(operator.getitem, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._known:
            self._value[key] = value

    def __getattr__(self, name: str) -> TracedValue:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._derive(lambda v: getattr(v, name))

    def __call__(self, *args: Any, **kwargs: Any) -> TracedValue:
        def call(fn: Any, *values: Any) -> Any:
            return fn(*values[: len(args)], **dict(zip(kwargs, values[len(args) :], strict=True)))

        return self._derive(call, *args, *kwargs.values())

    def __index__(self) -> int:
        if self._known:
            return operator.index(self._value)
        return PLACEHOLDER_LENGTH

    def __int__(self) -> int:
        return int(self._value) if self._known else PLACEHOLDER_LENGTH

    def __float__(self) -> float:
        return float(self._value) if self._known else float(PLACEHOLDER_LENGTH)

    def __complex__(self) -> complex:
        return complex(self._value) if self._known else complex(PLACEHOLDER_LENGTH)

    def __round__(self, ndigits: int | None = None) -> TracedValue:
        return self._derive(lambda v: round(v, ndigits))

    def __trunc__(self) -> TracedValue:
        return self._derive(math.trunc)

    def __floor__(self) -> TracedValue:
        return self._derive(math.floor)

    def __ceil__(self) -> TracedValue:
        return self._derive(math.ceil)

    def __hash__(self) -> int:
        return self._known_or(hash, hash(self._sources))

    def __str__(self) -> str:
        return str(self._value) if self._known else f"<{self._name}>"

    def __repr__(self) -> str:
        return repr(self._value) if self._known else f"<{self._name}>"

    def __format__(self, spec: str) -> str:
        if self._known:
            return format(self._value, spec)
        return format(str(self), spec if spec and spec[-1] not in "dfeEgGn%xXob" else "")


class TracedState:
    """Stands in for the State of a traced call made with `return_state=True`."""

    name = "Completed"
    type = "COMPLETED"

    def __init__(self, value: TracedValue):
        self._result = value

    def result(self, *args: Any, **kwargs: Any) -> TracedValue:
        return self._result

    def is_completed(self) -> bool:
        return True

    def is_final(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("is_"):
            return lambda: False
        raise AttributeError(name)


class TracedFuture:
    """Stands in for the PrefectFuture of a traced `.submit()` or `.map()` item."""

    def __init__(self, value: TracedValue, seq: int):
        self._result = value
        # prefect.futures.wait()/as_completed() read this private attribute
        self._final_state = TracedState(value)
        self._seq = seq
        self.task_run_id = None

    @property
    def state(self) -> TracedState:
        return self._final_state

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> TracedValue:
        return self._result

    def wait(self, timeout: float | None = None) -> None:
        return None

    def add_done_callback(self, fn: Any) -> None:
        return None

    def __hash__(self) -> int:
        # sets of futures (prefect.futures.wait) iterate in call order, not by memory address
        return self._seq

    def __repr__(self) -> str:
        return f"TracedFuture({self._result._name})"


class TracedFutureList(list):
    """Stands in for the PrefectFutureList of a traced `.map()`."""

    def __init__(self, futures: Iterable[TracedFuture], count: int | None):
        super().__init__(futures)
        self.count = count

    def wait(self, timeout: float | None = None) -> None:
        return None

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list:
        return [f.result() for f in self]


def _merge(groups: Iterable[Iterable[str]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for group in groups for s in group))


def _sources(value: Any, seen: set[int] | None = None, depth: int = 0) -> tuple[str, ...]:
    """Node ids of the traced results inside a value, searching containers."""
    if isinstance(value, TracedValue):
        return value._sources
    if isinstance(value, (TracedFuture, TracedState)):
        return value._result._sources
    if depth > 20 or value is None or isinstance(value, (str, bytes, int, float)):
        return ()
    seen = set() if seen is None else seen
    if id(value) in seen:
        return ()
    seen.add(id(value))
    if isinstance(value, dict):
        items: Iterable[Any] = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):  # unmapped() and co. are tuples
        items = value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = [getattr(value, f.name) for f in dataclasses.fields(value)]
    else:
        return ()
    return _merge(_sources(item, seen, depth + 1) for item in items)


def _map_count(parameters: dict[str, Any]) -> int | None:
    """How many runs a `.map()` with these parameters makes, or None when not known."""
    for value in parameters.values():
        while isinstance(value, BaseAnnotation) and not isinstance(value, unmapped):
            value = value.unwrap()
        if isinstance(value, (unmapped, str, bytes)):
            continue
        if isinstance(value, TracedFutureList):
            return value.count
        if isinstance(value, TracedValue):
            if not value._known:
                return None
            value = value._value
        try:
            return len(value)
        except TypeError:
            continue
    return None


@dataclass
class _Call:
    id: str
    task: str
    scope: str | None
    mapped: bool = False
    count: int | None = None


@dataclass
class _Scope:
    id: str
    flow: str
    parent: str | None


class _Tracer:
    """Records the task calls, subflow calls and dependencies of one traced flow."""

    def __init__(self) -> None:
        self.calls: list[_Call] = []
        self.scopes: list[_Scope] = []
        self.edges: dict[tuple[str, str, str], list[str]] = {}  # (source, target, kind) -> labels
        self.order: dict[str, int] = {}  # node and cluster ids in the order they were made
        self.futures = 0
        self.sources: set[str] = set()

    def note_source(self, fn: Any) -> None:
        with suppress(TypeError):  # built-in or C functions have no source file
            self.sources.add(inspect.getsourcefile(fn) or "")

    def link(self, sources: Iterable[str], target: str, kind: str, label: str) -> None:
        for source in sources:
            labels = self.edges.setdefault((source, target, kind), [])
            if label not in labels:
                labels.append(label)

    def record(self, task: Task, parameters: dict, wait_for: Any, **extra: Any) -> TracedValue:
        self.note_source(task.fn)
        call = _Call(f"t{len(self.calls) + 1}", task.name, _SCOPE.get(), **extra)
        self.calls.append(call)
        self.order[call.id] = len(self.order)
        for name, value in parameters.items():
            self.link(_sources(value), call.id, "data", name)
        self.link(_sources(wait_for), call.id, "wait_for", "wait_for")
        viz = getattr(task, "viz_return_value", None)
        return TracedValue((call.id,), _UNKNOWN if viz is None else viz, task.name)

    def future(self, value: TracedValue) -> TracedFuture:
        self.futures += 1
        return TracedFuture(value, self.futures)

    def open_scope(self, flow: Flow) -> _Scope:
        self.note_source(flow.fn)
        scope = _Scope(f"cluster_{len(self.scopes) + 1}", flow.name, _SCOPE.get())
        self.scopes.append(scope)
        self.order[scope.id] = len(self.order)
        return scope

    def inside(self, scope_id: str) -> set[str]:
        """Ids of the calls inside a scope and its nested scopes."""
        ids = {scope_id}
        for scope in self.scopes:
            if scope.parent in ids:
                ids.add(scope.id)
        return {c.id for c in self.calls if c.scope in ids}

    def graph(self, name: str) -> FlowGraph:
        nodes = [Node(c.id, c.task, c.task, c.scope, c.mapped, c.count) for c in self.calls]
        clusters = [Cluster(s.id, s.flow, s.flow, s.parent) for s in self.scopes]
        _number(nodes, lambda n: (n.cluster, n.task), lambda n: n.task)
        _number(clusters, lambda c: (c.parent, c.flow), lambda c: c.flow)
        for node in nodes:
            if node.mapped:
                node.label += f" ×{node.count if node.count is not None else 'n'}"
        # in call order, whatever order sets of results were searched in
        found = sorted(self.edges, key=lambda e: (self.order[e[1]], self.order[e[0]], e[2]))
        edges = [Edge(s, t, kind, ", ".join(self.edges[s, t, kind])) for s, t, kind in found]
        return FlowGraph(name, nodes, edges, clusters)


def _number(items: list, key, base) -> None:
    """Label items name-0, name-1... when one name occurs more than once in a scope."""
    totals: dict[Any, int] = {}
    for item in items:
        totals[key(item)] = totals.get(key(item), 0) + 1
    seen: dict[Any, int] = {}
    for item in items:
        k = key(item)
        if totals[k] > 1:
            item.label = f"{base(item)}-{seen.get(k, 0)}"
            seen[k] = seen.get(k, 0) + 1


def _bind_flow(flow: Flow, args: tuple, kwargs: dict) -> inspect.BoundArguments:
    """Flow arguments with signature defaults; missing ones become unknown traced values."""
    signature = inspect.signature(flow.fn)
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError as exc:
        raise FlowGraphError(f"cannot call flow {flow.name!r} with these arguments: {exc}") from exc
    bound.apply_defaults()
    for name, param in signature.parameters.items():
        if name not in bound.arguments and param.kind not in (
            param.VAR_POSITIONAL,
            param.VAR_KEYWORD,
        ):
            bound.arguments[name] = TracedValue((), _UNKNOWN, name)
    return bound


async def _ready(value: Any) -> Any:
    return value


def _task_call(tracer, task, *args, return_state=False, wait_for=None, **kwargs):
    value = tracer.record(task, get_call_parameters(task.fn, args, kwargs), wait_for)
    result = TracedState(value) if return_state else value
    return _ready(result) if task.isasync else result


def _task_submit(tracer, task, *args, return_state=False, wait_for=None, **kwargs):
    value = tracer.record(task, get_call_parameters(task.fn, args, kwargs), wait_for)
    return TracedState(value) if return_state else tracer.future(value)


def _task_delay(tracer, task, *args, **kwargs):
    return tracer.future(tracer.record(task, get_call_parameters(task.fn, args, kwargs), None))


def _task_apply_async(tracer, task, args=None, kwargs=None, wait_for=None, dependencies=None):
    parameters = get_call_parameters(task.fn, tuple(args or ()), dict(kwargs or {}))
    return tracer.future(tracer.record(task, parameters, wait_for))


def _task_map(tracer, task, *args, return_state=False, wait_for=None, deferred=False, **kwargs):
    parameters = get_call_parameters(task.fn, args, kwargs, apply_defaults=False)
    count = _map_count(parameters)
    value = tracer.record(task, parameters, wait_for, mapped=True, count=count)
    futures = TracedFutureList(
        (tracer.future(value) for _ in range(PLACEHOLDER_LENGTH if count is None else count)),
        count,
    )
    return [f.state for f in futures] if return_state else futures


def _flow_call(tracer, flow, *args, return_state=False, wait_for=None, **kwargs):
    """A subflow call: trace its body inside a cluster of its own."""
    bound = _bind_flow(flow, args, kwargs)
    scope = tracer.open_scope(flow)
    tracer.link(_sources(wait_for), scope.id, "wait_for", "wait_for")

    def finish(result: Any) -> Any:
        # a parameter no task inside consumed still feeds the subflow: draw it to the border
        inside = tracer.inside(scope.id)
        for name, value in bound.arguments.items():
            sources = [
                s
                for s in _sources(value)
                if not any(src == s and dst in inside for (src, dst, _) in tracer.edges)
            ]
            tracer.link(sources, scope.id, "data", name)
        if return_state:
            return TracedState(
                result if isinstance(result, TracedValue) else TracedValue((), result)
            )
        return result

    if flow.isasync:

        async def run_async() -> Any:
            token = _SCOPE.set(scope.id)
            try:
                return finish(await flow.fn(*bound.args, **bound.kwargs))
            finally:
                _SCOPE.reset(token)

        return run_async()
    token = _SCOPE.set(scope.id)
    try:
        return finish(flow.fn(*bound.args, **bound.kwargs))
    finally:
        _SCOPE.reset(token)


class _NetworkBlocked(FlowGraphError):
    """The traced flow body tried to open a network connection."""


def _guard(original, handler):
    """Call `handler` while this context traces a flow, `original` otherwise."""

    @functools.wraps(original)
    def wrapper(self, *args, **kwargs):
        tracer = _TRACER.get()
        if tracer is None:
            return original(self, *args, **kwargs)
        return handler(tracer, self, *args, **kwargs)

    return wrapper


def _guard_network(original, what: str, address_at: int):
    """Refuse `original` while this context traces a flow: its body runs for real."""

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        if _TRACER.get() is not None:
            raise _NetworkBlocked(
                f"it tried to {what} {args[address_at]!r} outside a task; tracing does not"
                " touch the network, so move that call into a task"
            )
        return original(*args, **kwargs)

    return wrapper


def _subclasses(cls: type) -> list[type]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += [c for c in _subclasses(sub) if c not in found]
    return found


_TASK_HANDLERS = {
    "__call__": _task_call,
    "submit": _task_submit,
    "map": _task_map,
    "delay": _task_delay,
    "apply_async": _task_apply_async,
}
_patch_lock = threading.Lock()
_patch_users = 0
_patched: list[tuple[Any, str, Any]] = []


def _install() -> None:
    targets = [(cls, name, h) for cls in _subclasses(Task) for name, h in _TASK_HANDLERS.items()]
    targets += [(cls, "__call__", _flow_call) for cls in _subclasses(Flow)]
    for cls, name, handler in targets:
        original = cls.__dict__.get(name)
        if original is not None:
            _patched.append((cls, name, original))
            setattr(cls, name, _guard(original, handler))
    for owner, name, what, address_at in (
        (socket.socket, "connect", "connect to", 1),
        (socket.socket, "connect_ex", "connect to", 1),
        (socket, "getaddrinfo", "look up", 0),
    ):
        original = getattr(owner, name)
        _patched.append((owner, name, original))
        setattr(owner, name, _guard_network(original, what, address_at))


def _uninstall() -> None:
    while _patched:
        owner, name, original = _patched.pop()
        setattr(owner, name, original)


@contextmanager
def _intercepting() -> Iterator[None]:
    """Route task and flow calls (and block sockets) for contexts that trace a flow."""
    global _patch_users
    with _patch_lock:
        if _patch_users == 0:
            _install()
        _patch_users += 1
    try:
        yield
    finally:
        with _patch_lock:
            _patch_users -= 1
            if _patch_users == 0:
                _uninstall()


def _run_sync(make_coroutine) -> Any:
    """Run a coroutine to the end from sync code, also where an event loop already runs."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    # inside a running loop (Jupyter): run ours on a thread, carrying this context along
    context = contextvars.copy_context()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = context.run(asyncio.run, make_coroutine())
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="prefect-by-example-run-sync")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def flow_graph(flow: Flow, *args: Any, **kwargs: Any) -> FlowGraph:
    """Graph of a flow's tasks, found by running its body with every task call stubbed out."""
    if not isinstance(flow, Flow):
        raise FlowGraphError(f"{flow!r} is not a Prefect flow (decorate it with @flow)")
    tracer = _Tracer()
    tracer.note_source(flow.fn)
    bound = _bind_flow(flow, args, kwargs)
    token = _TRACER.set(tracer)
    try:
        with _intercepting(), disable_run_logger():
            if flow.isasync:
                _run_sync(lambda: flow.fn(*bound.args, **bound.kwargs))
            else:
                flow.fn(*bound.args, **bound.kwargs)
    except Exception as exc:
        raise FlowGraphError(
            f"cannot trace flow {flow.name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        _TRACER.reset(token)
    graph = tracer.graph(flow.name)
    graph.files = sorted(tracer.sources - {""})
    return graph


# --------------------------------------------------------------------------- run graphs


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
        if time.monotonic() > deadline or not _is_final(root) or (snapshot == previous and not waiting):
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
    """Graph of a finished flow run, its subflow runs and task runs, coloured by final state."""
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
        _number(made, lambda c: c.flow, lambda c: c.flow)
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
        _number(prefect_named, lambda n: n.task, lambda n: n.task)
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
            run.state_name or "Pending": _SEVERITY.index(state_category(run.state)) for run in group
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
            category=_SEVERITY[rank[worst]],
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
