"""`make live`: one Prefect server for the whole session, and sphinx-autobuild's rebuilds on it.

Each rebuild is a new sphinx-build process; a page that executes would otherwise wait for a
new server first. This starts the server once, names it to every build through
PBE_SHARED_PREFECT_API_URL (`prefect_by_example.sphinxext.buildserver`), runs
``sphinx-autobuild ARGS...``, and stops the server when sphinx-autobuild ends, however it
ends: normally, on Ctrl-C or on SIGTERM (a SIGKILL of this process takes the server along,
which asks Linux for that when it starts).

Usage: python -m devtools.live BUILD_DIR SPHINX_AUTOBUILD_ARGS...
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from prefect_by_example.server import PrefectServer, empty_db_template
from prefect_by_example.sphinxext.buildserver import SHARED_SERVER_VARIABLE


def main(build_dir: str, *autobuild_args: str) -> int:
    home = Path(build_dir, "live-server")
    shutil.rmtree(home, ignore_errors=True)  # our own folder: a fresh database per session
    with PrefectServer(home, db_template=empty_db_template()) as server:
        print(f"a Prefect server for every rebuild, listening on {server.api_url}", flush=True)
        env = {**os.environ, SHARED_SERVER_VARIABLE: server.api_url}
        autobuild = shutil.which("sphinx-autobuild", path=str(Path(sys.executable).parent))
        live = subprocess.Popen([autobuild or "sphinx-autobuild", *autobuild_args], env=env)

        def forward(signum, frame):
            live.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        while True:
            try:
                return live.wait()
            except KeyboardInterrupt:
                continue  # forwarded; wait for it to end


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
