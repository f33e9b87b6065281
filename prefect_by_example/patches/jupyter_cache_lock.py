"""Reading processes take turns with jupyter-cache's database.

Upstream: jupyter_cache/cache/db.py, `session_context(engine)`, the context manager through
which every read and write of the cache's SQLite database goes. The reading processes of a
parallel build share that database, and SQLite gives up on a write after 5 s of waiting for
another process's transaction: on a busy machine a page then failed with "database is
locked". The patched `session_context` first takes an exclusive lock on a file beside the
database (re-entrant within a process, so nested sessions do not wait for themselves).
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from pathlib import Path

from . import require

DISTRIBUTION, WRITTEN_FOR = "jupyter-cache", "==1.0.1"
UPSTREAM = "jupyter_cache/cache/db.py: session_context"


def install() -> None:
    """Serialize every use of jupyter-cache's database across processes (idempotent)."""
    require(DISTRIBUTION, WRITTEN_FOR, "jupyter_cache_lock", UPSTREAM)
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
