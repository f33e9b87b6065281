"""The build's one Prefect server: started when pages are to execute, stopped when it ends.

It starts in the background before the pages are read, and only if a page's code is to run
(not come from the execution cache). A tutorial waits for it before myst-nb runs its cells;
an rst page's kernels start meanwhile and wait for it before their first cell. Every kernel,
worker and subprocess inherits its address through PREFECT_API_URL. When the live session
(`make live`) keeps a server warm for all its rebuilds, the build uses that one instead
(``PBE_SHARED_PREFECT_API_URL``) and leaves it running.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from pathlib import Path

from sphinx.application import Sphinx

from ..server import PrefectServer, empty_db_template
from .messages import logger

SHARED_SERVER_VARIABLE = "PBE_SHARED_PREFECT_API_URL"


class BuildServer:
    """Starts at `env-before-read-docs` if a page is to execute; stops at `build-finished`."""

    def __init__(self) -> None:
        self.server: PrefectServer | None = None
        self.ready = False  # in this process; a reading process forked early waits for itself
        self.executing: set[str] = set()  # the pages whose code will run in this build
        self.wanted = True
        self.lock = threading.Lock()  # a page's two kernels may ask at once

    def start(self, app: Sphinx, env, docnames: list[str]) -> None:
        from .caching import pages_to_execute

        self.wanted = app.config.pbe_prefect_server
        if not docnames or not self.wanted or self.server is not None:
            return
        self.executing = pages_to_execute(app, env, docnames)
        if not self.executing:
            return
        logger.info(
            f"{len(self.executing)} pages will execute: {', '.join(sorted(self.executing))}"
        )
        shared = os.environ.get(SHARED_SERVER_VARIABLE)
        if shared:
            os.environ["PREFECT_API_URL"] = shared
            logger.info(f"using the live session's Prefect server, listening on {shared}")
            self.ready = True
            return
        self.launch()

    def launch(self) -> None:
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
        """Before myst-nb runs a tutorial's cells (while reading it), wait for the server."""
        if docname in self.executing and Path(app.env.doc2path(docname)).suffix == ".md":
            self.ensure_ready()

    def ensure_ready(self) -> None:
        """Wait until the server answers; start one for this process if none was started
        because every page was expected to come from the cache."""
        with self.lock:
            if self.ready or not self.wanted:
                return
            if self.server is None:
                self.launch()
            self.server.wait_ready()
            self.ready = True

    def stop(self, *args) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


# the build's one server, used by the hooks and by the kernels of rst pages
BUILD_SERVER = BuildServer()
