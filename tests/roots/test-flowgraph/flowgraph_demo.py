"""Flows the test site draws."""

from prefect import flow, task


@task
def double(x: int) -> int:
    return 2 * x


@task
def total(numbers: list[int]) -> int:
    return sum(numbers)


@flow
def pipeline(n: int = 3) -> int:
    doubled = double.map(range(n))
    return total(doubled)


not_a_flow = total
