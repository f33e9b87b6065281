"""Every job of the site, one session each: `nox -l` lists them."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import nox
from uv import find_uv_bin

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["docs"]

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT))
from devtools.build import BUILD_OPTIONS  # noqa: E402 - plain Python, no dependencies

BUILD = ROOT / "_build"
LEGACY_VENV = ROOT / ".nox" / "legacy"
KERNELS = ROOT / ".nox" / "kernels"  # conf.py's pbe_kernels_path points here
WHEELS = BUILD / "wheel"  # conf.py's pbe_wheel_dir points here
# compiled bytecode: otherwise every kernel recompiles Prefect on import
INSTALL_ENV = {"UV_COMPILE_BYTECODE": "1"}
SPHINX_ARGS = [*BUILD_OPTIONS, "-d", str(BUILD / "doctrees")]


def install_docs_env(session: nox.Session, *extra: str) -> None:
    """The pinned docs environment plus this project's package; and its wheel, which the site
    ships for readers (conf.py's pbe_wheel_dir)."""
    session.install("-r", "requirements/docs.txt", *extra, "-e", ".", env=INSTALL_ENV)
    build_wheel(session)


def build_wheel(session: nox.Session) -> None:
    """prefect_by_example's wheel in _build/wheel, made from its sdist (no build/ in the tree)."""
    shutil.rmtree(WHEELS, ignore_errors=True)
    session.run(find_uv_bin(), "build", "--quiet", "--out-dir", str(WHEELS), ".", external=True)


def install_legacy_kernel(session: nox.Session) -> None:
    """Prefect 1.4 in its own venv, registered as the `prefect1` kernel in .nox/kernels.

    The venv also gets this package without its dependencies (they need Prefect 3): its
    standard-library page helpers serve the legacy cells too.
    """
    uv = find_uv_bin()
    lock = ROOT / "requirements" / "legacy.txt"
    stamp = LEGACY_VENV / "installed-from.sha256"
    digest = hashlib.sha256(lock.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    python = LEGACY_VENV / "bin" / "python"
    if not (stamp.exists() and stamp.read_text() == digest and python.exists()):
        session.run(uv, "venv", "--clear", "--python", "3.11", str(LEGACY_VENV), external=True)
        session.run(
            uv, "pip", "install", "--python", str(python), "-r", str(lock),
            env=INSTALL_ENV, external=True,
        )  # fmt: skip
        session.run(
            uv, "pip", "install", "--python", str(python), "--no-deps", "-e", str(ROOT),
            env=INSTALL_ENV, external=True,
        )  # fmt: skip
        stamp.write_text(digest)
    session.run(
        str(python), "-m", "ipykernel", "install", "--prefix", str(KERNELS),
        "--name", "prefect1", "--display-name", "Python 3 (Prefect 1.4, legacy)",
        env={"IPYTHONDIR": str(KERNELS / "ipython")},  # IPython would make ~/.ipython
        external=True, silent=True,
    )  # fmt: skip


def remove_build_outputs() -> None:
    """Remove what a build writes under _build; keep the wheel made just before."""
    for name in (
        "html",
        "doctrees",
        ".jupyter_cache",
        "jupyter_execute",
        "pbe-sessions",
        "linkcheck",
    ):
        shutil.rmtree(BUILD / name, ignore_errors=True)


@nox.session(venv_backend="none")  # its kernel folder is .nox/kernels: no venv of its own there
def kernels(session: nox.Session) -> None:
    """Create the legacy Prefect 1 environment and register its Jupyter kernel."""
    install_legacy_kernel(session)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site from scratch, executing every page: what CI runs."""
    install_docs_env(session)
    install_legacy_kernel(session)
    remove_build_outputs()
    session.run(
        "sphinx-build", "-b", "html", *SPHINX_ARGS, *session.posargs, ".", str(BUILD / "html")
    )


@nox.session
def html(session: nox.Session) -> None:
    """Rebuild the site incrementally: only changed pages execute again."""
    install_docs_env(session)
    install_legacy_kernel(session)
    session.run(
        "sphinx-build", "-b", "html", *SPHINX_ARGS, *session.posargs, ".", str(BUILD / "html")
    )


@nox.session(name="docs-live")
def docs_live(session: nox.Session) -> None:
    """Serve the site on 127.0.0.1:8000 and rebuild the edited page on every save."""
    install_docs_env(session)
    install_legacy_kernel(session)
    session.run(
        # one Prefect server for every rebuild of the session (devtools/live.py)
        "python", "-m", "devtools.live", str(BUILD),
        "-b", "html", "-n", "--keep-going", "-d", str(BUILD / "doctrees"),
        # never watch what the build itself writes, or every build triggers the next
        "--ignore", "_build", "--ignore", ".nox", "--ignore", "images",
        "--host", "127.0.0.1", "--port", "8000", *session.posargs, ".", str(BUILD / "html"),
    )  # fmt: skip


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite: the site builds clean, pages teach what they claim, graphs draw right."""
    install_docs_env(session, "-r", "requirements/tests.txt")
    install_legacy_kernel(session)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check the Python of the package, tests, benchmark and noxfile with ruff (lint and format)."""
    session.install("-r", "requirements/lint.txt")
    paths = ["prefect_by_example", "devtools", "tests", "bench", "noxfile.py"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session
def notebooks(session: nox.Session) -> None:
    """Execute every tutorial on its own, outside Sphinx, as a reader would."""
    install_docs_env(session, "-r", "requirements/tests.txt")
    install_legacy_kernel(session)
    session.run("pytest", "tests/test_notebooks.py", *session.posargs)


@nox.session
def linkcheck(session: nox.Session) -> None:
    """Check every link in the site (needs network for outside links)."""
    install_docs_env(session)
    install_legacy_kernel(session)
    session.run("sphinx-build", "-b", "linkcheck", *SPHINX_ARGS, ".", str(BUILD / "linkcheck"))


@nox.session
def canary(session: nox.Session) -> None:
    """Build the site against the newest Prefect 3 release, pins unchanged (`-- --diff`: upgrades)."""
    uv = find_uv_bin()
    canary = [sys.executable, "-m", "devtools.canary"]  # stdlib only: nox's own Python
    if "--diff" in session.posargs:
        session.run(*canary, "diff", uv, external=True)
        return
    pins = BUILD / "canary-requirements.txt"
    session.run(*canary, "pins", uv, str(pins), external=True)
    session.install("-r", str(pins), "-e", ".", env=INSTALL_ENV)
    build_wheel(session)
    install_legacy_kernel(session)
    session.run("python", "-m", "devtools.canary", "report", ".", str(BUILD / "canary"),
                "requirements/canary.md")  # fmt: skip


@nox.session
def bench(session: nox.Session) -> None:
    """Measure build times against the naive build, and graph drawing speed; prints figures."""
    install_docs_env(session)
    install_legacy_kernel(session)
    session.run("python", "bench/build.py", *session.posargs)
    session.run("python", "bench/graphs.py")
