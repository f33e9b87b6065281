"""Deploy the weather flow from a git repository to a process work pool.

Usage: python deploy_weather.py REPOSITORY_URL
"""

import sys

from prefect import flow
from prefect.runner.storage import GitRepository


def deploy(repository_url: str) -> None:
    weather = flow.from_source(
        source=GitRepository(url=repository_url, branch="main"),
        entrypoint="weather_flow.py:weather",
    )
    # the server records the entrypoint and a git_clone pull step
    weather.deploy(
        name="on-a-worker",
        work_pool_name="local-processes",
        ignore_warnings=True,  # "a process pool? try .serve()"
    )


if __name__ == "__main__":
    deploy(sys.argv[1])
