"""Prefect by Example: the site's manifest."""

import os
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
    "sphinx.ext.autodoc",  # the API page, from the pinned Prefect's own docstrings
    "sphinx.ext.graphviz",  # diagrams that are not flows (the learning path)
    "sphinx.ext.intersphinx",
    "sphinx_sitemap",
    "notfound.extension",  # a 404 page whose links work from any depth
    "sphinx.ext.duration",  # how long each page took to read (and so to execute)
    "prefect_by_example",  # our own: the build's Prefect server, kernels, flow graphs
]

# -- what is (not) a page ------------------------------------------------------
exclude_patterns = [
    "_build",
    ".*",  # hidden folders: environments (.nox, .venv), tool caches, CI files
    "**/.*",  # and hidden ones further down, e.g. JupyterLab's .ipynb_checkpoints
    "**/*.ipynb",  # jupytext twins a reader's JupyterLab may create
    "README.md",
    "requirements",
    "tests",
    "bench",
    "devtools",
    "images/README.md",  # images/ holds the pictures the build draws; its README is no page
    "prefect_by_example",
    "docs/_inventories",
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

# each page's read time, for the benchmark and the next build's page order (beside html/)
duration_write_json = "../page-seconds.json"
duration_print_total = False
duration_print_slowest = False

# -- HTML -----------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = project
html_sourcelink_suffix = ""  # serve sources as .md, not .md.txt
html_theme_options = {
    # no launch button: readers run the downloads in their own environment (docs/run-locally)
    "repository_url": "https://github.com/prefect-by-example/prefect-by-example",
    "use_download_button": True,
    "use_repository_button": True,
    "show_toc_level": 2,
}
# light or dark as the reader's system is; unset, a first visit logs an error in the console
html_context = {"default_mode": "auto"}
html_baseurl = "https://prefect-by-example.github.io/prefect-by-example/"  # for the sitemap
sitemap_url_scheme = "{link}"
html_css_files = ["prefect-by-example.css"]
html_static_path = ["_static"]
graphviz_output_format = "svg"
# the copy button leaves out shell and Python prompts, and the output lines after them
copybutton_prompt_text = r"\$ |>>> |\.\.\. "
copybutton_prompt_is_regexp = True
# the 404 page links to assets by absolute URL: "/" locally, "/<repo>/" on GitHub Pages
notfound_urls_prefix = os.environ.get("SITE_URL_PREFIX", "/")

# -- links ----------------------------------------------------------------------
# Python's inventory is kept in the repository, so the build needs no network
intersphinx_mapping = {
    "python": ("https://docs.python.org/3.11", "docs/_inventories/python.inv"),
}
autodoc_typehints = "none"  # Prefect's annotations name internal types that have no page
autodoc_member_order = "bysource"

# -- prefect_by_example -------------------------------------------------------------
pbe_kernels = ["python3", "prefect1"]  # pages choose a kernel per page or per cell
pbe_kernels_path = ".nox/kernels/share/jupyter"  # where `nox -s kernels` registers them
pbe_page_seconds = "bench/page-seconds.json"
pbe_flow_modules_path = ["docs/examples"]
# a new lock file re-executes every page (so does a change of prefect_by_example itself)
pbe_environment_files = ["requirements/docs.txt", "requirements/legacy.txt"]
pbe_execution_report = "../execution.json"  # each executed page's record, read by the canary
# what readers install, at the root of the site: this package's wheel (made by the nox
# sessions) and the pins of the two environments
pbe_wheel_dir = "_build/wheel"
pbe_reader_requirements = {
    "requirements.txt": "requirements/reader.txt",
    "requirements-prefect1.txt": "requirements/legacy.txt",
}  # `flow-graph` pictures of the pages' example flows  # measured by `nox -s bench`: the slowest pages start first
