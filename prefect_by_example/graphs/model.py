"""The graph model: nodes, edges and clusters of a flow or a flow run, and run state categories.

Nothing here draws: FlowGraph's drawing methods call graphs/dot.py, which imports Graphviz only
when it draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import dot as drawing


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


# the legend entries of run states, in legend order (graphs/dot.py gives each its colours)
CATEGORIES = (
    "Completed",
    "Cached",
    "Running",
    "Paused",
    "Failed",
    "Crashed",
    "Cancelled",
    "Not run",
)
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
SEVERITY = [
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
        """The state categories this run graph uses, in legend order (empty when traced)."""
        present = {n.category for n in self.nodes} | {c.category for c in self.clusters}
        return [name for name in CATEGORIES if name in present]

    # drawing: graphs/dot.py

    @property
    def source(self) -> str:
        """The graph in the DOT language.

        The same graph gives the same text in any process (no memory addresses, no hash
        order), so a page can name its image after it.
        """
        return drawing.source(self)

    dot = source

    def pipe(self, format: str = "svg") -> bytes:
        """The drawing in `format`, made by Graphviz `dot` without writing files.

        `format` is "svg" or "png" (drawn at 192 dpi, for screens and slides), or another
        output format `dot` knows. Raises FlowGraphError when `dot` is not installed or cannot
        draw the graph, and ValueError for a format Graphviz does not know.
        """
        return drawing.pipe(self, format)

    def svg(self) -> str:
        """The drawing as SVG text; raises as `pipe` does."""
        return drawing.svg(self)

    def save(self, path: str | Path) -> Path:
        """Write the drawing to `path` and return it as a Path; no other file is written.

        The suffix of `path` picks the format: .svg or .png, in any case. Raises ValueError for
        another suffix, before drawing anything, and FlowGraphError as `pipe` does.
        """
        return drawing.save(self, path)

    def _repr_svg_(self) -> str:
        return drawing.svg(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return drawing.mimebundle(self)

    def __repr__(self) -> str:
        return (
            f"<FlowGraph {self.name!r}: {len(self.nodes)} nodes, {len(self.edges)} edges,"
            f" {len(self.clusters)} clusters>"
        )


def number_repeated(items: list, key, base) -> None:
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
