"""The patches package: Task and Flow calls routed to handlers, sockets refused, release checks
of every patch, the build's patches of Sphinx, jupyter-sphinx and jupyter-cache."""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from pathlib import Path

import pytest
from prefect import Flow, Task, flow, task

from prefect_by_example import patches
from prefect_by_example.errors import PatchVersionError
from prefect_by_example.graphs import flow_graph
from prefect_by_example.modes import plain_functions
from prefect_by_example.patches import jupyter_cache_lock, jupyter_sphinx_sessions, sphinx_chunks
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


def pretend_installed(monkeypatch, distribution: str, version: str) -> None:
    """Make the patches package see `version` as the installed release of `distribution`."""
    real = patches.metadata.version
    monkeypatch.setattr(
        patches.metadata, "version", lambda name: version if name == distribution else real(name)
    )


def routed(label: str):
    return lambda task_or_flow, *args, **kwargs: (label, task_or_flow.name, args)


@pytest.mark.parametrize("version", ["4.0.0", "3.7.2"])
def test_another_prefect_release_is_refused_before_anything_changes(monkeypatch, version):
    pretend_installed(monkeypatch, "prefect", version)
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
    pretend_installed(monkeypatch, "prefect", version)
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


# -- the build's patches ----------------------------------------------------------------------

BUILD_PATCHES = {
    "sphinx_chunks": (sphinx_chunks, sphinx_chunks.one_page_per_chunk),
    "jupyter_cache_lock": (jupyter_cache_lock, jupyter_cache_lock.install),
    "jupyter_sphinx_sessions": (
        jupyter_sphinx_sessions,
        lambda: jupyter_sphinx_sessions.install(lambda transform, execute: None),
    ),
}


@pytest.mark.parametrize("name", BUILD_PATCHES)
def test_a_build_patch_refuses_another_release_naming_what_to_reread(monkeypatch, name):
    module, install = BUILD_PATCHES[name]
    pretend_installed(monkeypatch, module.DISTRIBUTION, "99.0")
    with pytest.raises(PatchVersionError) as raised:
        install()
    message = str(raised.value)
    assert f"{module.DISTRIBUTION}{module.WRITTEN_FOR}" in message
    assert f"{module.DISTRIBUTION} 99.0 is installed" in message
    assert module.UPSTREAM in message


@pytest.mark.parametrize("name", BUILD_PATCHES)
def test_the_pinned_release_is_the_one_each_patch_was_written_for(name):
    module, _ = BUILD_PATCHES[name]
    pinned = Path(__file__).parents[1] / "requirements" / "docs.txt"
    line = f"{module.DISTRIBUTION}{module.WRITTEN_FOR}"
    assert line in pinned.read_text().splitlines(), f"requirements/docs.txt does not pin {line}"


def test_a_missing_library_is_named():
    with pytest.raises(PatchVersionError, match="no-such-library, which is not installed"):
        patches.require("no-such-library", "==1.0", "a patch", "somewhere")


def test_a_build_on_another_release_fails_with_the_message(
    monkeypatch, make_app, rootdir, tmp_path
):
    from sphinx.errors import ExtensionError

    pretend_installed(monkeypatch, "jupyter-sphinx", "0.6.0")
    src = tmp_path / "site"
    src.mkdir()
    (src / "conf.py").write_text("extensions = ['jupyter_sphinx', 'prefect_by_example']\n"
                                 "pbe_prefect_server = False\n")  # fmt: skip
    (src / "index.rst").write_text("Index\n=====\n")
    with pytest.raises(
        ExtensionError, match=r"jupyter-sphinx==0\.5\.3, but jupyter-sphinx 0\.6\.0"
    ):
        make_app("html", srcdir=src, builddir=tmp_path / "_build")


def hold_cache_session(path: str, log: str) -> None:
    from jupyter_cache import get_cache
    from jupyter_cache.cache import db

    with db.session_context(get_cache(path).db):
        with open(log, "a") as f:
            f.write(f"enter {time.monotonic()}\n")
        time.sleep(0.3)
        with open(log, "a") as f:
            f.write(f"leave {time.monotonic()}\n")


def test_processes_take_turns_with_jupyter_caches_database(tmp_path):
    """SQLite gives up after 5 s of waiting: reading processes use the database one at a time."""
    from jupyter_cache import get_cache

    jupyter_cache_lock.install()
    path, log = str(tmp_path / ".jupyter_cache"), str(tmp_path / "log")
    _ = get_cache(path).db  # made on first use
    context = multiprocessing.get_context("fork")
    readers = [context.Process(target=hold_cache_session, args=(path, log)) for _ in range(3)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    events = [line.split()[0] for line in Path(log).read_text().splitlines()]
    assert events == ["enter", "leave"] * 3  # never two sessions at once


def test_the_prefect1_patch_refuses_the_prefect_3_of_this_environment():
    from importlib import metadata

    from prefect_by_example.patches import prefect1_order

    with pytest.raises(PatchVersionError) as raised:
        prefect1_order.install()
    message = str(raised.value)
    assert (
        "prefect==1.4.1" in message
        and f"prefect {metadata.version('prefect')} is installed" in message
    )
    assert prefect1_order.UPSTREAM in message
