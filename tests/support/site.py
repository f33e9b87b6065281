"""Building the site, or a small one, with `sphinx-build` in a subprocess, as nox does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from devtools.build import BUILD_OPTIONS

from .reading import BuiltSite

ROOT = Path(__file__).resolve().parents[2]
KERNELS = ROOT / ".nox" / "kernels" / "share" / "jupyter"


def build_site(srcdir: Path, outdir: Path, *extra: str) -> BuiltSite:
    """Run a clean, strict build of `srcdir` (as `nox -s docs` does) into `outdir`.

    HOME points at an empty folder, so anything the build writes there can be seen.
    """
    (outdir / "home").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(outdir / "home")}
    cmd = [
        sys.executable, "-m", "sphinx", "-b", "html", *BUILD_OPTIONS, "-d", str(outdir / "doctrees"),
        *extra, str(srcdir), str(outdir / "html"),
    ]  # fmt: skip
    started = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)
    site = BuiltSite(outdir, proc.stdout + proc.stderr, proc.returncode, started)
    print(f"built {srcdir} in {time.time() - started:.1f} s")
    return site


MINI_INDEX = """# Mini site

```{toctree}
PAGE
```
"""


def mini_site(tmp_path: Path, page: str, text: str) -> Path:
    """A site of one page beside a copy of our conf.py and what it refers to."""
    src = tmp_path / "src"
    for needed in ("_static", "docs/_inventories"):
        shutil.copytree(ROOT / needed, src / needed)
    (src / Path(page).parent).mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "conf.py", src)
    (src / "index.md").write_text(MINI_INDEX.replace("PAGE", page))
    (src / page).write_text(text)
    return src


def kernels_option() -> list[str]:
    """The option that points a build of a copied site at this checkout's kernels."""
    return ["-D", f"pbe_kernels_path={KERNELS}"]


def processes_mentioning(*needles: str) -> list[str]:
    """Command lines of running processes that contain any of the needles."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if any(n in cmdline for n in needles):
                found.append(cmdline)
    return found
