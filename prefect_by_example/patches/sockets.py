"""Network connections refused in one context: `flow_graph` runs a flow's body, not its tasks.

Upstream code it wraps, from the standard library (Lib/socket.py and the `_socket` module):
`socket.socket.connect(address)`, `socket.socket.connect_ex(address)` and
`socket.getaddrinfo(host, port, ...)`. It assumes only that the address or host is their first
argument (after the socket). That is their documented API, not an internal one, so unlike the
other patches this one has no release to check.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from ._routing import Handler, Router

__all__ = ["refuse_connections"]

# what each refused call attempts, and where its address is among the arguments
_ATTEMPTS: dict[tuple[Any, str], tuple[str, int]] = {
    (socket.socket, "connect"): ("connect to", 1),
    (socket.socket, "connect_ex"): ("connect to", 1),
    (socket, "getaddrinfo"): ("look up", 0),
}

_router = Router(
    "prefect_by_example_refused_connections",
    lambda: [(owner, name, (owner, name)) for owner, name in _ATTEMPTS],
)


def refuse_connections(error: Callable[[str, Any], BaseException]) -> AbstractContextManager[None]:
    """While the ``with`` block runs, connecting a socket in the current context raises.

    What is raised is ``error(attempt, address)``: `attempt` is "connect to" or "look up",
    `address` the address or host name asked for. Other threads and contexts (the Prefect
    client's, for one) connect as usual.
    """
    handlers = {key: _refusal(error, *attempt) for key, attempt in _ATTEMPTS.items()}
    return _router.route(handlers, scope="context")


def _refusal(error: Callable[[str, Any], BaseException], attempt: str, address_at: int) -> Handler:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise error(attempt, args[address_at])

    return refuse
