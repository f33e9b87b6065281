"""The sphinx-build options of every build of the site: nox sessions, tests, benchmark.

Plain Python with no dependencies: the noxfile imports it before any environment exists.
"""

import os

# strict: a warning fails the build, after every page has been read
STRICT_OPTIONS = ["-n", "-W", "--keep-going", "-T"]
# two reading processes per core: pages spend most of their time waiting on kernels and on
# the Prefect server
PARALLEL_OPTIONS = ["-j", str(2 * (os.cpu_count() or 1))]
BUILD_OPTIONS = [*STRICT_OPTIONS, *PARALLEL_OPTIONS]
