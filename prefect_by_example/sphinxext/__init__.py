"""The site's Sphinx extension; each concern lives in a module of its own.

- `runtime`: the environment the build and its kernels inherit; which kernels exist;
- `buildserver`: the build's one private Prefect server;
- `order`: which page each reading process reads, slowest first;
- `execution`: running a page's code (rst pages: one kernel session per kernel name);
- `images`: the images/ folder; `flowgraph`: the `flow-graph` directive that draws into it;
- `provenance`: the "Executed with ..." line under each executed page's title;
- `downloads`: each executed page's code as notebooks and scripts, and what readers install;
- `html`: what HTML pages get on the way out (assets, accessible SVGs);
- `autodoc`: Prefect's docstrings on the API page;
- `messages`: the extension's warnings, type ``pbe``.

Patches of other libraries' internals live in `prefect_by_example.patches`.
"""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

from .. import __version__
from ..errors import PatchVersionError

# name, default, what a change rebuilds, types, what it is for
CONFIG = [
    ("pbe_prefect_server", True, "env", [bool],
     "start a private Prefect server for the build (off: each kernel starts its own)"),
    ("pbe_kernels_path", ".nox/kernels/share/jupyter", "env", [str],
     "folder, relative to conf.py, put first on JUPYTER_PATH"),
    ("pbe_kernels", [], "env", [list],
     "Jupyter kernels the pages use: the build fails early if one is missing"),
    ("pbe_page_seconds", "", "", [str],
     "JSON of page -> seconds from an earlier build: the slowest pages start first"),
    ("pbe_environment_files", [], "env", [list],
     "lock files, relative to the sources, whose change re-executes every page"),
    ("pbe_execution_report", "", "", [str],
     "where, relative to the HTML, to write each executed page's record as JSON"),
    ("pbe_site_url", "", "html", [str],
     "the hosted site's URL, for the install commands of downloads (default: html_baseurl)"),
    ("pbe_wheel_dir", "", "html", [str],
     "folder, relative to the sources, holding this package's wheel for readers"),
    ("pbe_reader_requirements", {}, "html", [dict],
     "file name at the site's root -> lock file, relative to the sources, shipped for readers"),
]  # fmt: skip


def setup(app: Sphinx) -> dict:
    from ..patches import jupyter_cache_lock, jupyter_sphinx_sessions
    from . import (
        autodoc,
        buildserver,
        caching,
        downloads,
        execution,
        html,
        order,
        provenance,
        runtime,
    )  # fmt: skip

    for name, default, rebuild, types, description in CONFIG:
        app.add_config_value(name, default, rebuild, types=types, description=description)

    # before anything imports Prefect: the environment every kernel and server inherits
    runtime.prepare_runtime(app)
    # patches of other libraries, each refusing a release it was not written for
    try:
        jupyter_sphinx_sessions.install(execution.PageSessions)
        jupyter_cache_lock.install()
    except PatchVersionError as err:
        raise ExtensionError(str(err)) from None
    app.setup_extension("prefect_by_example.sphinxext.flowgraph")  # images/ and `flow-graph`

    # configuration and builder ready: autodoc's hook, this environment's execution cache,
    # the kernels the pages need
    app.connect("config-inited", autodoc.connect_autodoc)
    app.connect("config-inited", caching.use_environment_cache)
    app.connect("config-inited", runtime.version_substitutions)
    app.connect("config-inited", downloads.add_substitutions)
    app.connect("builder-inited", runtime.add_kernels)

    # before reading: start the server, order the pages, make the notebook cache's database
    server = buildserver.BUILD_SERVER
    app.connect("env-before-read-docs", server.start)
    app.connect("env-before-read-docs", order.schedule_pages)
    app.connect("env-before-read-docs", execution.create_execution_cache)

    # reading each page: its code waits for the server, and for its turn if it runs alone;
    # the executed line under its title
    turns = order.Turns()
    app.connect("source-read", provenance.note_read_started)
    app.connect("source-read", server.wait)
    app.connect("source-read", turns.take)
    app.connect("doctree-read", turns.release)
    app.connect("doctree-read", execution.record_notebook_execution, priority=400)
    app.connect("doctree-read", provenance.mark_executed_pages)
    app.connect("env-updated", order.end_schedule)

    # writing each page
    app.connect("html-page-context", html.drop_assets_we_do_not_ship)
    app.connect("html-page-context", html.name_svg_objects)
    # after the theme's own handlers, which make its download menu
    app.connect("html-page-context", downloads.offer_downloads, priority=502)

    # the end, however it comes: stop the server, write the execution report, keep the
    # newest environments' caches (images/ is pruned by its own extension)
    app.connect("build-finished", server.stop)
    app.connect("build-finished", provenance.write_report)
    app.connect("build-finished", caching.prune_environment_caches)
    app.connect("build-finished", downloads.ship_reader_files)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
