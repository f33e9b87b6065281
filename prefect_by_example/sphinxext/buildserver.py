"""The build's one Prefect server: started when pages are to be read, stopped when the build ends.

It starts in the background: pages that run no code are read meanwhile, and a page that does
waits for it (in whichever process reads the page) before its code runs. Every kernel, worker
and subprocess the build starts inherits its address through PREFECT_API_URL.
"""

from __future__ import annotations

import atexit
import os
import signal
from pathlib import Path

from sphinx.application import Sphinx

from ..server import PrefectServer, empty_db_template
from .execution import runs_code
from .messages import logger


class BuildServer:
    """Starts at `env-before-read-docs` if any page is to be read; stops at `build-finished`."""

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


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)
