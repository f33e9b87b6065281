"""Sphinx hooks: a private Prefect server per build, a quiet kernel environment, clear errors."""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from datetime import date
from importlib import metadata
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

from . import ENV_CACHE, __version__
from .server import QUIET_ENV, PrefectServer, empty_db_template

logger = logging.getLogger(__name__)

LOGGING_CONFIG = Path(__file__).with_name("logging.yml")
HOME_MARKER = ".made-by-build"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def runtime_dir(app: Sphinx) -> Path:
    """Where the build keeps its server home and kernel state: beside the doctrees."""
    return Path(app.doctreedir).parent / "runtime"


def prepare_runtime(app: Sphinx) -> None:
    """Export what the build and every kernel it starts inherit; nothing lands under HOME.

    Runs before anything imports Prefect, which reads PREFECT_HOME once, on import.
    """
    runtime = runtime_dir(app)
    env = {
        # the interpreter running Sphinx is the one `python3` kernels and `prefect` resolve to
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "IPYTHONDIR": str(runtime / "ipython"),
        "JUPYTER_RUNTIME_DIR": str(runtime / "jupyter-runtime"),
        "JUPYTER_DATA_DIR": str(runtime / "jupyter-data"),
        # matplotlib's font cache takes seconds to make: kept with the environment, like bytecode
        "MPLCONFIGDIR": str(ENV_CACHE / "matplotlib"),
        # prefect 3: plain log lines, no links to a UI, no telemetry
        "PREFECT_LOGGING_SETTINGS_PATH": str(LOGGING_CONFIG),
        "PREFECT_HOME": str(fresh_prefect_home(runtime / "prefect-home")),
        # prefect 1 (legacy kernel): its own home, log lines without timestamps
        "PREFECT__HOME_DIR": str(fresh_prefect_home(runtime / "prefect1-home")),
        "PREFECT__LOGGING__FORMAT": "%(levelname)s - %(name)s | %(message)s",
        "PREFECT__BACKEND": "server",
        "PREFECT__CLOUD__USE_LOCAL_SECRETS": "true",
        **QUIET_ENV,
    }
    os.environ.update(env)
    for name in ("IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "MPLCONFIGDIR"):
        Path(env[name]).mkdir(parents=True, exist_ok=True)


def fresh_prefect_home(home: Path) -> Path:
    """An empty Prefect home for this build: no database, cache or result of an earlier one.

    Only a home an earlier build made (it carries our marker) is removed.
    """
    if (home / HOME_MARKER).exists():
        shutil.rmtree(home)
    elif home.exists() and any(home.iterdir()):
        raise ExtensionError(f"{home} holds files this build did not make; move them away")
    home.mkdir(parents=True, exist_ok=True)
    (home / HOME_MARKER).write_text("made by the prefect_by_example Sphinx extension\n")
    return home


def add_kernels(app: Sphinx) -> None:
    """Put the project's kernels folder on JUPYTER_PATH and check every kernel is there."""
    kernels = Path(app.confdir, app.config.pbe_kernels_path).resolve()
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(kernels), os.environ.get("JUPYTER_PATH")])
    )
    check_kernels(app, kernels)


def check_kernels(app: Sphinx, kernels: Path) -> None:
    """Fail early, with the fix, when a kernel the pages need is not installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    specs = KernelSpecManager()
    for name in app.config.pbe_kernels:
        try:
            specs.get_kernel_spec(name)
        except NoSuchKernel:
            raise ExtensionError(
                f"Jupyter kernel {name!r} is not installed (looked in {kernels} and the usual "
                "Jupyter paths): run `make kernels` (or `nox -s kernels`) to create it"
            ) from None


class BuildServer:
    """The build's one Prefect server: started when pages are to be read, stopped at the end.

    It starts in the background: pages that run no code are read meanwhile, and a page that
    does waits for it (in whichever process reads the page) before its code runs.
    """

    def __init__(self) -> None:
        self.server: PrefectServer | None = None
        self.ready = False  # in this process; a reading process forked early waits for itself

    def start(self, app: Sphinx, env, docnames: list[str]) -> None:
        if not docnames or not app.config.pbe_prefect_server or self.server is not None:
            return
        home = Path(os.environ["PREFECT_HOME"])
        template = empty_db_template()  # copied: no migrations on each build
        self.server = PrefectServer(home, db_template=template)
        # stop it however the build ends: normally, on an error, on Ctrl-C or on SIGTERM
        atexit.register(self.stop)
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        self.server.launch()
        os.environ.update(self.server.client_env())
        url = self.server.api_url
        logger.info(f"starting a private Prefect server for this build, listening on {url}")

    def wait(self, app: Sphinx, docname: str, source: list[str]) -> None:
        """Before a page's code runs, wait until the server answers."""
        if self.server is not None and not self.ready and runs_code(source[0]):
            self.server.wait_ready()
            self.ready = True

    def stop(self, *args) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()


CODE_CELL = re.compile(r"^(?:```|:::)\{code-cell\}|^\s*\.\. jupyter-execute::", re.M)


def runs_code(source: str) -> bool:
    """Whether a page's source has cells that execute (a MyST notebook's or jupyter-sphinx's)."""
    return bool(CODE_CELL.search(source))


def schedule_pages(app: Sphinx, env, docnames: list[str]) -> None:
    """Read one page per process, the slowest first (Sphinx lets this hook reorder)."""
    from .schedule import longest_first, one_page_per_chunk, read_seconds

    if app.parallel > 1:
        times = app.config.pbe_page_seconds
        seconds = read_seconds(Path(app.srcdir, times)) if times else {}
        # pages without code go first: they are read while the Prefect server starts
        code = {doc for doc in docnames if runs_code(env.doc2path(doc).read_text(encoding="utf8"))}
        docnames[:] = longest_first(docnames, seconds, app.parallel, last=code)
        one_page_per_chunk()


def end_schedule(app: Sphinx, env) -> None:
    from .schedule import restore_chunks

    restore_chunks()


def create_execution_cache(app: Sphinx, env, docnames: list[str]) -> None:
    """Create myst-nb's jupyter-cache database before the reading processes fork.

    Each process creates it on first use when it is missing, and two doing so at once fail
    with "table ... already exists".
    """
    config = getattr(env, "mystnb_config", None)
    if docnames and config is not None and config.execution_mode == "cache":
        from jupyter_cache import get_cache

        get_cache(config.execution_cache_path).db


def serialize_execution_cache() -> None:
    """Let one process at a time use jupyter-cache's database.

    The reading processes share it, and SQLite gives up on a write after 5 s of waiting for
    another process's transaction: on a busy machine a page then failed with "database is
    locked". Every access of jupyter-cache goes through `session_context`; here it first takes
    an exclusive lock on a file beside the database (re-entrant within a process).
    """
    import contextlib
    import fcntl
    import threading

    from jupyter_cache.cache import db

    if getattr(db.session_context, "_pbe_serialized", False):
        return
    original = db.session_context
    held = threading.local()

    @contextlib.contextmanager
    def session_context(engine):
        if getattr(held, "depth", 0):
            with original(engine) as session:
                yield session
            return
        lock = Path(f"{engine.url.database}.lock")
        with open(lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            held.depth = 1
            try:
                with original(engine) as session:
                    yield session
            finally:
                held.depth = 0

    session_context._pbe_serialized = True
    db.session_context = session_context


def start_page_clock(app: Sphinx, docname: str, source: list[str]) -> None:
    app.env.temp_data["pbe_read_started"] = time.perf_counter()


def stop_page_clock(app: Sphinx, doctree) -> None:
    """Record how long reading (and so executing) the page took, for the benchmark."""
    started = app.env.temp_data.get("pbe_read_started")
    if started is not None:
        seconds = time.perf_counter() - started
        app.env.metadata[app.env.docname]["pbe_read_seconds"] = round(seconds, 2)
        logger.verbose(f"read {app.env.docname} in {seconds:.1f} s")


def publish_notebook_with_outputs(app: Sphinx, pagename: str, templatename, context, doctree):
    """Serve the executed notebook as the page's .ipynb download, outputs included.

    On a cache hit myst-nb hands the theme a notebook without outputs; the cache has them.
    """
    source = Path(app.env.doc2path(pagename))
    if not context.get("ipynb_source") or source.suffix != ".md":
        return
    import nbformat
    from jupyter_cache import get_cache
    from myst_nb.core.read import read_myst_markdown_notebook

    notebook = read_myst_markdown_notebook(source.read_text(encoding="utf8"))
    try:
        _, notebook = get_cache(app.env.mystnb_config.execution_cache_path).merge_match_into_notebook(
            notebook
        )
    except KeyError:
        return  # executed outside the cache (force mode): the theme's copy has its outputs
    nbformat.write(notebook, Path(app.outdir, "_sources", pagename + ".ipynb"))


def drop_assets_we_do_not_ship(app: Sphinx, pagename: str, templatename, context, doctree):
    """Link only files the site holds: it works offline and tells no other host who reads it.

    jupyter-sphinx adds the ipywidgets loaders from CDNs to every page (no page shows a
    widget) and links its Thebe files even when Thebe is off, when it does not copy them.
    """
    thebe = bool(app.config.jupyter_sphinx_thebelab_config)

    def shipped(asset) -> bool:
        name = str(getattr(asset, "filename", asset))
        return "://" not in name and (thebe or not name.rpartition("/")[2].startswith("thebelab"))

    for key in ("script_files", "css_files"):
        if context.get(key) is not None:
            context[key][:] = [asset for asset in context[key] if shipped(asset)]


SVG_OBJECT = re.compile(
    r'<object (data="[^"]*" type="image/svg\+xml" class="[^"]*")>\s*<p class="warning">(.*?)</p>', re.S
)


def name_svg_objects(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Give sphinx.ext.graphviz's SVG <object> its alt text as an accessible name.

    Its alt text sits in a fallback paragraph that assistive technology never reaches.
    """
    if "body" in context:
        context["body"] = SVG_OBJECT.sub(r'<object \1 role="img" aria-label="\2">\n<p class="warning">\2</p>', context["body"])


def mark_executed_pages(app: Sphinx, doctree) -> None:
    """Say under the title of every page that runs code what it ran with, and when."""
    from docutils import nodes
    from jupyter_sphinx.ast import JupyterCellNode, JupyterKernelNode

    myst_cells = list(doctree.findall(lambda n: isinstance(n, nodes.Element) and n.get("nb_element") == "cell_code"))
    rst_cells = list(doctree.findall(JupyterCellNode))
    if not (myst_cells or rst_cells):
        return
    kernels = {n["kernel_name"] for n in doctree.findall(JupyterKernelNode)}
    kernelspec = app.env.metadata[app.env.docname].get("kernelspec") or {}
    if myst_cells and isinstance(kernelspec, dict):
        kernels.add(kernelspec.get("name", "python3"))
    ran_with = [f"Prefect {metadata.version('prefect')}"]
    if "prefect1" in kernels:
        ran_with.append(f"Prefect {legacy_prefect_version()} (legacy kernel)")
    note = nodes.paragraph(
        "", f"Executed with {' and '.join(ran_with)} on {date.today():%Y-%m-%d}.",
        classes=["pbe-executed"],
    )  # fmt: skip
    title = next(doctree.findall(nodes.title), None)
    if title is not None:
        title.parent.insert(title.parent.index(title) + 1, note)


@functools.cache
def legacy_prefect_version() -> str:
    """The Prefect version installed beside the `prefect1` kernel's interpreter."""
    from jupyter_client.kernelspec import KernelSpecManager

    python = Path(KernelSpecManager().get_kernel_spec("prefect1").argv[0])
    site = python.parent.parent.glob("lib/python3*/site-packages")
    return next(metadata.distributions(name="prefect", path=[str(p) for p in site])).version


def docstring_summary(app, what, name, obj, options, lines: list[str]) -> None:
    """Keep the first paragraph of a Prefect docstring on the API page.

    Prefect writes its docstrings in Markdown, which reStructuredText cannot read; the summary
    is plain prose, and the full text is one link away in Prefect's own reference.
    """
    if name.startswith(("prefect.", "prefect_dask.")):
        blank = lines.index("") if "" in lines else len(lines)
        lines[blank:] = []


def connect_autodoc(app: Sphinx, config) -> None:
    """Shorten Prefect's docstrings on the API page, when the site uses autodoc."""
    if "sphinx.ext.autodoc" in app.extensions:
        app.connect("autodoc-process-docstring", docstring_summary)


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def stop_kernels() -> None:
    """Kill the Jupyter kernels this process started."""
    import psutil

    for child in psutil.Process().children():
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                child.kill()
        except psutil.Error:
            pass


def adapt_jupyter_sphinx() -> None:
    """Give jupyter-sphinx what myst-nb has: a temporary working folder, readable streams,
    errors that name the page instead of stopping the build, and one kernel per language.

    jupyter-sphinx starts a fresh kernel at every `jupyter-kernel` directive, so a page whose
    tabs alternate Prefect 3 and Prefect 1 would start one kernel per tab. Here a page runs
    one session per kernel name, as a notebook with two kernels would: switching back to a
    kernel continues its session. The page's kernels run side by side.
    """
    from jupyter_sphinx import execute as js_execute
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    transform = js_execute.ExecuteJupyterCells
    if getattr(transform.apply, "_pbe_wrapped", False):
        return
    original_apply, original_execute = transform.apply, js_execute.execute_cells
    pending: list = []  # the current page's executed segments, in page order
    current: dict = {}  # the page being executed, and whether its sessions ran

    def run_session(kernel_name, cells, execute_kwargs):
        # files a page writes land in a folder removed afterwards, never in the sources
        with tempfile.TemporaryDirectory(prefix="pbe-page-") as cwd:
            notebook = original_execute(kernel_name, cells, {**execute_kwargs, "cwd": cwd})
        # one box per cell's output, not one per printed line
        notebook, _ = CoalesceStreamsPreprocessor().preprocess(notebook, {})
        return notebook

    def execute_page(self) -> None:
        """Run the page's cells, one session per kernel, and queue the segments' notebooks."""
        import copy
        from concurrent.futures import ThreadPoolExecutor

        import nbformat
        from jupyter_sphinx.ast import JupyterCellNode, JupyterKernelNode

        default = self.config.jupyter_execute_default_kernel
        found = self.document.findall(lambda n: isinstance(n, (JupyterCellNode, JupyterKernelNode)))
        segments = []  # (kernel, cells), split where jupyter-sphinx splits
        for node in found:
            if isinstance(node, JupyterKernelNode):
                segments.append((node["kernel_name"] or default, []))
                continue
            if not segments:
                segments.append((default, []))
            segments[-1][1].append(nbformat.v4.new_code_cell(node.astext() if node["execute"] else ""))
        sessions = {kernel: [c for k, cells in segments if k == kernel for c in cells] for kernel, _ in segments}
        kwargs = self.config.jupyter_execute_kwargs
        pool = ThreadPoolExecutor(len(sessions), thread_name_prefix="pbe-kernel")
        try:
            futures = {k: pool.submit(run_session, k, cells, kwargs) for k, cells in sessions.items()}
            ran = {k: future.result() for k, future in futures.items()}
        except (KeyboardInterrupt, SystemExit):
            # the build is stopping: end the kernels, so the threads waiting on them end too
            stop_kernels()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        taken = dict.fromkeys(ran, 0)
        for kernel, cells in segments:
            part = copy.copy(ran[kernel])
            part.cells = ran[kernel].cells[taken[kernel] : taken[kernel] + len(cells)]
            taken[kernel] += len(cells)
            pending.append((kernel, part))

    def execute_cells(kernel_name, cells, execute_kwargs):
        page = current.get("page")
        if page is None:  # called from elsewhere: run as jupyter-sphinx would
            return run_session(kernel_name, cells, execute_kwargs)
        if not current.get("ran"):  # the page's first segment: run all of them now
            current["ran"] = True
            execute_page(page)
        kernel, notebook = pending.pop(0)
        assert kernel == kernel_name and len(notebook.cells) == len(cells), (kernel, kernel_name)
        return notebook

    def apply(self, **kwargs):
        # kernels find the page's own files (e.g. examples/) through this variable
        os.environ["PBE_PAGE_DIR"] = str(Path(self.env.doc2path(self.env.docname)).parent)
        pending.clear()
        current.update(page=self, ran=False)
        try:
            original_apply(self, **kwargs)
        except ExtensionError as err:
            # the message holds the kernel's traceback, which quotes the failing cell's code
            logger.warning(
                "a jupyter-execute cell raised an exception and is not marked `:raises:`\n%s",
                ANSI.sub("", str(err.message)),
                location=self.env.docname,
                type="pbe",
                subtype="cell-error",
            )
        finally:
            pending.clear()
            current.clear()

    apply._pbe_wrapped = True
    transform.apply = apply
    js_execute.execute_cells = execute_cells


def setup(app: Sphinx) -> dict:
    app.add_config_value("pbe_prefect_server", True, "env", types=[bool])
    app.add_config_value("pbe_kernels_path", ".nox/kernels/share/jupyter", "env", types=[str])
    app.add_config_value("pbe_kernels", [], "env", types=[list])
    app.add_config_value("pbe_page_seconds", "", "", types=[str])
    prepare_runtime(app)
    app.setup_extension("prefect_by_example.directive")  # `flow-graph` pictures
    adapt_jupyter_sphinx()
    serialize_execution_cache()
    server = BuildServer()
    app.connect("builder-inited", add_kernels)
    app.connect("env-before-read-docs", server.start)
    app.connect("env-before-read-docs", schedule_pages)
    app.connect("env-before-read-docs", create_execution_cache)
    app.connect("env-updated", end_schedule)
    app.connect("build-finished", server.stop)
    app.connect("source-read", start_page_clock)
    app.connect("source-read", server.wait)
    app.connect("doctree-read", stop_page_clock)
    app.connect("doctree-read", mark_executed_pages)
    app.connect("config-inited", connect_autodoc)
    app.connect("html-page-context", drop_assets_we_do_not_ship)
    app.connect("html-page-context", name_svg_objects)
    # after the theme's own handler, which copies the notebook first
    app.connect("html-page-context", publish_notebook_with_outputs, priority=900)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
