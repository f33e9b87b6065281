"""The top-level images/ folder: every picture a page embeds as a file, drawn by this build.

Each picture is named after a hash of what drew it (``<what>-<sha1>.svg``), so a changed flow
can never show an old picture and an unchanged one is not drawn twice. Two kinds land here:

- `flow-graph` directive pictures, drawn from a flow's code in the Sphinx process;
- pictures a page's code writes in its kernel (Prefect 1's ``flow.visualize(filename=...)``,
  Prefect 3's ``flow.visualize()``), which the page embeds with ``.. image:: /images/NAME``:
  the build takes the file the kernel wrote (``NAME`` or ``images/NAME`` in the kernel's
  working folder), stores it here under its hashed name and points the image at it.

Images no page uses any more are removed at the end of a build; files of other names in
images/ are never touched.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

from .messages import warn

IMAGE_DIR = "images"
# what this build writes, and so may remove: <what>-<40 hex digits>.<svg or png>
OURS = re.compile(r"[a-z0-9][a-z0-9-]*-[0-9a-f]{40}\.(?:svg|png)")
KERNEL_IMAGE = re.compile(r"/images/([A-Za-z0-9][\w.-]*\.(?:svg|png))")


def hashed_name(what: str, key: bytes, suffix: str) -> str:
    """``<what>-<sha1 of key>.<suffix>``, `what` made a lowercase slug."""
    slug = re.sub(r"[^a-z0-9]+", "-", what.lower()).strip("-") or "image"
    return f"{slug}-{hashlib.sha1(key).hexdigest()}.{suffix}"


def store(app_or_env, docname: str, name: str, draw: Callable[[], bytes]) -> str:
    """Write images/`name` for `docname`, drawn now; its absolute uri.

    A page read again draws its pictures again; a page Sphinx does not read again keeps
    them (its name says nothing changed).
    """
    env = getattr(app_or_env, "env", app_or_env)
    path = Path(env.srcdir) / IMAGE_DIR / name
    path.parent.mkdir(exist_ok=True)
    # parallel readers may draw the same picture: write aside, then swap in whole
    partial = path.with_name(f".{path.stem}-{os.getpid()}{path.suffix}")
    try:
        partial.write_bytes(draw())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    used(env).setdefault(docname, set()).add(name)
    return f"/{IMAGE_DIR}/{name}"


def wanted_kernel_images(doctree) -> list[str]:
    """Names of the images a page embeds from images/ that its code is to write."""
    return [
        match[1]
        for image in doctree.findall(nodes.image)
        if (match := KERNEL_IMAGE.fullmatch(image.get("uri", ""))) and not OURS.fullmatch(match[1])
    ]


def collect_kernel_images(folder: Path, names: list[str]) -> dict[str, bytes]:
    """The files named `names` that a kernel wrote in `folder` (or `folder`/images)."""
    found = {}
    for name in names:
        for candidate in (folder / IMAGE_DIR / name, folder / name):
            if candidate.is_file():
                found[name] = candidate.read_bytes()
                break
    return found


def place_kernel_images(env, doctree, written: dict[str, bytes]) -> None:
    """Store what the page's code wrote under hashed names and point the page's images there."""
    for image in doctree.findall(nodes.image):
        match = KERNEL_IMAGE.fullmatch(image.get("uri", ""))
        if not match or OURS.fullmatch(match[1]):
            continue
        name = match[1]
        if name not in written:
            if (Path(env.srcdir) / IMAGE_DIR / name).is_file():
                continue  # a picture of the sources', not one the page's code draws
            warn(
                f"the page embeds /images/{name}, but its code wrote no file {name} "
                f"(nor images/{name}) in its working folder",
                "image",
                location=image,
            )
            continue
        stem, suffix = name.rsplit(".", 1)
        data = written[name]
        uri = store(env, env.docname, hashed_name(stem, data, suffix), lambda data=data: data)
        image["uri"] = uri  # before doctree-read, where Sphinx collects the page's images


def used(env) -> dict[str, set[str]]:
    """Images each document uses, kept in the build environment between builds."""
    if not hasattr(env, "pbe_images"):
        env.pbe_images = {}
    return env.pbe_images


def purge_doc(app: Sphinx, env, docname: str) -> None:
    used(env).pop(docname, None)


def merge_info(app: Sphinx, env, docnames: set[str], other: Any) -> None:
    theirs = used(other)
    for docname in docnames:
        if docname in theirs:
            used(env)[docname] = theirs[docname]


def pages_missing_images(app: Sphinx, env, added, changed, removed) -> list[str]:
    """Pages whose pictures are gone from images/ (deleted by hand): read them again."""
    folder = Path(env.srcdir) / IMAGE_DIR
    return sorted(
        docname
        for docname, names in used(env).items()
        if docname not in removed and any(not (folder / name).is_file() for name in names)
    )


def prune_images(app: Sphinx, exception: BaseException | None) -> None:
    """Delete pictures of ours that no document uses any more, and nothing else."""
    if exception is not None or app.env is None:
        return
    in_use = set().union(*used(app.env).values())
    folder = Path(app.srcdir) / IMAGE_DIR
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if OURS.fullmatch(path.name) and path.name not in in_use and path.is_file():
            path.unlink()


def setup(app: Sphinx) -> dict[str, Any]:
    """The upkeep of images/: which page uses which picture, and removing unused ones."""
    from .. import __version__

    app.connect("env-get-outdated", pages_missing_images)
    app.connect("env-purge-doc", purge_doc)
    app.connect("env-merge-info", merge_info)
    app.connect("build-finished", prune_images)
    return {"version": __version__, "env_version": 2, "parallel_read_safe": True,
            "parallel_write_safe": True}  # fmt: skip
