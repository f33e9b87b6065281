"""Code shared by the Prefect by Example pages: build hooks and flow-graph drawing."""

__version__ = "0.1.0"


def setup(app):
    """Sphinx entry point; the Sphinx parts are imported only when Sphinx loads us."""
    from .sphinx_ext import setup as _setup

    return _setup(app)
