"""rst pages run one kernel session per kernel name, not one kernel per `jupyter-kernel` directive.

Upstream: jupyter_sphinx/execute.py, `ExecuteJupyterCells.apply`: it splits the page's
`jupyter-execute` cells with `jupyter_sphinx.utils.split_on` wherever a `jupyter-kernel`
directive stands, and for each part, in page order, calls the module function
`execute_cells(kernel_name, cells, execute_kwargs)`, which starts a fresh kernel, runs the
cells and returns the executed notebook. jupyter-sphinx has no hook to run the parts
otherwise (nor an execution cache: jupyter-sphinx issue #173).

The patch leaves `apply` as it is and hands its `execute_cells` calls for the page being
read to a page object of ours, made by the factory given to `install`:
``make_page(transform, execute_cells) -> page``, where `execute_cells` is jupyter-sphinx's
own function; ``page.run(apply)`` runs the page (calling ``apply()`` once), and
``page.execute(kernel_name, cells, execute_kwargs)`` answers each of apply's calls.
"""

from __future__ import annotations

import threading

from . import require

DISTRIBUTION, WRITTEN_FOR = "jupyter-sphinx", "==0.5.3"
UPSTREAM = "jupyter_sphinx/execute.py: ExecuteJupyterCells.apply and execute_cells"


def install(make_page) -> None:
    """Route jupyter-sphinx's execution of each page through `make_page` (idempotent)."""
    require(DISTRIBUTION, WRITTEN_FOR, "jupyter_sphinx_sessions", UPSTREAM)
    from jupyter_sphinx import execute as js_execute

    transform = js_execute.ExecuteJupyterCells
    if getattr(transform.apply, "_pbe_wrapped", False):
        return
    original_apply, original_execute = transform.apply, js_execute.execute_cells
    current = threading.local()  # the page this reading process is executing

    def apply(self, **kwargs):
        page = make_page(self, original_execute)
        current.page = page
        try:
            page.run(lambda: original_apply(self, **kwargs))
        finally:
            current.page = None

    def execute_cells(kernel_name, cells, execute_kwargs):
        page = getattr(current, "page", None)
        if page is None:  # called from elsewhere: run as jupyter-sphinx would
            return original_execute(kernel_name, cells, execute_kwargs)
        return page.execute(kernel_name, cells, execute_kwargs)

    apply._pbe_wrapped = True
    transform.apply = apply
    js_execute.execute_cells = execute_cells
