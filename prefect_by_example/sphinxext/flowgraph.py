"""The `flow-graph` directive: draw a Prefect flow's task graph at build time.

``.. flow-graph:: package.module:flow`` traces the flow's code (nothing runs, no server is
needed) and embeds the picture from images/, for pages that show a flow's picture without the
code that draws it.
"""

from __future__ import annotations

import ast
import importlib
import sys
from contextlib import contextmanager
from hashlib import sha1
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from ..errors import FlowGraphError
from . import images
from .messages import warn

# module file -> its mtime when we last imported it, to pick up edits between builds
_imported: dict[Path, int] = {}


@contextmanager
def _importable_from(folders: list[Path]):
    """`folders` first on sys.path for the length of the block."""
    added = [str(folder) for folder in folders if str(folder) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for folder in added:
            sys.path.remove(folder)


def import_target(target: str, folders: list[Path] = ()) -> tuple[Any, Path | None]:
    """The object named by 'package.module:name' (reloaded if its file changed) and its file.

    `folders` are searched first, for modules that are no installed package (the pages'
    examples). Raises FlowGraphError, with the reason, when the target cannot be imported.
    """
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise FlowGraphError(f"expected 'package.module:flow', got {target!r}")
    try:
        with _importable_from(list(folders)):
            module = importlib.import_module(module_name)
        file = Path(module.__file__) if getattr(module, "__file__", None) else None
        if file is not None and file.exists():
            mtime = file.stat().st_mtime_ns
            if _imported.setdefault(file, mtime) != mtime:
                module = importlib.reload(module)
                _imported[file] = mtime
        obj: Any = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:
        raise FlowGraphError(f"cannot import {target!r}: {type(exc).__name__}: {exc}") from exc
    return obj, file


def _literal(text: str | None, option: str) -> Any:
    if text is None:
        return None
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError) as exc:
        raise FlowGraphError(f":{option}: must be a Python literal, got {text!r}") from exc


class FlowGraphDirective(SphinxDirective):
    """Draw the task graph of a flow: ``.. flow-graph:: package.module:flow``."""

    required_arguments = 1
    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {
        "args": directives.unchanged,
        "kwargs": directives.unchanged,
        "parameters": directives.unchanged,
        "alt": directives.unchanged,
        "caption": directives.unchanged,
        "name": directives.unchanged,
        "class": directives.class_option,
        "width": directives.length_or_percentage_or_unitless,
        "align": lambda arg: directives.choice(arg, ("left", "center", "right")),
        "format": lambda arg: directives.choice(arg, ("svg", "png")),
    }

    def run(self) -> list[nodes.Node]:
        target = self.arguments[0]
        try:
            uri, alt = self._draw(target)
        except FlowGraphError as exc:
            warn(f"flow-graph {target}: {exc}", "flow-graph", location=self.get_location())
            return []
        image = nodes.image(uri=uri, alt=self.options.get("alt", alt))
        image["classes"] += self.options.get("class", [])
        for key in ("width", "align"):
            if key in self.options:
                image[key] = self.options[key]
        self.set_source_info(image)
        if "caption" not in self.options:
            self.add_name(image)
            return [image]
        figure = nodes.figure("", image)
        self.set_source_info(figure)
        parsed, _ = self.state.inline_text(self.options["caption"], self.lineno)
        figure += nodes.caption(self.options["caption"], "", *parsed)
        self.add_name(figure)
        return [figure]

    def _draw(self, target: str) -> tuple[str, str]:
        """Trace the flow, write its image once, and return the image uri and alt text."""
        folders = [Path(self.env.srcdir, f) for f in self.config.pbe_flow_modules_path]
        flow, file = import_target(target, folders)
        if file is not None:
            self.env.note_dependency(str(file))
        args = _literal(self.options.get("args"), "args") or ()
        kwargs = _literal(self.options.get("parameters", self.options.get("kwargs")), "parameters")
        if not isinstance(args, (list, tuple)):
            raise FlowGraphError(f":args: must be a list or tuple, got {args!r}")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise FlowGraphError(f":parameters: must be a dict, got {kwargs!r}")
        from ..graphs import flow_graph  # imports Prefect: only when a page draws a graph

        graph = flow_graph(flow, *args, **(kwargs or {}))
        for path in graph.files:
            self.env.note_dependency(path)
        fmt = self.options.get("format", "svg")
        # named by what draws it: the DOT source and the format
        digest = sha1(f"{graph.source}\nformat={fmt}".encode()).hexdigest()
        name = f"flowgraph-{digest}.{fmt}"
        uri = images.store(self.env, self.env.docname, name, lambda: graph.pipe(fmt))
        return uri, f"Task graph of the {graph.name} flow"


def setup(app: Sphinx) -> dict[str, Any]:
    """The `flow-graph` directive and the images/ folder it draws into; usable on its own."""
    from .. import __version__

    app.setup_extension("prefect_by_example.sphinxext.images")
    app.add_config_value(
        "pbe_flow_modules_path", [], "env", types=[list],
        description="folders, relative to the sources, where flow-graph targets are imported from",
    )  # fmt: skip
    app.add_directive("flow-graph", FlowGraphDirective)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
