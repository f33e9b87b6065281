"""plain_functions(): flows and tasks run as plain Python, with no Prefect API at all."""

from __future__ import annotations

import pytest
from prefect import Flow, Task, flow, task, unmapped
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_SERVER_ALLOW_EPHEMERAL_MODE,
    temporary_settings,
)

from prefect_by_example.modes import (
    MODE_VARIABLE,
    PlainFuture,
    PlainFutureList,
    mode_from_environment,
    plain_functions,
)

calls: list[str] = []


@task(task_run_name="add-{x}-{y}")
def add(x: int, y: int = 10) -> int:
    calls.append(f"add({x}, {y})")
    return x + y


@task
def total(values: list[int]) -> int:
    return sum(values)


@task
def explode(x: int) -> int:
    raise ValueError(f"no {x}")


@flow(flow_run_name="pipeline-{n}")
def pipeline(n: int = 3) -> int:
    first = add(1, 2)
    submitted = add.submit(first, y=first)
    mapped = add.map(range(n), unmapped(submitted))
    return total([submitted, *mapped])


@flow
def outer(n: int) -> int:
    return pipeline(n) * 2


@flow
def failing() -> int:
    return explode(1)


@task
async def async_task() -> int:
    return 1


@pytest.fixture
def no_api():
    """No Prefect API, and none may be started: any orchestrated call fails at once."""
    with temporary_settings(
        updates={PREFECT_SERVER_ALLOW_EPHEMERAL_MODE: False}, restore_defaults={PREFECT_API_URL}
    ):
        yield


@pytest.fixture(autouse=True)
def fresh_calls():
    calls.clear()


def test_without_the_switch_a_flow_needs_an_api(no_api):
    with pytest.raises(ValueError, match="No Prefect API URL"):
        pipeline(2)


def test_task_fn_needs_no_api_but_flow_fn_does(no_api):
    assert add.fn(1) == 11
    # the flow's own function still orchestrates the tasks it calls
    with pytest.raises(ValueError, match="No Prefect API URL"):
        pipeline.fn(2)


def test_a_whole_flow_runs_as_plain_functions(no_api):
    with plain_functions():
        # first = 3, submitted = 6, mapped = 6, 7, 8 -> 27
        assert pipeline(3) == 27
    assert calls == ["add(1, 2)", "add(3, 3)", "add(0, 6)", "add(1, 6)", "add(2, 6)"]


def test_subflows_and_futures(no_api):
    with plain_functions():
        assert outer(1) == 2 * (6 + 6)
        future = add.submit(1, 2)
        futures = add.map([1, 2])
    assert isinstance(future, PlainFuture) and future.result() == 3
    assert isinstance(futures, PlainFutureList) and futures.result() == [11, 12]


def test_map_defaults_and_mapping_over_a_result(no_api):
    with plain_functions():
        values = add.map([1, 2, 3])  # y keeps its default
        again = add.map(values, y=unmapped(100))
    assert values.result() == [11, 12, 13]
    assert again.result() == [111, 112, 113]


def test_exceptions_propagate_unchanged(no_api):
    with plain_functions(), pytest.raises(ValueError, match="no 1"):
        failing()


def test_return_state_and_async_are_refused(no_api):
    with plain_functions():
        with pytest.raises(TypeError, match="no run state"):
            pipeline(1, return_state=True)
        with pytest.raises(TypeError, match="synchronous"):
            async_task()


def test_the_switch_is_restored_even_after_an_error():
    originals = (Task.__call__, Task.submit, Task.map, Flow.__call__)
    with pytest.raises(RuntimeError), plain_functions():
        with plain_functions():  # nesting is fine
            pass
        assert Task.__call__ is not originals[0]
        raise RuntimeError
    assert (Task.__call__, Task.submit, Task.map, Flow.__call__) == originals


@pytest.mark.parametrize(
    ("value", "plain"),
    [("plain", True), ("PLAIN", True), ("prefect", False), ("", False), (None, False)],
)
def test_mode_from_environment(monkeypatch, no_api, value, plain):
    if value is None:
        monkeypatch.delenv(MODE_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(MODE_VARIABLE, value)
    with mode_from_environment():
        if plain:
            assert pipeline(1) == 12
        else:
            with pytest.raises(ValueError, match="No Prefect API URL"):
                pipeline(1)


def test_unknown_mode_is_an_error(monkeypatch):
    monkeypatch.setenv(MODE_VARIABLE, "cache")
    with pytest.raises(ValueError, match="expected one of prefect, plain"):
        mode_from_environment()
