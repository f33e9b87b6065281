"""Prefect by Example's library: flow pictures, pandas results, plain mode, porting, page helpers.

Readers install it to run the site's notebooks; the site's Sphinx build loads it as an
extension (`prefect_by_example.sphinxext`, imported only when Sphinx loads us).

- `graphs`: `flow_graph` (a flow's tasks, traced from its code) and `run_graph` (a finished run);
- `pandas_results`: DataFrames as task results in plain pandas files;
- `modes`: `plain_functions()`, a whole flow run as plain Python;
- `porting`: Prefect 1 `set_dependencies` specs run with Prefect 3 tasks;
- `pages`: the small setup steps the pages' hidden cells share, for both kernels;
- `server`: a private `prefect server start` process;
- `patches`: every patch of another library's internals; `errors`: the package's errors.
"""

from pathlib import Path

__version__ = "0.1.0"

# Prefect 3's logging configuration for the site's pages: plain lines, no time, no colour.
# Point PREFECT_LOGGING_SETTINGS_PATH at it to get the same lines at home.
LOGGING_SETTINGS = Path(__file__).with_name("logging.yml")


def setup(app):
    """Sphinx entry point; the Sphinx parts are imported only when Sphinx loads us."""
    from .sphinxext import setup as _setup

    return _setup(app)
