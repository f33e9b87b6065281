"""Running a page's code.

Tutorials are MyST notebooks that myst-nb executes, through jupyter-cache. Concept pages are
rst pages whose `jupyter-execute` cells jupyter-sphinx executes; here a page runs one session
per kernel name, as a notebook with two kernels would (switching back to a kernel continues
its session), with the page's kernels side by side, each in a scratch folder removed
afterwards. A cell that raises becomes a warning naming the page, the cell and the traceback.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

from . import images
from .messages import warn
from .runtime import stop_kernels

CODE_CELL = re.compile(r"^(?:```|:::)\{code-cell\}|^\s*\.\. jupyter-execute::", re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def runs_code(source: str) -> bool:
    """Whether a page's source has cells that execute (a MyST notebook's or jupyter-sphinx's)."""
    return bool(CODE_CELL.search(source))


class SessionSplitError(ExtensionError):
    """jupyter-sphinx asked for the page's parts in a way the sessions did not foresee."""


class PageSessions:
    """The `jupyter-execute` cells of one rst page, run as one kernel session per kernel name.

    jupyter-sphinx asks for the page's parts (the runs of cells between `jupyter-kernel`
    directives) one after another; the first request runs every session, later ones take
    their part of a session's executed notebook.
    """

    def __init__(self, transform, execute_cells) -> None:
        import nbformat
        from jupyter_sphinx.ast import JupyterCellNode, JupyterKernelNode
        from jupyter_sphinx.utils import split_on

        self.env = transform.env
        self.docname = transform.env.docname
        self.execute_cells = execute_cells  # jupyter-sphinx's own: a fresh kernel, the cells
        default = transform.config.jupyter_execute_default_kernel
        found = transform.document.findall(
            lambda node: isinstance(node, (JupyterCellNode, JupyterKernelNode))
        )
        # the page's parts in page order, split as jupyter-sphinx splits them: (kernel, cells)
        self.parts: list[tuple[str, list]] = []
        for first, *rest in split_on(lambda node: isinstance(node, JupyterKernelNode), found):
            if isinstance(first, JupyterKernelNode):
                kernel, nodes = first["kernel_name"] or default, rest
            else:
                kernel, nodes = default, [first, *rest]
            cells = [nbformat.v4.new_code_cell(n.astext() if n["execute"] else "") for n in nodes]
            self.parts.append((kernel, cells))
        self.ready: list | None = None  # executed parts not yet handed out
        # pictures the page embeds from images/ that its code writes, and what it wrote
        self.wanted_images = images.wanted_kernel_images(transform.document)
        self.written_images: dict[str, bytes] = {}
        self.doctree = transform.document

    def run(self, apply) -> None:
        """Let jupyter-sphinx execute the page; a cell that raises becomes a warning."""
        # kernels find the page's own files (e.g. examples/) through this variable
        os.environ["PBE_PAGE_DIR"] = str(Path(self.env.doc2path(self.docname)).parent)
        try:
            apply()
        except SessionSplitError:
            raise
        except ExtensionError as err:
            # the message holds the kernel's traceback, which quotes the failing cell's code
            warn(
                "a jupyter-execute cell raised an exception and is not marked `:raises:`\n"
                + ANSI.sub("", str(err.message)),
                "cell-error",
                location=self.docname,
            )
        images.place_kernel_images(self.env, self.doctree, self.written_images)

    def execute(self, kernel_name: str, cells: list, execute_kwargs: dict):
        """The executed notebook of the page's next part, as jupyter-sphinx expects it."""
        if self.ready is None:
            self.ready = self.run_sessions(execute_kwargs)
        if not self.ready:
            raise SessionSplitError(f"{self.docname}: jupyter-sphinx asked for more parts")
        kernel, notebook = self.ready.pop(0)
        if kernel != kernel_name or len(notebook.cells) != len(cells):
            raise SessionSplitError(
                f"{self.docname}: jupyter-sphinx asked for {len(cells)} cells of kernel "
                f"{kernel_name!r} where the page's next part has {len(notebook.cells)} of "
                f"{kernel!r}: its split changed (see prefect_by_example/patches/)"
            )
        return notebook

    def run_sessions(self, execute_kwargs: dict) -> list:
        """Run each kernel's cells as one session, side by side; cut the results into parts."""
        sessions = {
            kernel: [cell for k, cells in self.parts if k == kernel for cell in cells]
            for kernel, _ in self.parts
        }
        pool = ThreadPoolExecutor(len(sessions), thread_name_prefix="pbe-kernel")
        try:
            futures = {
                kernel: pool.submit(self.run_session, kernel, cells, execute_kwargs)
                for kernel, cells in sessions.items()
            }
            ran = {}
            for kernel, future in futures.items():
                ran[kernel], written = future.result()
                self.written_images.update(written)
        except (KeyboardInterrupt, SystemExit):
            # the build is stopping: end the kernels, so the threads waiting on them end too
            stop_kernels()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        parts, taken = [], dict.fromkeys(ran, 0)
        for kernel, cells in self.parts:
            part = copy.copy(ran[kernel])
            part.cells = ran[kernel].cells[taken[kernel] : taken[kernel] + len(cells)]
            taken[kernel] += len(cells)
            parts.append((kernel, part))
        return parts

    def run_session(self, kernel: str, cells: list, execute_kwargs: dict):
        """One kernel's cells, run in a scratch folder: the executed notebook (one output box
        per cell's stream) and the pictures for images/ that the code wrote there."""
        from nbconvert.preprocessors import CoalesceStreamsPreprocessor

        # files a page writes land in a folder removed afterwards, never in the sources
        with tempfile.TemporaryDirectory(prefix="pbe-page-") as cwd:
            notebook = self.execute_cells(kernel, cells, {**execute_kwargs, "cwd": cwd})
            written = images.collect_kernel_images(Path(cwd), self.wanted_images)
        notebook, _ = CoalesceStreamsPreprocessor().preprocess(notebook, {})
        return notebook, written


def create_execution_cache(app: Sphinx, env, docnames: list[str]) -> None:
    """Create myst-nb's jupyter-cache database before the reading processes fork.

    Each process creates it on first use when it is missing, and two doing so at once fail
    with "table ... already exists".
    """
    config = getattr(env, "mystnb_config", None)
    if docnames and config is not None and config.execution_mode == "cache":
        from jupyter_cache import get_cache

        _ = get_cache(config.execution_cache_path).db  # made on first use
