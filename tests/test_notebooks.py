"""Every tutorial runs on its own, top to bottom, outside Sphinx: as a reader would run it."""

from __future__ import annotations

import time

import jupytext
import pytest
from nbclient import NotebookClient
from support.site import ROOT

TUTORIALS = sorted(ROOT.glob("tutorials/*.md"))


@pytest.fixture
def reader_env(prefect_server, tmp_path, monkeypatch):
    """A reader's setup: their own running Prefect server, Prefect's default logging."""
    monkeypatch.delenv("PREFECT_LOGGING_SETTINGS_PATH", raising=False)
    monkeypatch.setenv("JUPYTER_PATH", str(ROOT / ".nox/kernels/share/jupyter"))
    for name in ("IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "MPLCONFIGDIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    return tmp_path


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs_standalone(path, reader_env):
    notebook = jupytext.read(path)
    workdir = reader_env / "work"
    workdir.mkdir()
    client = NotebookClient(
        notebook,
        kernel_name=notebook.metadata.kernelspec.name,
        timeout=300,
        resources={"metadata": {"path": str(workdir)}},
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, unless tagged raises-exception
    print(f"{path.name}: {time.perf_counter() - started:.1f} s")
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)
