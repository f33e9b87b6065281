"""The `flow-graph` Sphinx directive: draw a Prefect flow's task graph at build time."""

from __future__ import annotations

import ast
import importlib
import os
import re
from hashlib import sha1
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from . import __version__
from .errors import FlowGraphError

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

logger = logging.getLogger(__name__)

IMAGE_DIR = "images"
IMAGE_NAME = re.compile(r"flowgraph-[0-9a-f]{40}\.(svg|png)")
# module file -> its mtime when we last imported it, to pick up edits between builds
_imported: dict[Path, int] = {}


def import_target(target: str) -> tuple[Any, Path | None]:
    """The object named by 'package.module:name' (reloaded if its file changed) and its file."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise FlowGraphError(f"expected 'package.module:flow', got {target!r}")
    try:
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
            logger.warning(
                "flow-graph %s: %s", target, exc, location=self.get_location(), type="flowgraph"
            )
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
        flow, file = import_target(target)
        if file is not None:
            self.env.note_dependency(str(file))
        args = _literal(self.options.get("args"), "args") or ()
        kwargs = _literal(self.options.get("parameters", self.options.get("kwargs")), "parameters")
        if not isinstance(args, (list, tuple)):
            raise FlowGraphError(f":args: must be a list or tuple, got {args!r}")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise FlowGraphError(f":parameters: must be a dict, got {kwargs!r}")
        from .graphs import flow_graph  # imports Prefect: only when a page draws a graph

        graph = flow_graph(flow, *args, **(kwargs or {}))
        for path in graph.files:
            self.env.note_dependency(path)
        fmt = self.options.get("format", "svg")
        digest = sha1(f"{graph.source}\nformat={fmt}".encode()).hexdigest()
        name = f"flowgraph-{digest}.{fmt}"
        path = Path(self.env.srcdir) / IMAGE_DIR / name
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            # parallel readers may draw the same graph: write aside, then swap in whole
            partial = path.with_name(f".{path.stem}-{os.getpid()}{path.suffix}")
            try:
                graph.save(partial)
                os.replace(partial, path)
            finally:
                partial.unlink(missing_ok=True)
        _used(self.env).setdefault(self.env.docname, set()).add(name)
        return f"/{IMAGE_DIR}/{name}", f"Task graph of the {graph.name} flow"


def _used(env: BuildEnvironment) -> dict[str, set[str]]:
    """Images each document draws, kept in the build environment between builds."""
    if not hasattr(env, "flowgraph_images"):
        env.flowgraph_images = {}
    return env.flowgraph_images


def purge_doc(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _used(env).pop(docname, None)


def merge_info(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: Any) -> None:
    theirs = _used(other)
    for docname in docnames:
        if docname in theirs:
            _used(env)[docname] = theirs[docname]


def prune_images(app: Sphinx, exception: BaseException | None) -> None:
    """Delete flow-graph images that no document uses any more, and nothing else."""
    if exception is not None or app.env is None:
        return
    used = set().union(*_used(app.env).values())
    folder = Path(app.srcdir) / IMAGE_DIR
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if IMAGE_NAME.fullmatch(path.name) and path.name not in used and path.is_file():
            path.unlink()


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the `flow-graph` directive and the upkeep of its images."""
    app.add_directive("flow-graph", FlowGraphDirective)
    app.connect("env-purge-doc", purge_doc)
    app.connect("env-merge-info", merge_info)
    app.connect("build-finished", prune_images)
    return {
        "version": __version__,
        "env_version": 1,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
