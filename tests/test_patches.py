"""The patches package: Task and Flow calls routed to handlers, sockets refused, release checks."""

from __future__ import annotations

import socket
import threading

import pytest
from prefect import Flow, Task, flow, task

from prefect_by_example import patches
from prefect_by_example.errors import PatchVersionError
from prefect_by_example.graphs import flow_graph
from prefect_by_example.modes import plain_functions
from prefect_by_example.patches.prefect_calls import METHODS, intercept_calls
from prefect_by_example.patches.sockets import refuse_connections


@task
def double(x: int) -> int:
    return 2 * x


@flow
def twice(x: int = 1) -> int:
    return double(double(x))


class LoudTask(Task):
    """A subclass that overrides a method: routes reach it too."""

    def __call__(self, *args, **kwargs):
        return "loud"


def loud() -> None:
    pass


def prefect_methods() -> dict[str, object]:
    return {
        f"{cls.__name__}.{name}": vars(cls).get(name)
        for base in METHODS
        for cls in [base, LoudTask]
        for name in METHODS[base]
    }


def installed_prefect(version: str, monkeypatch) -> None:
    """Make the patches package see `version` as the installed Prefect release."""
    real = patches.metadata.version
    monkeypatch.setattr(
        patches.metadata, "version", lambda name: version if name == "prefect" else real(name)
    )


def routed(label: str):
    return lambda task_or_flow, *args, **kwargs: (label, task_or_flow.name, args)


@pytest.mark.parametrize("version", ["4.0.0", "3.7.2"])
def test_another_prefect_release_is_refused_before_anything_changes(monkeypatch, version):
    installed_prefect(version, monkeypatch)
    before = prefect_methods()
    with (
        pytest.raises(PatchVersionError) as info,
        intercept_calls({(Task, "__call__"): routed("x")}, scope="context"),
    ):
        pytest.fail("the block ran")
    message = str(info.value)
    assert f"prefect {version} is installed" in message
    assert "prefect_by_example.patches.prefect_calls was written for prefect>=3.8,<4" in message
    for upstream in ("prefect/tasks.py", "Task.__call__", "Task.submit", "Task.map", "Task.delay"):
        assert upstream in message
    assert "Task.apply_async" in message and "Flow.__call__ in prefect/flows.py" in message
    assert prefect_methods() == before
    # both users let it through as it is: a build stops rather than drawing nothing
    with pytest.raises(PatchVersionError):
        flow_graph(twice)
    with pytest.raises(PatchVersionError), plain_functions():
        pass
    assert prefect_methods() == before


@pytest.mark.parametrize("version", ["3.8.0", "3.10.2"])
def test_a_supported_release_passes(monkeypatch, version):
    installed_prefect(version, monkeypatch)
    with intercept_calls({(Task, "__call__"): routed("traced")}, scope="context"):
        assert double(3) == ("traced", "double", (3,))
    assert [n.label for n in flow_graph(twice).nodes] == ["double-0", "double-1"]


def test_the_installed_release_passes():
    with intercept_calls({(Flow, "__call__"): routed("flow")}, scope="context"):
        assert twice(2) == ("flow", "twice", (2,))


def test_context_routes_come_first_and_stay_in_their_context():
    seen: dict[str, object] = {}

    def other_thread() -> None:
        seen["call"] = double(1)
        seen["submit"] = double.submit(1)

    before = prefect_methods()
    with intercept_calls(
        {(Task, "__call__"): routed("process"), (Task, "submit"): routed("process")},
        scope="process",
    ):
        with intercept_calls({(Task, "__call__"): routed("context")}, scope="context"):
            assert double(1) == ("context", "double", (1,))
            # a method the inner route does not handle goes to the outer one
            assert double.submit(1) == ("process", "double", (1,))
            thread = threading.Thread(target=other_thread)
            thread.start()
            thread.join()
        assert double(1) == ("process", "double", (1,))
    assert seen == {"call": ("process", "double", (1,)), "submit": ("process", "double", (1,))}
    assert prefect_methods() == before


def test_subclass_overrides_are_routed_and_put_back_even_after_an_error():
    loud_task = LoudTask(loud)
    before = prefect_methods()
    with (
        pytest.raises(RuntimeError),
        intercept_calls({(Task, "__call__"): routed("routed")}, scope="process"),
    ):
        assert loud_task() == ("routed", "loud", ())
        raise RuntimeError
    assert prefect_methods() == before
    assert loud_task() == "loud"


def test_only_task_and_flow_methods_can_be_intercepted():
    with pytest.raises(ValueError, match=r"expected one of Task.__call__, Task.submit"):
        intercept_calls({(Flow, "submit"): routed("x")}, scope="context")
    with (
        pytest.raises(ValueError, match="expected one of context, process"),
        intercept_calls({(Task, "map"): routed("x")}, scope="thread"),  # type: ignore[arg-type]
    ):
        pass


def test_sockets_are_refused_in_this_context_only():
    def refused(attempt: str, address: object) -> Exception:
        return ConnectionRefusedError(f"{attempt} {address!r}")

    looked_up: list[object] = []
    thread = threading.Thread(target=lambda: looked_up.append(socket.getaddrinfo("127.0.0.1", 9)))
    before = (socket.getaddrinfo, "connect" in vars(socket.socket))
    with refuse_connections(refused):
        with pytest.raises(ConnectionRefusedError, match=r"look up '127\.0\.0\.1'"):
            socket.getaddrinfo("127.0.0.1", 9)
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="connect to"):
            sock.connect(("127.0.0.1", 9))
        thread.start()
        thread.join()
    assert looked_up and looked_up[0]
    assert (socket.getaddrinfo, "connect" in vars(socket.socket)) == before
