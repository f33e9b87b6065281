"""What a reader downloads runs on the reader's machine, from the built site alone.

Fresh virtual environments made with the install commands the downloads print (their URLs
pointed at the built site, served from 127.0.0.1), an empty home, no PREFECT_API_URL (each
notebook's kernel starts Prefect's temporary server), every notebook in an empty folder of
its own, and no trace of this repository on the path.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from support.browser import serve
from support.site import ROOT

pytestmark = pytest.mark.site

HOSTED = "https://prefect-by-example.github.io/prefect-by-example/"
RUN = """
import sys, nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, timeout=600, kernel_name=notebook.metadata.kernelspec.name,
               resources={"metadata": {"path": "."}}).execute()
nbformat.write(notebook, sys.argv[1])
"""


def uv() -> str:
    return str(ROOT / ".venv" / "bin" / "uv")


def install_commands(notebook) -> list[str]:
    """The commands a download's first cell tells the reader to run."""
    block = re.search(r"```\n(.*?)\n```", notebook.cells[0].source, re.S)[1]
    return block.splitlines()


def run_install(command: str, venv: Path, site_url: str) -> None:
    """A printed `pip install ...`, run with uv for speed: the same arguments, against the
    built site instead of the hosted one."""
    words = command.replace(HOSTED, site_url).split()
    assert words[:2] == ["pip", "install"], command
    subprocess.run([uv(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                    *words[2:]], check=True)  # fmt: skip


def downloads(site) -> list[Path]:
    """Every tutorial notebook and every concept page's notebooks the site offers."""
    sources = site.html / "_sources"
    return sorted(
        [*sources.glob("tutorials/*.ipynb"), *sources.glob("docs/**/*-prefect[13].ipynb")]
    )


@pytest.fixture(scope="module")
def reader(site, tmp_path_factory):
    """Two environments made from the built site only, as the downloads' first cells say."""
    root = tmp_path_factory.mktemp("reader")
    (root / "home").mkdir()
    prefect3 = nbformat.read(site.html / "_sources/tutorials/01-turn-a-script-into-a-flow.ipynb", 4)
    prefect1 = nbformat.read(next((site.html / "_sources/docs").glob("*-prefect1.ipynb")), 4)
    with serve(site.html) as url:
        for name, notebook in (("venv3", prefect3), ("venv1", prefect1)):
            subprocess.run(
                [uv(), "venv", "--quiet", "--python", "3.11", str(root / name)], check=True
            )
            for command in install_commands(notebook):
                run_install(command, root / name, url)
    # the legacy environment as the reader's Jupyter kernel `prefect1` (tutorial 5 uses it)
    subprocess.run([str(root / "venv1/bin/python"), "-m", "ipykernel", "install", "--prefix",
                    str(root / "jupyter"), "--name", "prefect1"], check=True, capture_output=True)  # fmt: skip
    env = {
        "PATH": f"{root / 'venv3' / 'bin'}:/usr/bin:/bin",
        "HOME": str(root / "home"),
        "JUPYTER_PATH": str(root / "jupyter" / "share" / "jupyter"),
        # a busy machine may take longer than Prefect's 20 s to start its temporary server
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }
    return root, env


def test_the_environments_hold_the_sites_wheel_and_nothing_of_this_checkout(reader):
    root, env = reader
    code = "import prefect, prefect_by_example, sys; print(prefect.__version__, prefect_by_example.__file__, sys.path)"
    for venv, major in (("venv3", "3."), ("venv1", "1.")):
        out = subprocess.run([str(root / venv / "bin" / "python"), "-c", code], env=env,
                             capture_output=True, text=True, check=True, cwd=root).stdout  # fmt: skip
        assert out.startswith(major) and str(root / venv) in out and str(ROOT) not in out


@pytest.fixture(scope="module")
def executed(site, reader):
    """Every download, run in an empty folder of its own, two at a time."""
    root, env = reader

    def run(download: Path):
        folder = root / "runs" / download.stem
        folder.mkdir(parents=True)
        shutil.copy(download, folder)
        done = subprocess.run(
            [str(root / "venv3" / "bin" / "python"), "-c", RUN, download.name],
            cwd=folder, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        return download.relative_to(site.html / "_sources"), done, folder / download.name

    with ThreadPoolExecutor(2) as pool:
        return {str(name): (done, path) for name, done, path in pool.map(run, downloads(site))}


def test_every_executed_page_offers_a_notebook_and_a_script_per_kernel(site):
    records = json.loads((site.outdir / "execution.json").read_text())["pages"]
    assert records
    for page, record in records.items():
        if page.startswith("tutorials/"):
            stems = [page]
        else:
            stems = [
                f"{page}-{'prefect1' if k == 'prefect1' else 'prefect3'}" for k in record["kernels"]
            ]
        for stem in stems:
            for suffix in (".ipynb", ".py"):
                assert (site.html / "_sources" / f"{stem}{suffix}").is_file(), stem + suffix
        html = (site.html / f"{page}.html").read_text()
        assert all(f"_sources/{stem}.ipynb" in html for stem in stems), page  # in its menu


def test_every_download_runs_on_a_readers_machine(executed):
    failed = {}
    for name, (done, path) in executed.items():
        if done.returncode:
            failed[name] = (done.stdout + done.stderr)[-3000:]
            continue
        notebook = nbformat.read(path, as_version=4)
        code = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]
        assert code and all(cell.execution_count for cell in code), name
    assert not failed, "\n\n".join(f"{name}:\n{log}" for name, log in failed.items())


def test_the_wheel_imports_without_sphinx(site, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([uv(), "venv", "--quiet", "--python", "3.11", str(venv)], check=True)
    wheel = next(site.html.glob("prefect_by_example-*.whl"))
    # the wheel and what it declares, at the versions the site ran
    subprocess.run([uv(), "pip", "install", "--quiet", "--python", str(venv / "bin/python"),
                    str(wheel), "-c", str(ROOT / "requirements/docs.txt")], check=True)  # fmt: skip
    code = (
        "import importlib, sys\n"
        "for name in ('graphs', 'pandas_results', 'modes', 'porting', 'server', 'pages'):\n"
        "    importlib.import_module('prefect_by_example.' + name)\n"
        "assert not any(m.split('.')[0] in ('sphinx', 'myst_nb', 'jupyter_sphinx') for m in sys.modules)\n"
        "print('imported')"
    )
    done = subprocess.run([str(venv / "bin/python"), "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})  # fmt: skip
    assert done.stdout.strip() == "imported", done.stderr
    installed = subprocess.run([uv(), "pip", "list", "--python", str(venv / "bin/python")],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "sphinx" not in installed.lower()
