"""Shared fixtures: a private Prefect server for tests that need the API."""

from __future__ import annotations

import os

import pytest

from prefect_by_example.server import PrefectServer


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """One Prefect server for the test session, made the current API of this process."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with PrefectServer(tmp_path_factory.mktemp("prefect-home")) as server:
        # child processes (kernels, workers) read the environment, this process its settings
        saved = dict(os.environ)
        os.environ.update(server.client_env())
        try:
            with temporary_settings({PREFECT_API_URL: server.api_url}):
                yield server
        finally:
            os.environ.clear()
            os.environ.update(saved)
