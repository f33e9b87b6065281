"""Flows that the atlas pages deploy: a deployment needs a flow that lives in a file."""

from prefect import flow, task


@flow
def report() -> None:
    """A flow to put on a schedule; what it does does not matter here."""


@task(task_run_name="square-{x}")
def square(x: int) -> int:
    return x * x


@flow(name="child", flow_run_name="child-{x}")
def child(x: int) -> int:
    return square(x)
