"""The environment a build and its kernels run in: nothing lands under HOME; kernels are found.

Everything here is exported before any page is read, so every kernel, server and worker the
build starts inherits it.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

from ..server import ENV_CACHE, QUIET_ENV

LOGGING_CONFIG = Path(__file__).parent.parent / "logging.yml"
HOME_MARKER = ".made-by-build"


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


@functools.cache
def legacy_prefect_version(kernels: Path | None = None) -> str:
    """The Prefect version installed beside the `prefect1` kernel's interpreter.

    The kernel is looked up on the Jupyter path, or in the kernels folder `kernels`.
    """
    if kernels is not None:
        spec = json.loads((kernels / "kernels" / "prefect1" / "kernel.json").read_text())
        python = Path(spec["argv"][0])
    else:
        from jupyter_client.kernelspec import KernelSpecManager

        python = Path(KernelSpecManager().get_kernel_spec("prefect1").argv[0])
    site = python.parent.parent.glob("lib/python3*/site-packages")
    return next(metadata.distributions(name="prefect", path=[str(p) for p in site])).version


def version_substitutions(app: Sphinx, config) -> None:
    """``{{ prefect1_version }}`` for MyST pages, beside conf.py's ``{{ prefect_version }}``."""
    if "myst_substitutions" not in config or "prefect1" not in config.pbe_kernels:
        return
    kernels = Path(app.confdir, config.pbe_kernels_path).resolve()
    try:
        version = legacy_prefect_version(kernels)
    except (OSError, StopIteration, KeyError, ValueError):
        version = "(the legacy kernel is not installed)"
    config.myst_substitutions = {**config.myst_substitutions, "prefect1_version": version}


def stop_kernels() -> None:
    """Kill the Jupyter kernels this process started."""
    import psutil

    for child in psutil.Process().children():
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                child.kill()
        except psutil.Error:
            pass
