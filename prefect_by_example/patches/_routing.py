"""What the call-routing patches share: wrappers that send calls to handlers while in use.

A `Router` wraps some functions when its first route opens and puts the originals back when
its last route closes, also after an error. While routes are open, each call of a wrapped
function goes to the handler that the innermost open route has for it: the routes of the
current context first (other threads and contexts do not see them), then those of the whole
process. A call that no open route handles goes to the original function.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

Handler = Callable[..., Any]
Scope = Literal["context", "process"]
SCOPES = ("context", "process")


class Router:
    """Wrappers over the functions `targets()` names, in place while a route is open.

    `targets()` yields (owner, attribute, key): the function `owner.attribute` is wrapped and
    its calls go to the handler routes give for `key`. It is called when the first route
    opens, so it sees the classes defined by then. `check()`, when given, runs before anything
    is wrapped; what it raises reaches the caller, and nothing is wrapped.
    """

    def __init__(
        self,
        name: str,
        targets: Callable[[], Iterable[tuple[Any, str, Hashable]]],
        check: Callable[[], object] | None = None,
    ) -> None:
        self._targets = targets
        self._check = check
        self._in_context: ContextVar[tuple[Mapping[Hashable, Handler], ...]] = ContextVar(
            name, default=()
        )
        self._in_process: tuple[Mapping[Hashable, Handler], ...] = ()
        self._lock = threading.Lock()
        self._users = 0  # open routes, in every context: the wrappers stay while any is open
        self._saved: list[tuple[Any, str, Any, bool]] = []

    @contextmanager
    def route(self, handlers: Mapping[Hashable, Handler], *, scope: Scope) -> Iterator[None]:
        """Send calls to `handlers` (by key) while the block runs, in this context or process."""
        if scope not in SCOPES:
            raise ValueError(f"scope={scope!r}: expected one of {', '.join(SCOPES)}")
        route = dict(handlers)  # a route of its own, even when two users pass the same mapping
        with self._lock:
            if self._users == 0:
                self._install()
            self._users += 1
            if scope == "process":
                self._in_process = (*self._in_process, route)
        token = None
        try:
            if scope == "context":
                token = self._in_context.set((*self._in_context.get(), route))
            yield
        finally:
            with self._lock:
                self._in_process = tuple(r for r in self._in_process if r is not route)
                self._users -= 1
                if self._users == 0:
                    self._uninstall()
            if token is not None:
                self._in_context.reset(token)

    def handler(self, key: Hashable) -> Handler | None:
        """The handler of the innermost open route that has one for `key`, else None."""
        for routes in (self._in_context.get(), self._in_process):
            for route in reversed(routes):
                if key in route:
                    return route[key]
        return None

    def _wrap(self, original: Any, key: Hashable) -> Handler:
        @functools.wraps(original)
        def routed(*args: Any, **kwargs: Any) -> Any:
            handler = self.handler(key)
            if handler is None:
                return original(*args, **kwargs)
            return handler(*args, **kwargs)

        return routed

    def _install(self) -> None:
        if self._check is not None:
            self._check()
        try:
            for owner, attribute, key in self._targets():
                original = getattr(owner, attribute)
                # an inherited attribute is deleted again afterwards, not copied onto the owner
                self._saved.append((owner, attribute, original, attribute in vars(owner)))
                setattr(owner, attribute, self._wrap(original, key))
        except BaseException:
            self._uninstall()
            raise

    def _uninstall(self) -> None:
        while self._saved:
            owner, attribute, original, own = self._saved.pop()
            if own:
                setattr(owner, attribute, original)
            else:
                delattr(owner, attribute)
