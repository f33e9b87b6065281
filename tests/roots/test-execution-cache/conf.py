"""Pages whose code logs every run, for the execution cache's tests."""

import os
from pathlib import Path

extensions = ["myst_nb", "jupyter_sphinx", "prefect_by_example"]
pbe_prefect_server = False  # no page here runs a flow
pbe_environment_files = ["requirements.txt"]  # the stand-in lock file
exclude_patterns = ["_build", "examples"]
nb_execution_mode = "cache"
# every run of a page's code adds a line here (kernels inherit the variable)
os.environ["CACHE_TEST_LOG"] = str(Path(__file__).parent / "runs.log")
