"""Task graphs of Prefect 3 flows: traced from the code, or read from a finished run.

- `model`: the graph (Node, Edge, Cluster, FlowGraph) and the state categories of run graphs;
- `dot`: drawing it: the palette, the DOT text, SVG and PNG made by Graphviz `dot`;
- `trace`: `flow_graph`, which traces a flow's code;
- `runs`: `run_graph`, which reads a finished run from the Prefect API.
"""

from __future__ import annotations

from ..errors import FlowGraphError
from .dot import STATE_COLOURS, require_dot
from .model import Cluster, Edge, FlowGraph, Node
from .runs import run_graph
from .trace import PLACEHOLDER_LENGTH, flow_graph

__all__ = [
    "PLACEHOLDER_LENGTH",
    "STATE_COLOURS",
    "Cluster",
    "Edge",
    "FlowGraph",
    "FlowGraphError",
    "Node",
    "flow_graph",
    "require_dot",
    "run_graph",
]
