"""Fixtures: a private Prefect server, the whole site built once, Sphinx's own test apps.

Helpers live in the `support` package; tiny sites for extension tests in roots/test-*.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.site import ROOT, build_site

# Sphinx's fixtures (`app`, `make_app`, the `sphinx` marker) build sites from roots/test-*
pytest_plugins = ["sphinx.testing.fixtures"]


@pytest.fixture(scope="session")
def rootdir() -> Path:
    """Where Sphinx's fixtures find the test sites: roots/test-<name>."""
    return Path(__file__).parent / "roots"


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """One Prefect server for the test session, made the current API of this process."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from prefect_by_example.server import PrefectServer

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


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The whole site, built once per test session from this checkout."""
    return build_site(ROOT, tmp_path_factory.mktemp("site"))


# the tiers of the suite, each a marker (`pytest -m "not site"` runs the quick ones)
TIER_OF_FIXTURE = {"site": "site", "prefect_server": "server", "browser": "browser"}


def pytest_collection_modifyitems(items) -> None:
    """Mark each test with the tiers of the fixtures it uses (see pyproject.toml)."""
    for item in items:
        for fixture, tier in TIER_OF_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(tier)
