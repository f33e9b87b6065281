"""docs/run-locally.md works: its commands, read from the page, run a tutorial on a fresh clone.

The commands that take long or need the network (`make docs`, installing JupyterLab) or a
person (`jupyter lab`, a server in a second terminal) stand in as follows: the environments
`make docs` creates are this test run's own (same pins), and the server is the session's
`prefect_server`, which the page's `PREFECT_API_URL` is pointed at.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import nbformat
import pytest
from support.site import ROOT

PAGE = ROOT / "docs" / "run-locally.md"
SHELL_BLOCK = re.compile(r"^```console\n(.*?)^```", flags=re.M | re.S)
# commands the test does not run, and why
NOT_RUN = {
    r"^make (docs|test|kernels)$": "the environments they create are this test run's own",
    r"^prefect server start$": "the session's prefect_server fixture is the reader's server",
    r"pip install|-m venv": "installs from the network",
    r"^(JUPYTER_PATH=\S+ )?jupyter lab$": "interactive",
}


def page_commands(text: str) -> list[str]:
    """Every `$ ` command of the page's console blocks, in page order."""
    return [
        line[2:].strip()
        for block in SHELL_BLOCK.findall(text)
        for line in block.splitlines()
        if line.startswith("$ ")
    ]


COMMANDS = page_commands(PAGE.read_text())


def skipped(command: str) -> str | None:
    return next((why for pattern, why in NOT_RUN.items() if re.search(pattern, command)), None)


def conf_value(name: str):
    """A value from conf.py, read as Sphinx reads it."""
    namespace: dict = {"__file__": str(ROOT / "conf.py")}
    exec(compile((ROOT / "conf.py").read_text(), "conf.py", "exec"), namespace)
    return namespace[name]


def test_page_gives_the_readme_commands_and_the_kernel_command():
    readme = (ROOT / "README.md").read_text()
    quick_start = re.search(r"```console\n(.*?)```", readme, flags=re.S)[1]
    readme_commands = [
        line.split("#")[0].strip() for line in quick_start.splitlines() if line.strip()
    ]
    assert readme_commands == ["make docs", "make test"]
    for command in [*readme_commands, "make kernels"]:
        assert command in COMMANDS
        target = command.split()[1]
        assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), flags=re.M)


def test_page_clones_the_repository_the_site_links_to():
    clone = next(c for c in COMMANDS if c.startswith("git clone "))
    url = shlex.split(clone)[2]
    assert url.removesuffix(".git") == conf_value("html_theme_options")["repository_url"]
    assert f"cd {url.removesuffix('.git').rsplit('/', 1)[1]}" in COMMANDS


def test_page_points_at_prefects_default_server_address():
    from prefect.settings.models.server.api import ServerAPISettings

    fields = ServerAPISettings.model_fields
    export = next(c for c in COMMANDS if c.startswith("export PREFECT_API_URL="))
    assert export == (
        f"export PREFECT_API_URL=http://{fields['host'].default}:{fields['port'].default}/api"
    )


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A fresh clone of this repository, made with the page's own `git clone` and `cd`.

    The repository URL is replaced by this checkout's path: a clone holds what is committed.
    """
    workdir = tmp_path_factory.mktemp("reader")
    command = shlex.split(next(c for c in COMMANDS if c.startswith("git clone ")))
    name = command[2].removesuffix(".git").rsplit("/", 1)[1]
    subprocess.run(["git", "clone", "--quiet", str(ROOT), name], cwd=workdir, check=True)
    repo = workdir / name
    # what `make docs` would have made: the docs environment (this test run's, same pins),
    # the legacy environment and its registered kernel
    (repo / ".nox").mkdir()
    (repo / ".nox" / "docs").symlink_to(Path(sys.prefix))
    for name in ("legacy", "kernels"):
        (repo / ".nox" / name).symlink_to(ROOT / ".nox" / name)
    return repo


def test_clone_has_every_tutorial(clone):
    here = sorted(p.name for p in (ROOT / "tutorials").glob("*.md"))
    cloned = sorted(p.name for p in (clone / "tutorials").glob("*.md"))
    missing = sorted(set(here) - set(cloned))
    assert not missing, f"tutorials not committed, so a reader's clone lacks them: {missing}"


@pytest.fixture
def reader_shell(clone, prefect_server, tmp_path):
    """Run page commands in bash from the clone, as a reader with an empty home would."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "JUPYTER", "IPYTHON"))
    }
    env.pop("MPLCONFIGDIR", None)
    env.pop("VIRTUAL_ENV", None)
    env |= {"HOME": str(home), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    default = "127.0.0.1:4200"
    ours = prefect_server.api_url.split("//")[1].removesuffix("/api")

    def run(commands: list[str]) -> str:
        lines = ["set -e"]
        for command in commands:
            lines.append(f"echo '$ '{shlex.quote(command)}")
            # the page's server address, moved to the port the session's server listens on
            lines.append(command.replace(default, ours))
        proc = subprocess.run(
            ["bash", "-c", "\n".join(lines)], cwd=clone, env=env, capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=600,
        )  # fmt: skip
        print(proc.stdout[-5000:], proc.stderr[-5000:], sep="\n")
        assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    run.home = home
    return run


def flow_run_count(api_url: str) -> int:
    request = urllib.request.Request(
        f"{api_url}/flow_runs/count", data=b"{}", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.load(reply)


def check_executed(notebook_path: Path) -> None:
    notebook = nbformat.read(notebook_path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()]
    assert code and all(c.execution_count for c in code), "a cell did not run"
    assert any(c.outputs for c in code)
    errors = [
        c.source for c in code
        if any(o.output_type == "error" for o in c.outputs)
        and "raises-exception" not in c.metadata.get("tags", [])
    ]  # fmt: skip
    assert not errors, f"cells raised: {errors}"


def test_page_commands_run_a_tutorial_on_a_fresh_clone(clone, reader_shell, prefect_server):
    to_run = [
        c for c in COMMANDS
        if not c.startswith(("git clone ", "cd ")) and not skipped(c) and "~/Downloads/" not in c
    ]  # fmt: skip
    executes = [c for c in to_run if "--execute" in c]
    assert executes, "the page runs no tutorial from the command line"
    tutorials = [Path(p) for c in executes for p in shlex.split(c) if p.endswith(".md")]
    for tutorial in tutorials:
        assert (clone / tutorial).is_file(), f"{tutorial} is not in a fresh clone"

    before = flow_run_count(prefect_server.api_url)
    output = reader_shell(to_run)

    listed = output.split("Available kernels:", 1)[1].split("\n$ ", 1)[0]
    kernels = re.findall(r"^\s+(\S+)\s+\S+$", listed, flags=re.M)
    assert {"python3", "prefect1"} <= set(kernels), output
    for tutorial in tutorials:
        check_executed(clone / tutorial.with_suffix(".ipynb"))
    # the runs were recorded by the server the page pointed at
    assert flow_run_count(prefect_server.api_url) > before
    # what the run left in the clone is what the page says: the notebook, ignored by Git
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=clone, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert not any(line.endswith(".ipynb") for line in status.splitlines()), status


def test_downloaded_notebook_runs_the_same_way(site, clone, reader_shell, prefect_server):
    downloaded = [c for c in COMMANDS if "~/Downloads/" in c]
    assert downloaded, "the page does not say how to run a downloaded notebook"
    setup = [c for c in COMMANDS if c.startswith(("source ", "export "))]
    names = {Path(p).name for c in downloaded for p in shlex.split(c) if p.endswith(".ipynb")}
    folder = reader_shell.home / "Downloads"
    folder.mkdir()
    for name in names:
        # the page's download button serves _sources/<page>.ipynb
        shutil.copy(site.html / "_sources" / "tutorials" / name, folder / name)
        check_executed(folder / name)  # it comes with outputs

    before = flow_run_count(prefect_server.api_url)
    reader_shell(setup + downloaded)
    for name in names:
        check_executed(folder / name)
    assert flow_run_count(prefect_server.api_url) > before
