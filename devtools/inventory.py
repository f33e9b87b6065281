"""Write a Sphinx objects.inv from a plain-text list, so the build links to the Python docs offline.

Usage: python -m devtools.inventory docs/_inventories/python.txt
(writes docs/_inventories/python.inv beside it).
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

HEADER = "# Sphinx inventory version 2\n# Project: {project}\n# Version: {version}\n"
COMPRESSED = "# The remainder of this file is compressed using zlib.\n"


def inventory_bytes(text: str) -> bytes:
    """objects.inv bytes for a text whose first lines set `project:` and `version:`."""
    fields, entries = {}, []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, value = line.partition(": ")
        if sep and key in ("project", "version"):
            fields[key] = value.strip()
        else:
            entries.append(" ".join(line.split()))  # name domain:role priority uri dispname
    head = HEADER.format(**fields) + COMPRESSED
    return head.encode() + zlib.compress(("\n".join(entries) + "\n").encode())


def main(source: str) -> None:
    path = Path(source)
    path.with_suffix(".inv").write_bytes(inventory_bytes(path.read_text()))


if __name__ == "__main__":
    main(*sys.argv[1:])
