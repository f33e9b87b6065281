"""Start and stop a private Prefect server: one per build, on loopback, with its own home."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from .errors import PrefectServerError

# what builds keep from one to the next in the environment they run in, as it keeps bytecode:
# an empty migrated Prefect database (its schema is the installed Prefect's), matplotlib's fonts
ENV_CACHE = Path(sys.prefix, "var", "prefect-by-example")

# settings that keep the server and every client of it quiet and offline
QUIET_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_UI_URL": "",
}

# background services of the server that no page uses (schedules, automations, the events
# history, leases, late and paused runs): off, they cost a build's server a fifth of its
# work. The task run recorder stays: run graphs read the task runs it writes.
IDLE_SERVICES_OFF = {
    f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false"
    for name in (
        "CANCELLATION_CLEANUP", "CLEANUP_RECONCILER", "EVENT_PERSISTER", "FOREMAN", "LATE_RUNS",
        "PAUSE_EXPIRATIONS", "REPOSSESSOR", "SCHEDULER", "TRIGGERS",
    )
}  # fmt: skip
# a database copied from the template is migrated and has Prefect's block types already
FROM_TEMPLATE = {
    "PREFECT_API_DATABASE_MIGRATE_ON_START": "false",
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
}


def empty_db_template() -> Path:
    """Where this environment keeps an empty, migrated database for Prefect servers to copy.

    It sits in the environment, whose Prefect version fixes the schema.
    """
    version = metadata.version("prefect")  # without importing Prefect, which reads its settings
    return ENV_CACHE / f"prefect-{version}-empty.db"


def free_port(start: int = 4200, tries: int = 200) -> int:
    """The first port from `start` that nothing listens on at 127.0.0.1."""
    for port in range(start, start + tries):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{start + tries - 1} on 127.0.0.1")


def _stop_with_parent() -> None:
    """In the child: ask Linux to send SIGTERM if the process that started us dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class PrefectServer:
    """A `prefect server start` process with its own PREFECT_HOME; use as a context manager."""

    home: Path
    port: int = 0
    log_path: Path | None = None
    # an empty, already migrated database to start from (saves ~10 s of migrations)
    db_template: Path | None = None
    process: subprocess.Popen | None = field(default=None, init=False)
    copied_template: bool = field(default=False, init=False)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def client_env(self) -> dict[str, str]:
        """Environment variables that point a client (a kernel, a worker) at this server."""
        return {**QUIET_ENV, "PREFECT_HOME": str(self.home), "PREFECT_API_URL": self.api_url}

    def start(self, timeout: float = 90) -> PrefectServer:
        """Start the server and wait until it answers; another port if ours gets taken."""
        self._prepare(timeout)
        fixed_port = bool(self.port)
        for _ in range(5):
            self.port = self.port or free_port()
            self._spawn()
            try:
                if self._wait_healthy(timeout):
                    return self
            except PrefectServerError:
                self.stop()
                raise
            # another process took the port between our check and the server's bind
            self.stop()
            if fixed_port:
                break
            self.port = 0
        raise PrefectServerError(
            f"prefect server could not listen on {self.api_url}; its log: {self.log_path}"
        )

    def launch(self, timeout: float = 90) -> PrefectServer:
        """Start the server and return at once: `wait_ready()` waits for it, in any process."""
        self._prepare(timeout)
        self.port = self.port or free_port()
        self._spawn()
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        """Wait until a launched server answers; also works in processes forked after launch."""
        if not self._wait_healthy(timeout):
            raise PrefectServerError(
                f"another Prefect server took {self.api_url} before ours; our log: {self.log_path}"
            )

    def _running(self) -> bool:
        # psutil, not Popen.poll(): in a forked process poll() cannot wait for the server and
        # reports it ended; an ended server stays a zombie until its parent waits for it
        import psutil

        try:
            return psutil.Process(self.process.pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def _prepare(self, timeout: float) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if self.db_template is not None:
            self._copy_db_template(timeout)
        self.log_path = self.log_path or self.home / "server.log"

    def _spawn(self) -> None:
        env = {**os.environ, **self.client_env(), **IDLE_SERVICES_OFF}
        env.pop("PREFECT_API_URL")
        if self.copied_template:
            env.update(FROM_TEMPLATE)
        prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
        with open(self.log_path, "ab") as log:
            # a session of its own, so stopping it takes uvicorn and every child along
            self.process = subprocess.Popen(
                [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_stop_with_parent if sys.platform == "linux" else None,
            )

    def _copy_db_template(self, timeout: float) -> None:
        if not (self.home / "prefect.db").exists():
            if not self.db_template.exists():
                # let a throwaway server migrate an empty database, then keep it at rest
                self.db_template.parent.mkdir(parents=True, exist_ok=True)
                scratch = self.db_template.with_name(f"{self.db_template.name}.{os.getpid()}")
                shutil.rmtree(scratch, ignore_errors=True)
                PrefectServer(scratch).start(timeout).stop()
                # the backup API folds in the write-ahead log a copy of the file would miss
                with (
                    closing(sqlite3.connect(scratch / "prefect.db")) as made,
                    closing(sqlite3.connect(scratch / "template.db")) as kept,
                ):
                    made.backup(kept)
                (scratch / "template.db").replace(self.db_template)
                shutil.rmtree(scratch)
            shutil.copyfile(self.db_template, self.home / "prefect.db")
            self.copied_template = True

    def _wait_healthy(self, timeout: float) -> bool:
        """True once our server answers; False if the port answers with someone else's."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            home = self._answering_home()
            if home is not None:
                return Path(home).resolve() == self.home.resolve()
            if not self._running():
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise PrefectServerError(
                    f"prefect server exited; its log, {self.log_path}:\n{tail}"
                )
            time.sleep(0.2)
        raise PrefectServerError(
            f"prefect server did not answer on {self.api_url} in {timeout:.0f} s;"
            f" its log: {self.log_path}"
        )

    def _answering_home(self) -> str | None:
        """PREFECT_HOME of whatever server answers on our port, None if nothing does."""
        try:
            with urllib.request.urlopen(self.api_url + "/admin/settings", timeout=2) as reply:
                return json.load(reply)["home"]
        except OSError:
            return None

    def stop(self, grace: float = 10) -> None:
        """Stop the server and its whole process group; safe to call twice."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
        # uvicorn children may outlive the leader for a moment
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self) -> PrefectServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
