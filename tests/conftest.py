"""Shared fixtures: a private Prefect server for tests that need the API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prefect_by_example import BUILD_OPTIONS
from prefect_by_example.server import PrefectServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """One Prefect server for the test session, made the current API of this process."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with PrefectServer(tmp_path_factory.mktemp("prefect-home")) as server:
        # child processes (kernels, workers) read the environment, this process its settings
        saved = dict(os.environ)
        os.environ.update(server.client_env())
        try:
            with temporary_settings({PREFECT_API_URL: server.api_url}):
                yield server
        finally:
            os.environ.clear()
            os.environ.update(saved)


class BuiltSite:
    """A site built by `sphinx-build` into a temporary folder, with ways to read its pages."""

    def __init__(self, outdir: Path, console: str, returncode: int, started: float):
        self.outdir = outdir
        self.html = outdir / "html"
        self.home = outdir / "home"
        self.console = console
        self.returncode = returncode
        self.started = started

    def soup(self, docname: str):
        from bs4 import BeautifulSoup

        return BeautifulSoup((self.html / f"{docname}.html").read_text(), "html.parser")

    def article(self, docname: str):
        """The page's own content, without theme navigation."""
        return self.soup(docname).find("article")

    def text(self, docname: str) -> str:
        return self.article(docname).get_text()

    def outputs(self, docname: str) -> list[str]:
        """The text of every executed cell's output, in page order (myst-nb and jupyter-sphinx)."""
        return [div.get_text() for div in self.article(docname).select("div.cell_output")]

    def images(self, docname: str) -> list[Path]:
        """Files of every <img> in the page's content."""
        page = self.html / f"{docname}.html"
        return [
            (page.parent / img["src"]).resolve()
            for img in self.article(docname).find_all("img")
            if not img["src"].startswith("data:")
        ]


def build_site(srcdir: Path, outdir: Path, *extra: str) -> BuiltSite:
    """Run a clean, strict build of `srcdir` (as `nox -s docs` does) into `outdir`.

    HOME points at an empty folder, so anything the build writes there can be seen.
    """
    (outdir / "home").mkdir(parents=True)
    env = {**os.environ, "HOME": str(outdir / "home")}
    cmd = [
        sys.executable, "-m", "sphinx", "-b", "html", *BUILD_OPTIONS, "-d", str(outdir / "doctrees"),
        *extra, str(srcdir), str(outdir / "html"),
    ]  # fmt: skip
    started = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)
    site = BuiltSite(outdir, proc.stdout + proc.stderr, proc.returncode, started)
    print(f"built {srcdir} in {time.time() - started:.1f} s")
    return site


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> BuiltSite:
    """The whole site, built once per test session from this checkout."""
    return build_site(ROOT, tmp_path_factory.mktemp("site"))
