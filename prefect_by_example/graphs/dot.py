"""Drawing a FlowGraph: the palette, the DOT writer, and Graphviz `dot` to make SVG or PNG."""

from __future__ import annotations

import html
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import FlowGraphError

if TYPE_CHECKING:
    from .model import Cluster, FlowGraph, Node

DOT_NOT_FOUND = (
    "Graphviz `dot` not found on PATH: install it with `sudo apt-get install graphviz`"
    " (Debian/Ubuntu) or `brew install graphviz`"
)


def require_dot() -> str:
    """The path of Graphviz `dot` on PATH, which drawing needs (tracing and reading do not).

    Raises FlowGraphError, saying how to install Graphviz, when there is none.
    """
    path = shutil.which("dot")
    if path is None:
        raise FlowGraphError(DOT_NOT_FOUND)
    return path


FONT = "Helvetica,Arial,sans-serif"
INK = "#1f2328"
LINE = "#57606a"
FAINT = "#8c959f"
TASK_FILL = "#e7eef8"
CLUSTER_FILLS = ("#f6f8fa", "#eaeef2")  # alternate with depth so nested subflows stand out

# legend entry -> (fill, border): light tints of the Okabe-Ito colours, under dark text;
# one entry per model.CATEGORIES, in the same order
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


def source(graph: FlowGraph, dpi: int | None = None) -> str:
    """The graph in the DOT language."""
    return _Drawing(graph).dot(dpi)


def pipe(graph: FlowGraph, format: str = "svg") -> bytes:
    """The drawing as svg or png bytes, made by Graphviz `dot` without writing files."""
    import graphviz

    require_dot()
    # PNGs are for screens and slides: draw them at twice the usual resolution
    dot = source(graph, dpi=192 if format == "png" else None)
    try:
        return graphviz.Source(dot).pipe(format=format, quiet=True)
    except graphviz.ExecutableNotFound as exc:
        raise FlowGraphError(DOT_NOT_FOUND) from exc
    except graphviz.CalledProcessError as exc:
        raise FlowGraphError(f"dot could not draw {graph.name!r}: {exc.stderr!r}") from exc


def svg(graph: FlowGraph) -> str:
    """The drawing as SVG text."""
    return pipe(graph, "svg").decode("utf-8")


def save(graph: FlowGraph, path: str | Path) -> Path:
    """Write the drawing to `path`, as SVG or PNG by its suffix, and nothing else."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png"):
        raise ValueError(f"cannot save a flow graph as {path.name!r}: use .svg or .png")
    path.write_bytes(pipe(graph, fmt))
    return path


def mimebundle(graph: FlowGraph) -> dict[str, str]:
    """What Jupyter shows: the SVG drawing, and the repr as text."""
    return {"image/svg+xml": svg(graph), "text/plain": repr(graph)}
