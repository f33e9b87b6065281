"""A copy of this checkout's sources, for builds that must not touch the real ones."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def copy_sources(root: Path, dest: Path) -> Path:
    """Copy what Git would commit from `root` into `dest`: tracked and untracked, non-ignored files."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    for name in files:
        if (root / name).is_file():  # a file deleted but not yet committed is skipped
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, dest / name)
    return dest
