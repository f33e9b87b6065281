"""The old guide's hello-flow (Prefect 1), as a file for `prefect build`."""

import prefect
from prefect import Flow, task


@task
def say_hello():
    logger = prefect.context.get("logger")
    logger.info("Hello, Cloud!")


with Flow("hello-flow") as flow:
    say_hello()
