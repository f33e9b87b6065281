"""The setup steps that several pages' hidden cells share, for either kernel (Prefect 3 or 1).

Standard library only (a helper that needs more imports it when called), so the `prefect1`
kernel, whose environment has Prefect 1 and not this package's dependencies, imports it too.
Each helper is one line in a page's hidden setup cell:

- `workspace("examples")`: work here, with copies of the page's example files;
- `quiet_tracebacks()`: logged exceptions as one line, not a traceback through temporary files;
- `mask_log_lines({...})`: upload times and other changing words out of log lines;
- `stable_prefect1_graphs()`: Prefect 1's `flow.visualize()` drawn with stable node names;
- `stable_prefect1_order()`: Prefect 1 runs tasks that do not depend on each other in one order;
- `shared_prefect_server()`: one Prefect server for this kernel and the processes it starts;
- `stand_in_viewer()`: an `xdg-open` that only writes down what it was asked to open.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

# set by the site's build: the folder of the page being executed (outside it: the current one)
PAGE_DIR_VARIABLE = "PBE_PAGE_DIR"
# in the build, `workspace` lists here the page files it copied: the build keeps a page's
# stored outputs only while those files stay as they were
FILES_MANIFEST = ".pbe-files"
GIT_IDENTITY = {"NAME": "Ada", "EMAIL": "ada@example.org"}


def workspace(*names: str) -> Path:
    """Work in the current folder, with copies of the page's files; return the folder.

    `names` are files or folders (a folder's files are copied) relative to the page's own
    folder: the one the build names in PBE_PAGE_DIR, or else the current folder (a
    downloaded notebook's first cell writes the page's files into ./examples there).

    Also puts the folder first on `sys.path` (pages import their example modules), sends
    temporary files to ./tmp (clones and scratch files stay here), turns off colours in
    subprocess output, and gives git an identity for commits. Raises FileNotFoundError,
    naming the file, when one is missing.
    """
    here = Path.cwd()
    in_build = PAGE_DIR_VARIABLE in os.environ
    page_dir = Path(os.environ.get(PAGE_DIR_VARIABLE) or here)
    copied = []
    for name in names:
        source = page_dir / name
        if source.is_dir():
            copied += [file for file in sorted(source.iterdir()) if file.is_file()]
        elif source.is_file():
            copied.append(source)
        else:
            raise FileNotFoundError(f"{name} is not in {page_dir}: this page needs it there")
    for file in copied:
        if file.parent != here:
            shutil.copy(file, here / file.name)
    if copied and in_build:
        with open(here / FILES_MANIFEST, "a") as manifest:
            manifest.writelines(f"{file.resolve()}\n" for file in copied)
    sys.path.insert(0, str(here))
    (here / "tmp").mkdir(exist_ok=True)
    tempfile.tempdir = str(here / "tmp")
    for name in ("FORCE_COLOR", "CLICOLOR_FORCE"):
        os.environ.pop(name, None)
    for who in ("AUTHOR", "COMMITTER"):
        for field, value in GIT_IDENTITY.items():
            os.environ.setdefault(f"GIT_{who}_{field}", value)
    return here


def _one_line(self, exc_info) -> str:
    return traceback.format_exception_only(exc_info[0], exc_info[1])[-1].strip()


_format = logging.Formatter.format


def _format_without_repeats(self, record: logging.LogRecord) -> str:
    exc_info = record.exc_info
    if exc_info and exc_info[0] is not None and exc_info[0].__name__ in record.getMessage():
        # the message names the exception already (Prefect 3's do)
        exc_text, record.exc_info, record.exc_text = record.exc_text, None, None
        try:
            return _format(self, record)
        finally:
            record.exc_info, record.exc_text = exc_info, exc_text
    return _format(self, record)


def quiet_tracebacks() -> None:
    """Log an exception as its last line (``ZeroDivisionError: division by zero``), or not at
    all where the log message names it already.

    A logged traceback would only show the kernel's temporary files and Prefect's internals.
    """
    logging.Formatter.formatException = _one_line
    logging.Formatter.format = _format_without_repeats


class _Masks(logging.Filter):
    def __init__(self, masks: dict[str, str]) -> None:
        super().__init__()
        self.masks = [(re.compile(pattern), replacement) for pattern, replacement in masks.items()]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for pattern, replacement in self.masks:
            message = pattern.sub(replacement, message)
        record.msg, record.args = message, ()
        return True


def mask_log_lines(masks: dict[str, str], logger: str = "prefect") -> None:
    """Replace what matches each regular expression in `masks` in the lines `logger` prints.

    For words that change on every run (upload times, ETags), so that a page shows the same
    log on every build. Call it after the library has set up its logging.
    """
    for handler in logging.getLogger(logger).handlers:
        handler.addFilter(_Masks(masks))


def stable_prefect1_graphs() -> None:
    """Show Prefect 1's `flow.visualize()` graphs with task names where it puts `id()`s.

    Prefect 1 names graph nodes by their tasks' memory addresses, which change every run;
    in IPython the graph then shows as SVG with the nodes named by their labels instead.
    """
    import graphviz
    from IPython import get_ipython

    def stable_svg(graph: graphviz.Digraph) -> dict[str, str]:
        names = {}
        for line in graph.body:
            if match := re.match(r'\t(\d+) \[label=("[^"]*"|\S+)', line):
                names[match[1]] = '"' + match[2].strip('"') + '"'
        body = [re.sub(r"\b\d{6,}\b", lambda m: names.get(m[0], m[0]), line) for line in graph.body]
        stable = graph.copy()
        stable.body = sorted(body, key=lambda line: (" -> " in line, line))
        stable.graph_attr["pad"] = "0.3"
        return {"image/svg+xml": stable.pipe(format="svg", encoding="utf-8")}

    formatters = get_ipython().display_formatter
    formatters.mimebundle_formatter.for_type(graphviz.Digraph, stable_svg)


def stable_prefect1_order() -> None:
    """Make Prefect 1 run the tasks that do not depend on each other in the order of their slugs.

    Two independent Prefect 1 tasks (two parameters, say) otherwise run, and log, in an order
    set by memory addresses, different from run to run; see `patches.prefect1_order`.
    """
    from .patches import prefect1_order

    prefect1_order.install()


def shared_prefect_server() -> str:
    """The API URL of a Prefect server this kernel shares with the processes it starts.

    PREFECT_API_URL's server if it is set (as in the site's build); otherwise a server
    started for this kernel in a scratch home, stopped when the kernel exits. Prefect itself
    would start a temporary server per process, and a worker or a served flow could not see
    this notebook's deployments. Call it before importing Prefect, which reads the setting
    on import.
    """
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    from .server import PrefectServer  # Prefect 3 kernels only

    home = Path(tempfile.mkdtemp(prefix="prefect-home-"))
    server = PrefectServer(home).start(timeout=180)
    atexit.register(server.stop)
    atexit.register(shutil.rmtree, home, True)
    os.environ.update(server.client_env())
    return server.api_url


VIEWER_SCRIPT = '#!/bin/sh\necho "$@" >> "${0%/*}/opened"\n'


def stand_in_viewer(folder: str = "viewer") -> Path:
    """Put an `xdg-open` first on PATH that only writes down what it was asked to open.

    Prefect's `flow.visualize()` opens the picture it draws in the system's viewer
    (`xdg-open` on Linux): on a machine without a screen, nothing can show it. With the
    stand-in, the call does the same on every machine, and `opened(folder)` tells what it
    asked for. Returns the folder.
    """
    viewer = Path(folder).resolve()
    viewer.mkdir(exist_ok=True)
    script = viewer / "xdg-open"
    script.write_text(VIEWER_SCRIPT)
    script.chmod(0o755)
    os.environ["PATH"] = f"{viewer}{os.pathsep}{os.environ.get('PATH', '')}"
    return viewer


def opened(folder: str | Path = "viewer", timeout: float = 30) -> list[str]:
    """What the stand-in viewer in `folder` was asked to open, one entry per call.

    The viewer starts in the background: wait up to `timeout` seconds for its first call.
    """
    record = Path(folder) / "opened"
    deadline = time.monotonic() + timeout
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return record.read_text().splitlines() if record.exists() else []
