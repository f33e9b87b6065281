"""Every patch of another library's internals, in one place: one module per patched library.

A patch relies on code its library may change in any release, so each one names the upstream
code it replaces (file and function) and checks, before it is applied, that the installed
release is one it was written for. On another release it raises `PatchVersionError`, whose
message says which code to re-read; the Sphinx extension turns that into a failed build.

- `prefect_calls`: how `flow_graph` and `plain_functions` intercept Task and Flow calls;
- `sockets`: no network connections from a flow body while `flow_graph` traces it (the
  standard library's documented functions: no release to check);
- `sphinx_chunks`: one page per reading process in a parallel Sphinx build;
- `jupyter_sphinx_sessions`: rst pages run one kernel session per kernel name;
- `jupyter_cache_lock`: reading processes take turns with jupyter-cache's database;
- `prefect1_order`: Prefect 1 (legacy kernel) runs independent tasks in one order.

`_routing` is what `prefect_calls` and `sockets` share: wrappers that send calls to handlers
while in use, for one context or the whole process, and put the originals back after.

This module imports nothing but the standard library: the reader's package uses it too.
"""

from __future__ import annotations

from importlib import metadata

from ..errors import PatchVersionError

__all__ = ["PatchVersionError", "require"]


def require(distribution: str, written_for: str, patch: str, upstream: str) -> str:
    """Check that the installed `distribution` is a release `patch` was written for.

    `written_for` is a version specifier such as ``"==0.5.3"`` or ``">=3.8,<4"``; `upstream`
    names the code the patch relies on. Returns the installed version; raises
    `PatchVersionError` when it does not match, or when the distribution is not installed.
    """
    from packaging.specifiers import SpecifierSet  # packaging comes with pip, Sphinx and Prefect

    try:
        installed = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        raise PatchVersionError(f"{patch} patches {distribution}, which is not installed") from None
    if not SpecifierSet(written_for).contains(installed, prereleases=True):
        raise PatchVersionError(
            f"{patch} was written for {distribution}{written_for}, but {distribution} "
            f"{installed} is installed. It replaces {upstream}: read that code in the new "
            f"release, adapt the patch if needed, then widen its range in prefect_by_example/patches/."
        )
    return installed
