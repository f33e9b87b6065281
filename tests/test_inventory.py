"""The Python inventory kept in the repository matches its text source and loads in Sphinx."""

import io

from sphinx.util.inventory import InventoryFile
from support.site import ROOT

from devtools.inventory import inventory_bytes

SOURCE = ROOT / "docs/_inventories/python.txt"


def test_committed_inventory_is_made_from_its_text():
    assert (ROOT / "docs/_inventories/python.inv").read_bytes() == inventory_bytes(
        SOURCE.read_text()
    )


def test_inventory_resolves_python_names():
    inv = InventoryFile.load(
        io.BytesIO(inventory_bytes(SOURCE.read_text())),
        "https://docs.python.org/3.11",
        lambda b, u: f"{b}/{u}",
    )
    data = inv.data if hasattr(inv, "data") else inv
    sleep = data["py:function"]["time.sleep"]
    assert "https://docs.python.org/3.11/library/time.html#time.sleep" in str(sleep)
    assert "pathlib.Path" in data["py:class"]
