"""The execution cache: a page's code runs again only when what it runs changed.

Executed notebooks are kept by jupyter-cache, the store myst-nb already uses for tutorials;
rst pages keep each kernel session's executed notebook in the same store. A notebook is
found again by its code cells and its kernel (jupyter-cache's own key), in a cache folder of
the environment it ran in: ``_build/.jupyter_cache/<fingerprint>``, where the fingerprint
hashes the lock files (`pbe_environment_files`) and this package's sources. A new Prefect in
the lock file or a change of the package so gives a new folder, which Sphinx sees as a changed
setting: every page is read again and executes in the new environment. Going back to an
environment finds its folder again; only the newest few folders are kept.

An rst session also records the files of the repository its code copied (`pages.workspace`
lists them in the kernel's working folder) with their hashes: an edited example file makes
Sphinx read the pages that use it again, and their stored sessions no longer match. A session
in which a cell failed is never stored.
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
from pathlib import Path

from sphinx.application import Sphinx

from ..pages import FILES_MANIFEST

PACKAGE = Path(__file__).resolve().parent.parent
# environments' cache folders kept besides the current one
KEEP_OTHER_ENVIRONMENTS = 2


def package_files() -> list[Path]:
    """This package's sources: what the pages import, and what runs them."""
    return sorted(p for p in PACKAGE.rglob("*") if p.suffix in (".py", ".yml") and p.is_file())


def environment_files(srcdir, config) -> list[Path]:
    """The lock files and package sources a page's execution depends on."""
    locks = [Path(srcdir, name) for name in config.pbe_environment_files]
    return [path for path in locks if path.is_file()] + package_files()


@functools.cache
def _digest(paths: tuple[Path, ...]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def fingerprint(srcdir, config) -> str:
    """A hash of the environment pages execute in (lock files, this package)."""
    return _digest(tuple(environment_files(srcdir, config)))[:16]


def environment_cache(build_root: Path, srcdir, config) -> Path:
    """This environment's cache folder: ``<build root>/.jupyter_cache/<fingerprint>``."""
    return (Path(build_root) / ".jupyter_cache" / fingerprint(srcdir, config)).resolve()


def use_environment_cache(app: Sphinx, config) -> None:
    """Point myst-nb's cache at the folder of this environment (config-inited).

    Unless conf.py names a cache folder itself. The setting is one Sphinx compares between
    builds, so a new environment makes it read every page again.
    """
    if "nb_execution_cache_path" in config and not config.nb_execution_cache_path:
        cache = environment_cache(Path(app.outdir).parent, app.srcdir, config)
        config.nb_execution_cache_path = str(cache)


def cache_path(app_or_env) -> Path:
    """Where executed notebooks are kept: myst-nb's cache folder, or this environment's."""
    env = getattr(app_or_env, "env", app_or_env)
    if getattr(env, "mystnb_config", None) is not None:
        return Path(env.mystnb_config.execution_cache_path)
    # without myst-nb: beside the doctrees, where myst-nb would put it
    return environment_cache(Path(env.doctreedir).parent, env.srcdir, env.config)


def prune_environment_caches(app: Sphinx, exception) -> None:
    """Keep the current environment's cache folder and the newest few others."""
    current = cache_path(app)
    root = current.parent
    if exception is not None or root.name != ".jupyter_cache" or not root.is_dir():
        return
    others = [p for p in root.iterdir() if p.is_dir() and p != current and len(p.name) == 16]
    others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in others[KEEP_OTHER_ENVIRONMENTS:]:
        shutil.rmtree(old, ignore_errors=True)


def enabled(env) -> bool:
    """rst sessions are cached as myst-nb caches notebooks: not in its force mode."""
    config = getattr(env, "mystnb_config", None)
    return config is None or config.execution_mode == "cache"


def session_notebook(kernel: str, cells: list):
    """The notebook of one kernel session, as jupyter-cache keys it."""
    import nbformat

    spec = {"name": kernel, "display_name": kernel, "language": "python"}
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": spec})


def file_hashes(srcdir: Path, paths: list[str]) -> dict[str, str]:
    """sha256 of each file, by its path relative to the sources (missing files: "")."""
    hashes = {}
    for path in paths:
        file = Path(path)
        key = str(file.relative_to(srcdir)) if file.is_relative_to(srcdir) else str(file)
        hashes[key] = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else ""
    return hashes


def files_read(folder: Path) -> list[str]:
    """The repository files a kernel's code copied into its working folder (see pages.py)."""
    manifest = folder / FILES_MANIFEST
    if not manifest.is_file():
        return []
    return sorted(set(manifest.read_text().splitlines()))


RST_DIRECTIVE = re.compile(
    r"^(?P<indent> *)\.\. (?P<name>jupyter-kernel|jupyter-execute)::(?P<arg>.*)$"
)


def rst_sessions(source: str, default_kernel: str) -> dict[str, list[str]]:
    """Each kernel's `jupyter-execute` code in an rst page, read from its text.

    A quick look, to tell before reading a page whether its sessions are in the cache; the
    doctree stays the truth (a page the look gets wrong is only predicted to execute).
    """
    sessions: dict[str, list[str]] = {}
    kernel, lines, i = default_kernel, source.splitlines(), 0
    while i < len(lines):
        match = RST_DIRECTIVE.match(lines[i])
        i += 1
        if not match:
            continue
        if match["name"] == "jupyter-kernel":
            kernel = match["arg"].strip() or default_kernel
            continue
        indent = len(match["indent"])
        block = []
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > indent):
            block.append(lines[i])
            i += 1
        options = 0  # the directive's options run up to the first blank line
        while options < len(block) and block[options].strip().startswith(":"):
            options += 1
        body = block[options:]
        while body and not body[0].strip():
            body.pop(0)
        while body and not body[-1].strip():
            body.pop()
        margin = min((_indent(line) for line in body if line.strip()), default=0)
        sessions.setdefault(kernel, []).append("\n".join(line[margin:] for line in body))
    return sessions


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def pages_to_execute(app: Sphinx, env, docnames: list[str]) -> set[str]:
    """The pages about to be read whose code will run, not come from the cache."""
    from .execution import runs_code

    if not enabled(env):
        return {doc for doc in docnames if runs_code(env.doc2path(doc).read_text("utf8"))}
    import nbformat

    store = SessionCache(env, "")
    executing = set()
    for doc in docnames:
        path = env.doc2path(doc)
        source = path.read_text(encoding="utf8")
        if not runs_code(source):
            continue
        if path.suffix == ".rst":
            sessions = rst_sessions(source, app.config.jupyter_execute_default_kernel)
            cells = {
                k: [nbformat.v4.new_code_cell(code) for code in c] for k, c in sessions.items()
            }
            if all(store.find(kernel, c) for kernel, c in cells.items()):
                continue
        elif store.has_notebook(source):
            continue
        executing.add(doc)
    return executing


class SessionCache:
    """One page's kernel sessions in jupyter-cache: look one up, store one."""

    def __init__(self, env, docname: str) -> None:
        from jupyter_cache import get_cache

        self.cache = get_cache(str(cache_path(env)))
        self.srcdir = Path(env.srcdir)
        self.docname = docname

    def find(self, kernel: str, cells: list):
        """The stored, executed notebook of this session, and its record; None if there is
        none or a file its code read has changed since."""
        try:
            record = self.cache.match_cache_notebook(session_notebook(kernel, cells))
        except KeyError:
            return None
        notebook = self.cache.get_cache_bundle(record.pk).nb
        files = notebook.metadata.get("pbe", {}).get("files", {})
        current = file_hashes(self.srcdir, [str(self.srcdir / name) for name in files])
        if current != files:
            return None  # an example file changed: run it again
        return notebook, record

    def has_notebook(self, source: str) -> bool:
        """Whether myst-nb will find this MyST notebook's outputs in the cache."""
        from myst_nb.core.read import read_myst_markdown_notebook

        try:
            self.cache.match_cache_notebook(read_myst_markdown_notebook(source))
        except KeyError:
            return False
        return True

    def store(self, kernel: str, notebook, seconds: float) -> None:
        """Keep an executed session (whose cells all passed) for the next builds."""
        import copy

        from jupyter_cache.base import CacheBundleIn

        # stored under the key `find` looks for: our kernelspec, cells without run timings
        kept = copy.deepcopy(notebook)
        kept.metadata.kernelspec = session_notebook(kernel, []).metadata.kernelspec
        for cell in kept.cells:
            cell.metadata.pop("execution", None)
        bundle = CacheBundleIn(
            kept, f"{self.docname}#{kernel}", data={"execution_seconds": seconds}
        )
        self.cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
