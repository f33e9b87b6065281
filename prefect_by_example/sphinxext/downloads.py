"""What a reader downloads: every executed page's code, as a notebook with outputs and as a
script, and what to install to run it.

- A tutorial offers its notebook (with the outputs this build shows) and a percent-format
  Python script; a concept page offers one pair per kernel, Prefect 3 and Prefect 1.
- Each download says in its first lines what to install, with the URL of the hosted site;
  a concept page's notebook first writes the page's example files into ./examples, where its
  setup cell (`pages.workspace`) looks for them outside the build.
- The site ships, at its root, this package's wheel (made by the nox sessions into
  `pbe_wheel_dir`) and the readers' pins: ``requirements.txt`` (Prefect 3) and
  ``requirements-prefect1.txt`` (the legacy kernel).

The downloads are offered in the theme's download menu of each page.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

from sphinx.application import Sphinx

from .. import __version__
from .caching import package_files
from .messages import logger, warn

WHEEL = f"prefect_by_example-{__version__}-py3-none-any.whl"
# kernel -> how the downloads name it, and the kernelspec a reader's Jupyter finds
KERNELS = {
    "python3": ("prefect3", {"name": "python3", "display_name": "Python 3", "language": "python"}),
    "prefect1": (
        "prefect1",
        {
            "name": "prefect1",
            "display_name": "Python 3 (Prefect 1.4, legacy)",
            "language": "python",
        },
    ),
}
SESSIONS = "pbe-sessions"  # in the build folder: each rst page's executed kernel sessions


def site_url(config) -> str:
    url = config.pbe_site_url or config.html_baseurl or ""
    return url if not url or url.endswith("/") else url + "/"


def install_commands(config, kernel: str) -> list[str]:
    """What a reader runs to install what a download of `kernel` needs."""
    url = site_url(config)
    if kernel == "prefect1":
        return [
            f"pip install -r {url}requirements-prefect1.txt",
            # only its standard-library page helpers: the rest of it needs Prefect 3
            f"pip install --no-deps {url}{WHEEL}",
        ]
    return [f"pip install -r {url}requirements.txt {url}{WHEEL}"]


def add_substitutions(app: Sphinx, config) -> None:
    """``{{ install_command }}`` and friends for MyST pages (config-inited)."""
    if "myst_substitutions" not in config:
        return
    config.myst_substitutions = {
        **config.myst_substitutions,
        "site_url": site_url(config),
        "wheel": WHEEL,
        "install_command": install_commands(config, "python3")[0],
        "install_prefect1": " && ".join(install_commands(config, "prefect1")),
    }


def keep_session(env, docname: str, kernel: str, notebook, raises: list) -> None:
    """Keep an rst page's executed session (run now or from the cache) for its downloads.

    A cell the page marks `:raises:` is tagged ``raises-exception``, as a reader's Jupyter
    (and nbclient) expects of a cell that fails on purpose.
    """
    import nbformat

    kept = copy.deepcopy(notebook)
    for cell, marked in zip(kept.cells, raises, strict=True):
        if marked is not None:
            cell.metadata.setdefault("tags", []).append("raises-exception")
    path = Path(env.doctreedir).parent / SESSIONS / docname / f"{kernel}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(kept, path)


def header_cells(app: Sphinx, pagename: str, kernel: str, what: str, files: dict[str, str]):
    """The cells a download starts with: where it comes from, what it needs, its files."""
    import nbformat

    title = app.env.titles[pagename].astext() if pagename in app.env.titles else pagename
    url = f"{site_url(app.config)}{pagename}.html"
    commands = "\n".join(install_commands(app.config, kernel))
    text = (
        f"# {title} — {what}\n\n"
        f"From [{title}]({url}), with the outputs of the build that made the site. "
        "To run it you need Python 3.11, Graphviz's `dot` (`apt-get install graphviz` or "
        f"`brew install graphviz`), and:\n\n```\n{commands}\n```\n\n"
        "Run it from an empty folder: the code writes files there. Without `PREFECT_API_URL`, "
        "Prefect starts a temporary server for the kernel, which takes about 20 seconds."
    )
    cells = [nbformat.v4.new_markdown_cell(text)]
    if files:
        cells.append(nbformat.v4.new_code_cell(files_cell(files)))
    return cells


def files_cell(files: dict[str, str]) -> str:
    """Code that writes the page's example files into ./examples."""
    lines = [
        "# the page's example files, in ./examples as beside the page",
        "from pathlib import Path",
        "",
        'Path("examples").mkdir(exist_ok=True)',
    ]
    for name, text in files.items():
        literal = f"r'''{text}'''" if "'''" not in text and not text.endswith("\\") else repr(text)
        lines.append(f'Path("examples", {name!r}).write_text({literal})')
    return "\n".join(lines) + "\n"


def write_download(app: Sphinx, notebook, stem: str) -> list[tuple[str, str]]:
    """The notebook and its percent script in _sources/; their (file name, label)s."""
    import jupytext
    import nbformat

    folder = Path(app.outdir, "_sources", stem).parent
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(stem).name
    nbformat.write(notebook, folder / f"{name}.ipynb")
    script = copy.deepcopy(notebook)  # a script keeps the code, not the outputs
    for cell in script.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    (folder / f"{name}.py").write_text(jupytext.writes(script, fmt="py:percent"))
    return [(f"{stem}.ipynb", "notebook"), (f"{stem}.py", "script")]


def tutorial_download(app: Sphinx, pagename: str, source: Path) -> list[tuple[str, str, str]]:
    """A tutorial's notebook, with its outputs from the execution cache, and its script."""
    from jupyter_cache import get_cache
    from myst_nb.core.read import read_myst_markdown_notebook

    notebook = read_myst_markdown_notebook(source.read_text(encoding="utf8"))
    config = getattr(app.env, "mystnb_config", None)
    if config is not None:
        try:
            _, notebook = get_cache(config.execution_cache_path).merge_match_into_notebook(notebook)
        except KeyError:
            pass  # executed outside the cache (force mode): offered without its outputs
    notebook.cells[:0] = header_cells(app, pagename, "python3", "the tutorial as a notebook", {})
    return [(f, kind, "") for f, kind in write_download(app, notebook, pagename)]


def concept_downloads(app: Sphinx, pagename: str) -> list[tuple[str, str, str]]:
    """One notebook and one script per kernel session of an rst page."""
    import nbformat

    folder = Path(app.doctreedir).parent / SESSIONS / pagename
    made = []
    for kernel, (suffix, spec) in KERNELS.items():
        path = folder / f"{kernel}.ipynb"
        if not path.is_file():
            continue
        session = nbformat.read(path, as_version=4)
        files = {
            Path(name).name: Path(app.srcdir, name).read_text(encoding="utf8")
            for name in session.metadata.get("pbe", {}).get("files", {})
            if Path(app.srcdir, name).is_file()
        }
        what = {"prefect3": "its Prefect 3 code", "prefect1": "its Prefect 1 (legacy) code"}[suffix]
        notebook = nbformat.v4.new_notebook(metadata={"kernelspec": spec})
        notebook.cells = header_cells(app, pagename, kernel, what, files) + [
            cell for cell in session.cells if cell.source.strip()
        ]
        made += [
            (f, kind, suffix) for f, kind in write_download(app, notebook, f"{pagename}-{suffix}")
        ]
    return made


def offer_downloads(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Write the page's downloads and list them first in the theme's download menu."""
    if app.builder.format != "html" or doctree is None:
        return
    record = app.env.metadata.get(pagename, {}).get("pbe_execution")
    if not record:
        return  # the page ran no code
    source = Path(app.env.doc2path(pagename))
    if source.suffix == ".md":
        made = tutorial_download(app, pagename, source)
    else:
        made = concept_downloads(app, pagename)
    sources = context["pathto"]("_sources", 1)
    buttons = []
    for name, kind, label in made:
        which = f" (Prefect {label[-1]})" if label else ""
        buttons.append({
            "type": "link",
            "url": f"{sources}/{name}",
            "text": f".{name.rsplit('.', 1)[1]}{which}",
            "tooltip": f"Download the page's code{which} as a {kind}",
            "icon": "fas fa-code" if kind == "notebook" else "fas fa-file-code",
            "label": f"download-{kind}-{label or 'page'}-button",
        })  # fmt: skip
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"][:0] = buttons


def ship_reader_files(app: Sphinx, exception) -> None:
    """The wheel and the readers' pins at the root of the site (build-finished)."""
    if exception is not None or app.builder.format != "html":
        return
    for name, source in app.config.pbe_reader_requirements.items():
        path = Path(app.srcdir, source)
        if path.is_file():
            shutil.copy(path, Path(app.outdir, name))
    folder = Path(app.srcdir, app.config.pbe_wheel_dir or "")
    if not app.config.pbe_wheel_dir or not folder.is_dir():
        logger.info("no wheel folder (pbe_wheel_dir): the site ships no wheel")
        return
    wheel = folder / WHEEL
    make = f"make it with `uv build --out-dir {app.config.pbe_wheel_dir} .` (the nox sessions do)"
    if not wheel.is_file():
        warn(f"no {WHEEL} in {app.config.pbe_wheel_dir}: {make}", "download")
        return
    newer = [p for p in package_files() if p.stat().st_mtime > wheel.stat().st_mtime]
    if newer:
        warn(f"{WHEEL} is older than {newer[0].name}: {make}", "download")
    shutil.copy(wheel, Path(app.outdir, WHEEL))
