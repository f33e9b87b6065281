"""Code shared by the Prefect by Example pages: build hooks and flow-graph drawing."""

import os
import sys
from pathlib import Path

__version__ = "0.1.0"

# what builds keep from one to the next in the environment they run in, as it keeps bytecode:
# an empty migrated Prefect database, matplotlib's font cache
ENV_CACHE = Path(sys.prefix, "var", "prefect-by-example")

# the sphinx-build options of every build of the site (nox sessions, tests, benchmark):
# strict, and two reading processes per core, since pages spend most of their time waiting
# on kernels and on the Prefect server
STRICT_OPTIONS = ["-n", "-W", "--keep-going", "-T"]
PARALLEL_OPTIONS = ["-j", str(2 * (os.cpu_count() or 1))]
BUILD_OPTIONS = [*STRICT_OPTIONS, *PARALLEL_OPTIONS]


def setup(app):
    """Sphinx entry point; the Sphinx parts are imported only when Sphinx loads us."""
    from .sphinx_ext import setup as _setup

    return _setup(app)
