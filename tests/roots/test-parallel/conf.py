"""Eight quick pages, two of them slow by their recorded times: who reads what, and when."""

import os
import time

extensions = ["myst_nb", "jupyter_sphinx", "prefect_by_example"]
pbe_prefect_server = False
pbe_page_seconds = "seconds.json"
exclude_patterns = ["_build"]
nb_execution_mode = "cache"


def record(app, docname, source):
    """Log each page read: its reading process, and whether jupyter-cache's database exists."""
    cache_db = os.path.join(app.env.mystnb_config.execution_cache_path, "global.db")
    with open(os.path.join(app.srcdir, "read.log"), "a") as f:
        f.write(f"{docname} {os.getpid()} {os.path.exists(cache_db)}\n")
    if docname in ("page3", "page5"):
        time.sleep(0.5)  # slow, as their times say: both start before any other


def setup(app):
    app.connect("source-read", record)
