"""`flow_graph`: a flow's task graph, traced by running its body with task calls stubbed out."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import inspect
import math
import operator
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from prefect import Flow, Task
from prefect.logging import disable_run_logger
from prefect.utilities.annotations import BaseAnnotation, unmapped
from prefect.utilities.callables import get_call_parameters

from ..errors import FlowGraphError, PatchVersionError
from ..patches.prefect_calls import intercept_calls
from ..patches.sockets import refuse_connections
from .model import Cluster, Edge, FlowGraph, Node, number_repeated

# how many items a task result of unknown value pretends to have (len, iteration, range)
PLACEHOLDER_LENGTH = 3

_UNKNOWN = object()
_SCOPE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "prefect_by_example_scope", default=None
)


def _with_operators(cls: type) -> type:
    """Give a class Python's operators, each deriving a new traced value."""
    binary = {
        "add": operator.add,
        "sub": operator.sub,
        "mul": operator.mul,
        "matmul": operator.matmul,
        "truediv": operator.truediv,
        "floordiv": operator.floordiv,
        "mod": operator.mod,
        "divmod": divmod,
        "pow": pow,
        "lshift": operator.lshift,
        "rshift": operator.rshift,
        "and": operator.and_,
        "xor": operator.xor,
        "or": operator.or_,
    }
    for name, op in binary.items():
        setattr(cls, f"__{name}__", lambda self, other, op=op: self._derive(op, other))
        setattr(
            cls,
            f"__r{name}__",
            lambda self, other, op=op: self._derive(lambda v, o: op(o, v), other),
        )
    for name in ("lt", "le", "eq", "ne", "gt", "ge"):
        op = getattr(operator, name)
        setattr(cls, f"__{name}__", lambda self, other, op=op: self._derive(op, other))
    for name, op in {
        "neg": operator.neg,
        "pos": operator.pos,
        "abs": abs,
        "invert": operator.inv,
    }.items():
        setattr(cls, f"__{name}__", lambda self, op=op: self._derive(op))
    return cls


@_with_operators
class TracedValue:
    """Stands in for a task result while tracing; values derived from it keep its tasks."""

    __slots__ = ("_name", "_sources", "_value")

    def __init__(self, sources: tuple[str, ...], value: Any = _UNKNOWN, name: str = "result"):
        self._sources = sources
        self._value = value
        self._name = name

    def _derive(self, op, *others: Any) -> TracedValue:
        operands = (self, *others)
        sources = _merge(o._sources for o in operands if isinstance(o, TracedValue))
        values = [o._value if isinstance(o, TracedValue) else o for o in operands]
        value = _UNKNOWN
        if not any(v is _UNKNOWN for v in values):
            try:
                value = op(*values)
            except Exception:  # noqa: BLE001 - a viz_return_value without this operation
                value = _UNKNOWN
        return TracedValue(sources, value, self._name)

    @property
    def _known(self) -> bool:
        return self._value is not _UNKNOWN

    def _known_or(self, ask: Any, stand_in: Any) -> Any:
        """`ask(value)` when the value is known and supports it, else `stand_in`."""
        if self._known:
            try:
                return ask(self._value)
            except TypeError:
                pass
        return stand_in

    def __bool__(self) -> bool:
        return bool(self._value) if self._known else True

    def __len__(self) -> int:
        return self._known_or(len, PLACEHOLDER_LENGTH)

    def __iter__(self) -> Iterator[TracedValue]:
        items = self._known_or(list, [_UNKNOWN] * PLACEHOLDER_LENGTH)
        for item in items:
            yield TracedValue(self._sources, item, self._name)

    def __contains__(self, item: Any) -> bool:
        return self._known_or(lambda value: item in value, True)

    def __getitem__(self, key: Any) -> TracedValue:
        return self._derive(operator.getitem, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._known:
            self._value[key] = value

    def __getattr__(self, name: str) -> TracedValue:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._derive(lambda v: getattr(v, name))

    def __call__(self, *args: Any, **kwargs: Any) -> TracedValue:
        def call(fn: Any, *values: Any) -> Any:
            return fn(*values[: len(args)], **dict(zip(kwargs, values[len(args) :], strict=True)))

        return self._derive(call, *args, *kwargs.values())

    def __index__(self) -> int:
        if self._known:
            return operator.index(self._value)
        return PLACEHOLDER_LENGTH

    def __int__(self) -> int:
        return int(self._value) if self._known else PLACEHOLDER_LENGTH

    def __float__(self) -> float:
        return float(self._value) if self._known else float(PLACEHOLDER_LENGTH)

    def __complex__(self) -> complex:
        return complex(self._value) if self._known else complex(PLACEHOLDER_LENGTH)

    def __round__(self, ndigits: int | None = None) -> TracedValue:
        return self._derive(lambda v: round(v, ndigits))

    def __trunc__(self) -> TracedValue:
        return self._derive(math.trunc)

    def __floor__(self) -> TracedValue:
        return self._derive(math.floor)

    def __ceil__(self) -> TracedValue:
        return self._derive(math.ceil)

    def __hash__(self) -> int:
        return self._known_or(hash, hash(self._sources))

    def __str__(self) -> str:
        return str(self._value) if self._known else f"<{self._name}>"

    def __repr__(self) -> str:
        return repr(self._value) if self._known else f"<{self._name}>"

    def __format__(self, spec: str) -> str:
        if self._known:
            return format(self._value, spec)
        return format(str(self), spec if spec and spec[-1] not in "dfeEgGn%xXob" else "")


class TracedState:
    """Stands in for the State of a traced call made with `return_state=True`."""

    name = "Completed"
    type = "COMPLETED"

    def __init__(self, value: TracedValue):
        self._result = value

    def result(self, *args: Any, **kwargs: Any) -> TracedValue:
        return self._result

    def is_completed(self) -> bool:
        return True

    def is_final(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("is_"):
            return lambda: False
        raise AttributeError(name)


class TracedFuture:
    """Stands in for the PrefectFuture of a traced `.submit()` or `.map()` item."""

    def __init__(self, value: TracedValue, seq: int):
        self._result = value
        # prefect.futures.wait()/as_completed() read this private attribute
        self._final_state = TracedState(value)
        self._seq = seq
        self.task_run_id = None

    @property
    def state(self) -> TracedState:
        return self._final_state

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> TracedValue:
        return self._result

    def wait(self, timeout: float | None = None) -> None:
        return None

    def add_done_callback(self, fn: Any) -> None:
        return None

    def __hash__(self) -> int:
        # sets of futures (prefect.futures.wait) iterate in call order, not by memory address
        return self._seq

    def __repr__(self) -> str:
        return f"TracedFuture({self._result._name})"


class TracedFutureList(list):
    """Stands in for the PrefectFutureList of a traced `.map()`."""

    def __init__(self, futures: Iterable[TracedFuture], count: int | None):
        super().__init__(futures)
        self.count = count

    def wait(self, timeout: float | None = None) -> None:
        return None

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list:
        return [f.result() for f in self]


def _merge(groups: Iterable[Iterable[str]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for group in groups for s in group))


def _sources(value: Any, seen: set[int] | None = None, depth: int = 0) -> tuple[str, ...]:
    """Node ids of the traced results inside a value, searching containers."""
    if isinstance(value, TracedValue):
        return value._sources
    if isinstance(value, (TracedFuture, TracedState)):
        return value._result._sources
    if depth > 20 or value is None or isinstance(value, (str, bytes, int, float)):
        return ()
    seen = set() if seen is None else seen
    if id(value) in seen:
        return ()
    seen.add(id(value))
    if isinstance(value, dict):
        items: Iterable[Any] = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):  # unmapped() and co. are tuples
        items = value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = [getattr(value, f.name) for f in dataclasses.fields(value)]
    else:
        return ()
    return _merge(_sources(item, seen, depth + 1) for item in items)


def _map_count(parameters: dict[str, Any]) -> int | None:
    """How many runs a `.map()` with these parameters makes, or None when not known."""
    for value in parameters.values():
        while isinstance(value, BaseAnnotation) and not isinstance(value, unmapped):
            value = value.unwrap()
        if isinstance(value, (unmapped, str, bytes)):
            continue
        if isinstance(value, TracedFutureList):
            return value.count
        if isinstance(value, TracedValue):
            if not value._known:
                return None
            value = value._value
        try:
            return len(value)
        except TypeError:
            continue
    return None


@dataclass
class _Call:
    id: str
    task: str
    scope: str | None
    mapped: bool = False
    count: int | None = None


@dataclass
class _Scope:
    id: str
    flow: str
    parent: str | None


class _Tracer:
    """Records the task calls, subflow calls and dependencies of one traced flow."""

    def __init__(self) -> None:
        self.calls: list[_Call] = []
        self.scopes: list[_Scope] = []
        self.edges: dict[tuple[str, str, str], list[str]] = {}  # (source, target, kind) -> labels
        self.order: dict[str, int] = {}  # node and cluster ids in the order they were made
        self.futures = 0
        self.sources: set[str] = set()

    def note_source(self, fn: Any) -> None:
        with suppress(TypeError):  # built-in or C functions have no source file
            self.sources.add(inspect.getsourcefile(fn) or "")

    def link(self, sources: Iterable[str], target: str, kind: str, label: str) -> None:
        for source in sources:
            labels = self.edges.setdefault((source, target, kind), [])
            if label not in labels:
                labels.append(label)

    def record(self, task: Task, parameters: dict, wait_for: Any, **extra: Any) -> TracedValue:
        self.note_source(task.fn)
        call = _Call(f"t{len(self.calls) + 1}", task.name, _SCOPE.get(), **extra)
        self.calls.append(call)
        self.order[call.id] = len(self.order)
        for name, value in parameters.items():
            self.link(_sources(value), call.id, "data", name)
        self.link(_sources(wait_for), call.id, "wait_for", "wait_for")
        viz = getattr(task, "viz_return_value", None)
        return TracedValue((call.id,), _UNKNOWN if viz is None else viz, task.name)

    def future(self, value: TracedValue) -> TracedFuture:
        self.futures += 1
        return TracedFuture(value, self.futures)

    def open_scope(self, flow: Flow) -> _Scope:
        self.note_source(flow.fn)
        scope = _Scope(f"cluster_{len(self.scopes) + 1}", flow.name, _SCOPE.get())
        self.scopes.append(scope)
        self.order[scope.id] = len(self.order)
        return scope

    def inside(self, scope_id: str) -> set[str]:
        """Ids of the calls inside a scope and its nested scopes."""
        ids = {scope_id}
        for scope in self.scopes:
            if scope.parent in ids:
                ids.add(scope.id)
        return {c.id for c in self.calls if c.scope in ids}

    def graph(self, name: str) -> FlowGraph:
        nodes = [Node(c.id, c.task, c.task, c.scope, c.mapped, c.count) for c in self.calls]
        clusters = [Cluster(s.id, s.flow, s.flow, s.parent) for s in self.scopes]
        number_repeated(nodes, lambda n: (n.cluster, n.task), lambda n: n.task)
        number_repeated(clusters, lambda c: (c.parent, c.flow), lambda c: c.flow)
        for node in nodes:
            if node.mapped:
                node.label += f" ×{node.count if node.count is not None else 'n'}"
        # in call order, whatever order sets of results were searched in
        found = sorted(self.edges, key=lambda e: (self.order[e[1]], self.order[e[0]], e[2]))
        edges = [Edge(s, t, kind, ", ".join(self.edges[s, t, kind])) for s, t, kind in found]
        return FlowGraph(name, nodes, edges, clusters)


def _bind_flow(flow: Flow, args: tuple, kwargs: dict) -> inspect.BoundArguments:
    """Flow arguments with signature defaults; missing ones become unknown traced values."""
    signature = inspect.signature(flow.fn)
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError as exc:
        raise FlowGraphError(f"cannot call flow {flow.name!r} with these arguments: {exc}") from exc
    bound.apply_defaults()
    for name, param in signature.parameters.items():
        if name not in bound.arguments and param.kind not in (
            param.VAR_POSITIONAL,
            param.VAR_KEYWORD,
        ):
            bound.arguments[name] = TracedValue((), _UNKNOWN, name)
    return bound


async def _ready(value: Any) -> Any:
    return value


def _task_call(tracer, task, *args, return_state=False, wait_for=None, **kwargs):
    value = tracer.record(task, get_call_parameters(task.fn, args, kwargs), wait_for)
    result = TracedState(value) if return_state else value
    return _ready(result) if task.isasync else result


def _task_submit(tracer, task, *args, return_state=False, wait_for=None, **kwargs):
    value = tracer.record(task, get_call_parameters(task.fn, args, kwargs), wait_for)
    return TracedState(value) if return_state else tracer.future(value)


def _task_delay(tracer, task, *args, **kwargs):
    return tracer.future(tracer.record(task, get_call_parameters(task.fn, args, kwargs), None))


def _task_apply_async(tracer, task, args=None, kwargs=None, wait_for=None, dependencies=None):
    parameters = get_call_parameters(task.fn, tuple(args or ()), dict(kwargs or {}))
    return tracer.future(tracer.record(task, parameters, wait_for))


def _task_map(tracer, task, *args, return_state=False, wait_for=None, deferred=False, **kwargs):
    parameters = get_call_parameters(task.fn, args, kwargs, apply_defaults=False)
    count = _map_count(parameters)
    value = tracer.record(task, parameters, wait_for, mapped=True, count=count)
    futures = TracedFutureList(
        (tracer.future(value) for _ in range(PLACEHOLDER_LENGTH if count is None else count)),
        count,
    )
    return [f.state for f in futures] if return_state else futures


def _flow_call(tracer, flow, *args, return_state=False, wait_for=None, **kwargs):
    """A subflow call: trace its body inside a cluster of its own."""
    bound = _bind_flow(flow, args, kwargs)
    scope = tracer.open_scope(flow)
    tracer.link(_sources(wait_for), scope.id, "wait_for", "wait_for")

    def finish(result: Any) -> Any:
        # a parameter no task inside consumed still feeds the subflow: draw it to the border
        inside = tracer.inside(scope.id)
        for name, value in bound.arguments.items():
            sources = [
                s
                for s in _sources(value)
                if not any(src == s and dst in inside for (src, dst, _) in tracer.edges)
            ]
            tracer.link(sources, scope.id, "data", name)
        if return_state:
            return TracedState(
                result if isinstance(result, TracedValue) else TracedValue((), result)
            )
        return result

    if flow.isasync:

        async def run_async() -> Any:
            token = _SCOPE.set(scope.id)
            try:
                return finish(await flow.fn(*bound.args, **bound.kwargs))
            finally:
                _SCOPE.reset(token)

        return run_async()
    token = _SCOPE.set(scope.id)
    try:
        return finish(flow.fn(*bound.args, **bound.kwargs))
    finally:
        _SCOPE.reset(token)


class _NetworkBlocked(FlowGraphError):
    """The traced flow body tried to open a network connection."""


def _network_blocked(attempt: str, address: Any) -> _NetworkBlocked:
    # the flow body runs for real: only its task calls are stubbed out
    return _NetworkBlocked(
        f"it tried to {attempt} {address!r} outside a task; tracing does not"
        " touch the network, so move that call into a task"
    )


_HANDLERS = {
    (Task, "__call__"): _task_call,
    (Task, "submit"): _task_submit,
    (Task, "map"): _task_map,
    (Task, "delay"): _task_delay,
    (Task, "apply_async"): _task_apply_async,
    (Flow, "__call__"): _flow_call,
}


@contextmanager
def _tracing(tracer: _Tracer) -> Iterator[None]:
    """Send this context's task and flow calls to `tracer`, and refuse its network use."""
    # this context only: other threads (Prefect's own, a server's) call Prefect as usual
    handlers = {key: functools.partial(handler, tracer) for key, handler in _HANDLERS.items()}
    with intercept_calls(handlers, scope="context"), refuse_connections(_network_blocked):
        yield


def _run_sync(make_coroutine) -> Any:
    """Run a coroutine to the end from sync code, also where an event loop already runs."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    # inside a running loop (Jupyter): run ours on a thread, carrying this context along
    context = contextvars.copy_context()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = context.run(asyncio.run, make_coroutine())
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="prefect-by-example-run-sync")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def flow_graph(flow: Flow, *args: Any, **kwargs: Any) -> FlowGraph:
    """Graph of a flow's tasks, found by running its body with every task call stubbed out.

    `args` and `kwargs` are the flow's parameters, bound as a call of the flow binds them;
    defaults apply, and a parameter left out becomes an unknown traced value, so a flow can be
    drawn without its data. A task call, `.submit()` or `.map()` does not run the task: it
    returns a stand-in whose value is the task's `viz_return_value` when it has one, else
    unknown (an unknown value has PLACEHOLDER_LENGTH items). Subflow calls are traced, in
    clusters of their own. Only calls made in this context are stubbed out, and there the
    flow body may not open network connections. An async flow is run to its end, also from
    inside a running event loop. The graph's `files` are the source files of the traced flows
    and tasks.

    Raises FlowGraphError when `flow` is not a Prefect flow, when the arguments do not fit its
    signature (too many, or a keyword it does not take), and when the body raises or touches
    the network (the error is its cause). Raises PatchVersionError when the installed Prefect
    is a release the interception of its calls was not written for.
    """
    if not isinstance(flow, Flow):
        raise FlowGraphError(f"{flow!r} is not a Prefect flow (decorate it with @flow)")
    tracer = _Tracer()
    tracer.note_source(flow.fn)
    bound = _bind_flow(flow, args, kwargs)
    try:
        with _tracing(tracer), disable_run_logger():
            if flow.isasync:
                _run_sync(lambda: flow.fn(*bound.args, **bound.kwargs))
            else:
                flow.fn(*bound.args, **bound.kwargs)
    except PatchVersionError:
        raise  # not this flow's fault: the build stops until the patch is checked
    except Exception as exc:
        raise FlowGraphError(
            f"cannot trace flow {flow.name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    graph = tracer.graph(flow.name)
    graph.files = sorted(tracer.sources - {""})
    return graph
