"""Running a page's code.

Tutorials are MyST notebooks that myst-nb executes, through jupyter-cache. Concept pages are
rst pages whose `jupyter-execute` cells jupyter-sphinx executes; here a page runs one session
per kernel name, as a notebook with two kernels would (switching back to a kernel continues
its session), with the page's kernels side by side, each in a scratch folder removed
afterwards. A session whose code is unchanged comes from the execution cache (`caching`). A
cell that raises becomes a warning naming the page, the cell and the traceback. What ran,
when and how long, is recorded for the page (`provenance`).
"""

from __future__ import annotations

import base64
import copy
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

from . import buildserver, caching, downloads, images, provenance
from .messages import logger, warn
from .runtime import stop_kernels

CODE_CELL = re.compile(r"^(?:```|:::)\{code-cell\}|^\s*\.\. jupyter-execute::", re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def runs_code(source: str) -> bool:
    """Whether a page's source has cells that execute (a MyST notebook's or jupyter-sphinx's)."""
    return bool(CODE_CELL.search(source))


class SessionSplitError(ExtensionError):
    """jupyter-sphinx asked for the page's parts in a way the sessions did not foresee."""


def unexpected_errors(notebook, raises: list) -> list[dict]:
    """The errors of cells not marked to raise them, as jupyter-sphinx judges them."""
    failures = []
    for cell, allowed in zip(notebook.cells, raises, strict=True):
        for output in cell.outputs:
            if output.get("output_type") != "error":
                continue
            if allowed is not None and (not allowed or output["ename"] in allowed):
                continue  # `:raises:` alone allows any error; with names, those
            error = f"{output['ename']}: {ANSI.sub('', output['evalue'])}"
            failures.append({"cell": cell.source, "error": error})
    return failures


class PageSessions:
    """The `jupyter-execute` cells of one rst page, run as one kernel session per kernel name.

    jupyter-sphinx asks for the page's parts (the runs of cells between `jupyter-kernel`
    directives) one after another; the first request runs (or finds in the cache) every
    session, later ones take their part of a session's executed notebook.
    """

    def __init__(self, transform, execute_cells) -> None:
        import nbformat
        from jupyter_sphinx.ast import JupyterCellNode, JupyterKernelNode
        from jupyter_sphinx.utils import split_on

        self.env = transform.env
        self.docname = transform.env.docname
        self.doctree = transform.document
        self.execute_cells = execute_cells  # jupyter-sphinx's own: a fresh kernel, the cells
        default = transform.config.jupyter_execute_default_kernel
        found = self.doctree.findall(
            lambda node: isinstance(node, (JupyterCellNode, JupyterKernelNode))
        )
        # the page's parts in page order, split as jupyter-sphinx splits them: (kernel, cells)
        self.parts: list[tuple[str, list]] = []
        self.raises: dict[str, list] = {}  # per kernel, each cell's `:raises:` (None: unmarked)
        for first, *rest in split_on(lambda node: isinstance(node, JupyterKernelNode), found):
            if isinstance(first, JupyterKernelNode):
                kernel, nodes = first["kernel_name"] or default, rest
            else:
                kernel, nodes = default, [first, *rest]
            cells = [nbformat.v4.new_code_cell(n.astext() if n["execute"] else "") for n in nodes]
            self.parts.append((kernel, cells))
            self.raises.setdefault(kernel, []).extend(n.get("raises") for n in nodes)
        self.ready: list | None = None  # executed parts not yet handed out
        # pictures the page embeds from images/ that its code writes, and what it wrote
        self.wanted_images = images.wanted_kernel_images(self.doctree)
        self.written_images: dict[str, bytes] = {}

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
        """Each kernel's cells as one session: from the cache, or run side by side. The
        executed notebooks, cut back into the page's parts."""
        sessions = {
            kernel: [cell for k, cells in self.parts if k == kernel for cell in cells]
            for kernel, _ in self.parts
        }
        store = caching.SessionCache(self.env, self.docname) if caching.enabled(self.env) else None
        ran, runs = {}, []  # kernel -> executed notebook; (when, seconds, cached) per session
        for kernel, cells in sessions.items():
            found = store.find(kernel, cells) if store else None
            if found is not None:
                ran[kernel], record = found
                ran_at = provenance.utc_timestamp(record.created)
                runs.append((ran_at, record.data.get("execution_seconds"), True))
        missing = {kernel: cells for kernel, cells in sessions.items() if kernel not in ran}
        if ran:
            logger.info(f"{self.docname}: {', '.join(sorted(ran))} from the execution cache")
        started = time.time()
        ran.update(self.run_missing(missing, execute_kwargs))
        seconds = time.time() - started
        if missing:
            logger.info(f"{self.docname}: ran {', '.join(sorted(missing))} in {seconds:.1f} s")
        failures = []
        for kernel, notebook in ran.items():
            failed = unexpected_errors(notebook, self.raises[kernel])
            failures += failed
            if kernel in missing:
                runs.append((started, seconds, False))
                if store and not failed:  # a failed cell is never served as if it passed
                    store.store(kernel, notebook, seconds)
            self.use_artifacts(notebook)
            downloads.keep_session(self.env, self.docname, kernel, notebook, self.raises[kernel])
        provenance.record(self.env, self.docname, sorted(ran), runs, failures)
        parts, taken = [], dict.fromkeys(ran, 0)
        for kernel, cells in self.parts:
            part = copy.copy(ran[kernel])
            part.cells = ran[kernel].cells[taken[kernel] : taken[kernel] + len(cells)]
            taken[kernel] += len(cells)
            parts.append((kernel, part))
        return parts

    def run_missing(self, sessions: dict, execute_kwargs: dict) -> dict:
        """Run these sessions side by side, each in a kernel of its own."""
        if not sessions:
            return {}
        pool = ThreadPoolExecutor(len(sessions), thread_name_prefix="pbe-kernel")
        try:
            futures = {
                kernel: pool.submit(self.run_session, kernel, cells, execute_kwargs)
                for kernel, cells in sessions.items()
            }
            return {kernel: future.result() for kernel, future in futures.items()}
        except (KeyboardInterrupt, SystemExit):
            # the build is stopping: end the kernels, so the threads waiting on them end too
            stop_kernels()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def run_session(self, kernel: str, cells: list, execute_kwargs: dict):
        """One kernel's cells, run in a scratch folder; the executed notebook (one output box
        per cell's stream) keeps in its metadata what the code wrote for the build: pictures
        for images/, and which of the page's files it copied (with their hashes)."""
        from nbconvert.preprocessors import CoalesceStreamsPreprocessor

        # files a page writes land in a folder removed afterwards, never in the sources
        with tempfile.TemporaryDirectory(prefix="pbe-page-") as cwd:
            # the kernel starts while the build's server does; its first cell waits for it
            ready = buildserver.BUILD_SERVER.ensure_ready
            options = {**execute_kwargs, "cwd": cwd, "on_notebook_start": lambda notebook: ready()}
            notebook = self.execute_cells(kernel, cells, options)
            written = images.collect_kernel_images(Path(cwd), self.wanted_images)
            read = caching.files_read(Path(cwd))
        notebook, _ = CoalesceStreamsPreprocessor().preprocess(notebook, {})
        notebook.metadata["pbe"] = {
            "images": {name: base64.b64encode(data).decode() for name, data in written.items()},
            "files": caching.file_hashes(Path(self.env.srcdir), read),
        }
        return notebook

    def use_artifacts(self, notebook) -> None:
        """Pictures and files of a session, run now or found in the cache, for this page."""
        kept = notebook.metadata.get("pbe", {})
        for name, data in kept.get("images", {}).items():
            self.written_images[name] = base64.b64decode(data)
        for name in kept.get("files", {}):
            # an edit of a file the code read makes Sphinx read this page again
            self.env.note_dependency(str(Path(self.env.srcdir, name)))


def record_notebook_execution(app: Sphinx, doctree) -> None:
    """What myst-nb says of a tutorial's execution, as the page's record (doctree-read)."""
    from myst_nb.sphinx_ import NbMetadataCollector

    data = NbMetadataCollector.get_exec_data(app.env, app.env.docname)
    if not data:
        return
    kernelspec = app.env.metadata[app.env.docname].get("kernelspec") or {}
    kernel = kernelspec.get("name", "python3") if isinstance(kernelspec, dict) else "python3"
    failures = []
    if not data.get("succeeded"):
        failures.append(
            {"cell": failing_cell(data.get("traceback") or ""), "error": data.get("error")}
        )
    run = (data["mtime"], data.get("runtime"), False)  # from the cache if it ran before this read
    provenance.record(app.env, app.env.docname, [kernel], [run], failures)


def failing_cell(traceback: str) -> str:
    """The cell source nbclient's CellExecutionError quotes between its dashed lines."""
    match = re.search(r"\n-{10,}\n(.*?)\n-{10,}\n", ANSI.sub("", traceback), re.S)
    return match[1] if match else ""


def create_execution_cache(app: Sphinx, env, docnames: list[str]) -> None:
    """Create the execution cache's database before the reading processes fork.

    Each process creates it on first use when it is missing, and two doing so at once fail
    with "table ... already exists".
    """
    if docnames and caching.enabled(env):
        from jupyter_cache import get_cache

        _ = get_cache(str(caching.cache_path(env))).db  # made on first use
