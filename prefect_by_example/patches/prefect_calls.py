"""Calls of Prefect tasks and flows routed to handlers: how `flow_graph` and `plain_functions` work.

Upstream code it wraps, from Prefect 3 (checked against ``prefect>=3.8,<4``):

- prefect/tasks.py: `Task.__call__`, `Task.submit`, `Task.map`, `Task.delay`, `Task.apply_async`;
- prefect/flows.py: `Flow.__call__`;
- the same methods where a subclass overrides them (in 3.9: `InfrastructureBoundFlow.__call__`).

What it assumes of them: they are plain functions on the class, and a flow body calls its tasks
and subflows through them (Prefect's engine runs a task's or flow's own function, `.fn`, without
them). Their signatures, which handlers must accept too:

- `Task.__call__(self, *args, return_state=False, wait_for=None, **kwargs)`, and the same for
  `Task.submit` and `Flow.__call__`; `*args` and `**kwargs` are the function's parameters;
- `Task.map(self, *args, return_state=False, wait_for=None, deferred=False, **kwargs)`;
- `Task.delay(self, *args, **kwargs)`;
- `Task.apply_async(self, args=None, kwargs=None, wait_for=None, dependencies=None)`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager

from prefect import Flow, Task

from . import require
from ._routing import Handler, Router, Scope

__all__ = ["METHODS", "intercept_calls"]

# the methods a handler can stand in for, by the class that defines them
METHODS: dict[type, tuple[str, ...]] = {
    Task: ("__call__", "submit", "map", "delay", "apply_async"),
    Flow: ("__call__",),
}
WRITTEN_FOR = ">=3.8,<4"
UPSTREAM = (
    "Task.__call__, Task.submit, Task.map, Task.delay and Task.apply_async in prefect/tasks.py,"
    " and Flow.__call__ in prefect/flows.py"
)


def _check_release() -> None:
    require("prefect", WRITTEN_FOR, __name__, UPSTREAM)


def _subclasses(cls: type) -> list[type]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += [c for c in _subclasses(sub) if c not in found]
    return found


def _targets() -> Iterator[tuple[type, str, tuple[type, str]]]:
    # a subclass that overrides a method would otherwise bypass the wrapper on its base class
    for base, methods in METHODS.items():
        for cls in _subclasses(base):
            for name in methods:
                if name in vars(cls):
                    yield cls, name, (base, name)


_router = Router("prefect_by_example_prefect_calls", _targets, check=_check_release)


def intercept_calls(
    handlers: Mapping[tuple[type, str], Handler], *, scope: Scope
) -> AbstractContextManager[None]:
    """Route calls of Task and Flow methods to `handlers` while the ``with`` block runs.

    `handlers` maps ``(Task, "submit")``, ``(Flow, "__call__")``... (see `METHODS`) to a function
    called like the method it stands in for, ``handler(task_or_flow, *args, **kwargs)``; what it
    returns is what the call returns. A key covers that method in every subclass too. A method
    with no handler calls Prefect as usual.

    `scope="context"` routes only the calls made in the current context (this thread, or a copy
    of its context); other threads and contexts call Prefect. `scope="process"` routes calls
    made anywhere in the process. Uses may nest and overlap: a call goes to the innermost route
    that handles it, those of the current context first. Prefect's methods are wrapped while
    any route is open and put back when the last one closes, also after an error.

    Raises ValueError for a key that is not in `METHODS` or another scope, and, on entering the
    block, PatchVersionError when the installed Prefect is not a release this was written for
    (then nothing is changed).
    """
    for cls, name in handlers:
        if name not in METHODS.get(cls, ()):
            known = ", ".join(f"{c.__name__}.{n}" for c, ms in METHODS.items() for n in ms)
            raise ValueError(f"cannot intercept {cls!r}, {name!r}: expected one of {known}")
    return _router.route(handlers, scope=scope)
