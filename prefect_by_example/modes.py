"""Run Prefect 3 flows and tasks as plain Python functions: no API, no server, no run records.

Prefect 3 calls one task's or flow's function on its own through `.fn`, but a flow body
called that way still orchestrates every task it calls, and orchestration needs a Prefect
API. `plain_functions()` switches orchestration off for a block of code, so a whole flow runs
as the Python it is written in; `mode_from_environment()` picks the switch from the
environment variable PBE_PREFECT_MODE ("prefect", the default, or "plain").

What plain mode does not do: validate or coerce parameters, retry, cache, time out, log run
states, or run anything concurrently (`.submit()` and `.map()` call the function at once).
Synchronous tasks and flows only; the switch is global to the process while it is on.
"""

from __future__ import annotations

import inspect
import os
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from prefect import Flow, Task
from prefect.utilities.annotations import BaseAnnotation
from prefect.utilities.callables import (
    call_with_parameters,
    expand_mapping_parameters,
    get_call_parameters,
)

from .patches.prefect_calls import intercept_calls

__all__ = [
    "MODES",
    "MODE_VARIABLE",
    "PlainFuture",
    "PlainFutureList",
    "mode_from_environment",
    "plain_functions",
]

MODE_VARIABLE = "PBE_PREFECT_MODE"
MODES = ("prefect", "plain")


class PlainFuture:
    """What `.submit()` returns in plain mode: a value that is already there."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> Any:
        return self._value

    def wait(self, timeout: float | None = None) -> None:
        return None

    def __repr__(self) -> str:
        return f"PlainFuture({self._value!r})"


class PlainFutureList(list):
    """What `.map()` returns in plain mode: a list of PlainFutures."""

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list:
        return [future.result() for future in self]

    def wait(self, timeout: float | None = None) -> None:
        return None


def _resolve(value: Any, unwrap: bool = True) -> Any:
    """`value` with every PlainFuture replaced by its value, as Prefect resolves futures."""
    if isinstance(value, PlainFuture):
        return value.result()
    if isinstance(value, BaseAnnotation):  # unmapped, allow_failure, quote
        inner = _resolve(value.unwrap(), unwrap)
        return inner if unwrap else value.rewrap(inner)
    if isinstance(value, dict):
        return {key: _resolve(item, unwrap) for key, item in value.items()}
    if type(value) in (list, tuple, set, frozenset, PlainFutureList):
        items = [_resolve(item, unwrap) for item in value]
        return items if type(value) is PlainFutureList else type(value)(items)
    return value


def _no_state(return_state: bool) -> None:
    if return_state:
        raise TypeError("plain functions have no run state: call without return_state=True")


def _sync_only(fn: Any, name: str) -> None:
    if inspect.iscoroutinefunction(fn):
        raise TypeError(f"plain_functions() runs synchronous tasks and flows only, not {name!r}")


def _call(self: Task | Flow, *args: Any, return_state: bool = False, wait_for: Any = None,
          **kwargs: Any) -> Any:  # fmt: skip
    _no_state(return_state)
    _sync_only(self.fn, self.name)
    parameters = get_call_parameters(self.fn, args, kwargs)
    return call_with_parameters(self.fn, _resolve(parameters))


def _submit(self: Task, *args: Any, return_state: bool = False, wait_for: Any = None,
            **kwargs: Any) -> PlainFuture:  # fmt: skip
    return PlainFuture(_call(self, *args, return_state=return_state, **kwargs))


def _map(self: Task, *args: Any, return_state: bool = False, wait_for: Any = None,
         deferred: bool = False, **kwargs: Any) -> PlainFutureList:  # fmt: skip
    _no_state(return_state)
    _sync_only(self.fn, self.name)
    # futures become values first, so a mapped task can map over another task's result
    parameters = _resolve(get_call_parameters(self.fn, args, kwargs, apply_defaults=False),
                          unwrap=False)  # fmt: skip
    return PlainFutureList(
        PlainFuture(call_with_parameters(self.fn, _resolve(call)))
        for call in expand_mapping_parameters(self.fn, parameters)
    )


_PLAIN = {
    (Task, "__call__"): _call,
    (Task, "submit"): _submit,
    (Task, "map"): _map,
    (Flow, "__call__"): _call,
}


def plain_functions() -> AbstractContextManager[None]:
    """Inside this block, calling a Prefect task or flow calls its plain function."""
    # the whole process: a flow's tasks may be called from threads the flow starts
    return intercept_calls(_PLAIN, scope="process")


def mode_from_environment() -> AbstractContextManager[None]:
    """`plain_functions()` when PBE_PREFECT_MODE is "plain", no change when it is "prefect"."""
    mode = os.environ.get(MODE_VARIABLE, "prefect").strip().lower() or "prefect"
    if mode not in MODES:
        raise ValueError(f"{MODE_VARIABLE}={mode!r}: expected one of {', '.join(MODES)}")
    return plain_functions() if mode == "plain" else nullcontext()
