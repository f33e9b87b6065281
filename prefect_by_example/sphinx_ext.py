"""Sphinx hooks: a private Prefect server per build, a quiet kernel environment, clear errors."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import sys
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

from . import __version__
from .server import PrefectServer

logger = logging.getLogger(__name__)

LOGGING_CONFIG = Path(__file__).with_name("logging.yml")
HOME_MARKER = ".made-by-build"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def runtime_dir(app: Sphinx) -> Path:
    """Where the build keeps its server home and kernel state: beside the doctrees."""
    return Path(app.doctreedir).parent / "runtime"


def prepare_environment(app: Sphinx) -> None:
    """Export what every kernel the build starts inherits; nothing lands under HOME."""
    runtime = runtime_dir(app)
    kernels = Path(app.confdir, app.config.pbe_kernels_path).resolve()
    env = {
        # the interpreter running Sphinx is the one `python3` kernels and `prefect` resolve to
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "JUPYTER_PATH": os.pathsep.join(filter(None, [str(kernels), os.environ.get("JUPYTER_PATH")])),
        "IPYTHONDIR": str(runtime / "ipython"),
        "JUPYTER_RUNTIME_DIR": str(runtime / "jupyter-runtime"),
        "JUPYTER_DATA_DIR": str(runtime / "jupyter-data"),
        "MPLCONFIGDIR": str(runtime / "matplotlib"),
        # prefect 3: plain log lines, no links to a UI, no telemetry
        "PREFECT_LOGGING_SETTINGS_PATH": str(LOGGING_CONFIG),
        "PREFECT_HOME": str(runtime / "prefect-home"),
        # prefect 1 (legacy kernel): its own home, log lines without timestamps
        "PREFECT__HOME_DIR": str(runtime / "prefect1-home"),
        "PREFECT__LOGGING__FORMAT": "%(levelname)s - %(name)s | %(message)s",
        "PREFECT__BACKEND": "server",
        "PREFECT__CLOUD__USE_LOCAL_SECRETS": "true",
    }
    from .server import QUIET_ENV

    env.update(QUIET_ENV)
    os.environ.update(env)
    for name in ("IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "MPLCONFIGDIR"):
        Path(env[name]).mkdir(parents=True, exist_ok=True)
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
    """The build's one Prefect server: started when the first page is read, stopped at the end."""

    def __init__(self) -> None:
        self.server: PrefectServer | None = None

    def start(self, app: Sphinx, env, docnames: list[str]) -> None:
        if not docnames or not app.config.pbe_prefect_server or self.server is not None:
            return
        runtime = runtime_dir(app)
        home = runtime / "prefect-home"
        # start every build from an empty database, removing only a home an earlier build made
        if (home / HOME_MARKER).exists():
            shutil.rmtree(home)
        elif home.exists() and any(home.iterdir()):
            raise ExtensionError(f"{home} holds files this build did not make; move them away")
        home.mkdir(parents=True, exist_ok=True)
        (home / HOME_MARKER).write_text("made by the prefect_by_example Sphinx extension\n")
        import prefect

        template = runtime / f"prefect-{prefect.__version__}-empty.db"
        logger.info("starting a private Prefect server for this build ...", nonl=True)
        self.server = PrefectServer(home, db_template=template)
        # stop it however the build ends: normally, on an error, on Ctrl-C or on SIGTERM
        atexit.register(self.stop)
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        self.server.start()
        os.environ.update(self.server.client_env())
        logger.info(f" listening on {self.server.api_url}")

    def stop(self, *args) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def report_cell_errors() -> None:
    """Make jupyter-sphinx name the page and the failing cell instead of stopping the build."""
    from jupyter_sphinx.execute import ExecuteJupyterCells

    original = ExecuteJupyterCells.apply
    if getattr(original, "_pbe_wrapped", False):
        return

    def apply(self, **kwargs):
        try:
            original(self, **kwargs)
        except ExtensionError as err:
            # the message holds the kernel's traceback, which quotes the failing cell's code
            logger.warning(
                "a jupyter-execute cell raised an exception and is not marked `:raises:`\n%s",
                ANSI.sub("", str(err.message)),
                location=self.env.docname,
                type="pbe",
                subtype="cell-error",
            )

    apply._pbe_wrapped = True
    ExecuteJupyterCells.apply = apply


def setup(app: Sphinx) -> dict:
    app.add_config_value("pbe_prefect_server", True, "env", types=[bool])
    app.add_config_value("pbe_kernels_path", ".nox/kernels/share/jupyter", "env", types=[str])
    app.add_config_value("pbe_kernels", [], "env", types=[list])
    report_cell_errors()
    server = BuildServer()
    app.connect("builder-inited", prepare_environment)
    app.connect("env-before-read-docs", server.start)
    app.connect("build-finished", server.stop)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
