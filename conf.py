"""Prefect by Example: the site's manifest."""

from datetime import date
from importlib import metadata

# -- the project --------------------------------------------------------------
project = "Prefect by Example"
author = "The Prefect by Example authors"
copyright = f"{date.today().year}, {author}"
prefect_version = metadata.version("prefect")
version = release = prefect_version

# -- extensions ---------------------------------------------------------------
extensions = [
    "myst_nb",  # MyST Markdown pages and text notebooks, executed
    "jupyter_sphinx",  # `jupyter-execute` cells in reStructuredText pages
    "sphinx_design",  # tabs: Prefect 3 beside Prefect 1 (legacy)
    "sphinx_copybutton",
    "sphinx.ext.intersphinx",
    "prefect_by_example",  # our own: the build's Prefect server, kernels, flow graphs
]

# -- what is (not) a page ------------------------------------------------------
exclude_patterns = [
    "_build",
    ".nox",
    ".venv",
    ".ci",
    ".github",
    "**/.ipynb_checkpoints",
    "**/*.ipynb",  # jupytext twins a reader's JupyterLab may create
    "README.md",
    "requirements",
    "tests",
    "bench",
    "prefect_by_example",
]
myst_enable_extensions = ["colon_fence", "deflist", "substitution"]
myst_substitutions = {"prefect_version": prefect_version}

# -- execution -----------------------------------------------------------------
nb_execution_mode = "cache"  # re-execute a notebook only when its code changed
nb_execution_in_temp = True  # files a page writes land in a temporary folder, not the sources
nb_execution_timeout = 300  # seconds per cell; the slowest cell (a Dask cluster) needs ~30
nb_execution_raise_on_error = False  # with -W --keep-going the warning names page, cell, traceback
nb_execution_show_tb = True
nb_merge_streams = True
jupyter_execute_default_kernel = "python3"
jupyter_execute_kwargs = {"timeout": 300, "allow_errors": True}

# -- HTML -----------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = project
html_sourcelink_suffix = ""  # serve sources as .md, not .md.txt
html_theme_options = {
    "launch_buttons": {"binderhub_url": "https://mybinder.org", "notebook_interface": "jupyterlab"},
    "repository_url": "https://github.com/prefect-by-example/prefect-by-example",
    "use_download_button": True,
    "use_repository_button": True,
    "show_toc_level": 2,
}

# -- links ----------------------------------------------------------------------
intersphinx_mapping = {}

# -- prefect_by_example -------------------------------------------------------------
pbe_kernels = ["python3", "prefect1"]  # pages choose a kernel per page or per cell
pbe_kernels_path = ".nox/kernels/share/jupyter"  # where `nox -s kernels` registers them
