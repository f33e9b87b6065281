"""Helpers for the reader-experience tests: serving a built site, colour contrast, live rebuilds."""

from __future__ import annotations

import ast
import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

CHROMIUM = Path("/usr/bin/chromium")
# a headless Chromium that talks to nothing but the pages it is sent to
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# pages Sphinx makes by itself, without sources of ours
SPECIAL_PAGES = {"genindex", "search", "404"}


def is_local(url: str) -> bool:
    """True for URLs that stay on this machine: loopback, data: and blob: (and about:blank)."""
    if url.startswith(("data:", "blob:", "about:")):
        return True
    return urlsplit(url).hostname in LOCAL_HOSTS


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 from a thread; yields the base URL, ending in '/'."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def site_pages(html: Path) -> list[str]:
    """Docnames of every page in a built site (the theme's own snippets under _static excluded)."""
    return sorted(
        str(p.relative_to(html).with_suffix(""))
        for p in html.rglob("*.html")
        if not p.relative_to(html).parts[0].startswith("_")
    )


# -- colour ---------------------------------------------------------------------------------


def relative_luminance(rgb) -> float:
    """WCAG 2 relative luminance of an sRGB colour given as 0-255 components."""

    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(l1: float, l2: float) -> float:
    """WCAG contrast ratio of two relative luminances (1 to 21)."""
    hi, lo = max(l1, l2), min(l1, l2)
    return (hi + 0.05) / (lo + 0.05)


def luminances(png: Path) -> list[float]:
    """Relative luminance of every pixel of a PNG, sorted from darkest to lightest."""
    from PIL import Image

    with Image.open(png) as img:
        data = img.convert("RGB").tobytes()
    pixels = list(zip(data[0::3], data[1::3], data[2::3], strict=True))
    # 4096 distinct colours at most in a screenshot of a graph: compute each once
    cache: dict[tuple, float] = {}
    return sorted(cache.setdefault(p, relative_luminance(p)) for p in pixels)


def picture_contrast(png: Path) -> SimpleNamespace:
    """How readable a picture is: its background (median), its ink (darkest 1 %), their ratio."""
    lum = luminances(png)
    ink = lum[: max(1, len(lum) // 100)]
    ink_luminance = sum(ink) / len(ink)
    background = lum[len(lum) // 2]
    return SimpleNamespace(
        mean=sum(lum) / len(lum),
        background=background,
        ink=ink_luminance,
        ratio=contrast_ratio(background, ink_luminance),
    )


# -- sources and live rebuilds ----------------------------------------------------------------


def nox_session_command(noxfile: Path, function: str, root: Path, posargs=()) -> list[str]:
    """The command line a nox session runs with `session.run(...)`, as if the noxfile were in `root`.

    Read from the noxfile's source, so a test runs exactly what `nox -s <session>` would.
    """
    tree = ast.parse(noxfile.read_text())
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
    runs = [
        n for n in ast.walk(func)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "run"
    ]  # fmt: skip
    assert len(runs) == 1, f"{function} should run one command, runs {len(runs)}"
    namespace = {
        "str": str,
        "ROOT": root,
        "BUILD": root / "_build",
        "session": SimpleNamespace(posargs=list(posargs)),
    }
    command: list[str] = []
    for arg in runs[0].args:
        if isinstance(arg, ast.Starred):
            command.extend(
                eval(compile(ast.Expression(arg.value), str(noxfile), "eval"), namespace)
            )
        else:
            command.append(eval(compile(ast.Expression(arg), str(noxfile), "eval"), namespace))
    return [str(part) for part in command]
