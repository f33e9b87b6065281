"""Run a long-lived command (a worker, a server) beside a notebook.

The command gets a process group of its own. Stopping it signals the
whole group, so whatever it started (a worker's flow runs) stops too.
Leaving the ``with`` block stops it, also when the code inside fails;
the Python process exiting stops it if nothing else did.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

try:  # Linux lets a child ask for SIGTERM when its parent dies
    import ctypes

    _libc = ctypes.CDLL(None, use_errno=True)
    _prctl = _libc.prctl if sys.platform == "linux" else None
except (OSError, AttributeError):
    _prctl = None


def _stop_with_parent() -> None:
    """In the child: stop if the notebook's kernel dies, even if killed."""
    _prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start(command: list, *, log: str | Path, env=None, cwd=None):
    """Start `command` in a new process group, its output going to `log`."""
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(part) for part in command],
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # the child makes one prctl call before exec: safe beside threads
            preexec_fn=_stop_with_parent if _prctl else None,  # noqa: PLW1509
        )
    atexit.register(stop, process)
    return process


def stop(process: subprocess.Popen, grace: float = 20) -> int:
    """Ctrl-C the group, wait up to `grace` seconds, kill what is left."""
    group = process.pid  # a new session's leader: its pid is the group id
    if process.poll() is None:
        try:
            os.killpg(group, signal.SIGINT)
            process.wait(grace)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
    try:
        os.killpg(group, signal.SIGKILL)  # anything still in the group
    except ProcessLookupError:
        pass
    return process.wait()


@contextmanager
def background(*command, log, env=None, cwd=None, grace: float = 20):
    """Run `command` for the length of a ``with`` block."""
    process = start(list(command), log=log, env=env, cwd=cwd)
    try:
        yield process
    finally:
        stop(process, grace)
