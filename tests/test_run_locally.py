"""docs/run-locally.md works: a reader's install from the site, a developer's fresh clone.

The reader's path (fresh environments from the built site's requirements and wheel, every
download run in an empty folder) is run for real by tests/test_downloads.py; here the page's
commands are checked against what the site ships and what the downloads print. The
developer's path runs on a fresh clone: the commands that take long or need the network
(`make docs`, installs) or a person (a server in a second terminal) stand in as follows: the
environments `make docs` creates are this test run's own (same pins), and the server is the
session's `prefect_server`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

import nbformat
import pytest
from support.site import ROOT

from prefect_by_example import __version__

PAGE = ROOT / "docs" / "run-locally.md"
SECTION = re.compile(r"^## (.+)$", re.M)
SHELL_BLOCK = re.compile(r"^```console\n(.*?)^```", flags=re.M | re.S)
HOSTED = "https://prefect-by-example.github.io/prefect-by-example/"


def page_commands(text: str) -> dict[str, list[str]]:
    """The `$ ` commands of the page's console blocks, by section, in page order."""
    parts = SECTION.split(text)
    return {
        title: [
            line[2:].strip()
            for block in SHELL_BLOCK.findall(body)
            for line in block.splitlines()
            if line.startswith("$ ")
        ]
        for title, body in zip(parts[1::2], parts[2::2], strict=True)
    }


COMMANDS = page_commands(PAGE.read_text())
EVERY = [command for commands in COMMANDS.values() for command in commands]


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
        assert command in COMMANDS["Build the site yourself"]
        target = command.split()[1]
        assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), flags=re.M)


def test_page_installs_what_the_downloads_print_from_the_hosted_site(site):
    assert conf_value("html_baseurl") == HOSTED
    installs = [c for c in EVERY if re.search(r"\bpip install\b", c)]
    wheel = f"{HOSTED}prefect_by_example-{__version__}-py3-none-any.whl"
    assert installs[0] == f"pip install -r {HOSTED}requirements.txt {wheel}"
    assert installs[1].endswith(f"pip install -r {HOSTED}requirements-prefect1.txt")
    assert installs[2].endswith(f"pip install --no-deps {wheel}")
    # the downloads print the same commands, and the site ships every file they name
    notebook = nbformat.read(site.html / "_sources/tutorials/01-turn-a-script-into-a-flow.ipynb", 4)
    legacy = nbformat.read(next((site.html / "_sources/docs").glob("*-prefect1.ipynb")), 4)
    assert installs[0] in notebook.cells[0].source
    assert all(command.split("bin/", 1)[-1] in legacy.cells[0].source for command in installs[1:3])
    for url in re.findall(rf"{re.escape(HOSTED)}(\S+)", " ".join(installs)):
        assert (site.html / url).is_file(), url


def test_page_runs_a_notebook_the_site_offers(site):
    [run] = [c for c in COMMANDS["Run a downloaded notebook"] if c.startswith("jupyter execute")]
    assert (site.html / "_sources" / "tutorials" / shlex.split(run)[-1]).is_file()


def test_page_registers_the_kernel_the_prefect1_notebooks_name(site):
    [register] = [c for c in COMMANDS["The Prefect 1 notebooks"] if "ipykernel install" in c]
    name = shlex.split(register)[shlex.split(register).index("--name") + 1]
    legacy = nbformat.read(next((site.html / "_sources/docs").glob("*-prefect1.ipynb")), 4)
    assert legacy.metadata.kernelspec.name == name == "prefect1"


def test_page_clones_the_repository_the_site_links_to():
    clone = next(c for c in EVERY if c.startswith("git clone "))
    url = shlex.split(clone)[2]
    assert url.removesuffix(".git") == conf_value("html_theme_options")["repository_url"]
    assert f"cd {url.removesuffix('.git').rsplit('/', 1)[1]}" in EVERY


def test_page_points_at_prefects_default_server_address():
    from prefect.settings.models.server.api import ServerAPISettings

    fields = ServerAPISettings.model_fields
    export = next(c for c in EVERY if c.startswith("export PREFECT_API_URL="))
    assert export == (
        f"export PREFECT_API_URL=http://{fields['host'].default}:{fields['port'].default}/api"
    )


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A fresh clone of this repository, made with the page's own `git clone` and `cd`.

    The repository URL is replaced by this checkout's path: a clone holds what is committed.
    """
    workdir = tmp_path_factory.mktemp("reader")
    command = shlex.split(next(c for c in EVERY if c.startswith("git clone ")))
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


def flow_run_count(api_url: str) -> int:
    request = urllib.request.Request(
        f"{api_url}/flow_runs/count", data=b"{}", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.load(reply)


def test_a_fresh_clone_runs_a_tutorial_with_the_pages_commands(clone, prefect_server, tmp_path):
    # the page's developer commands after the clone; `make` made the environments (above)
    commands = [
        c
        for c in COMMANDS["Build the site yourself"]
        if not c.startswith(("git clone", "cd ", "make "))
    ]
    executes = [c for c in commands if "--execute" in c]
    assert executes, "the page runs no tutorial from the command line"
    tutorials = [Path(p) for c in executes for p in shlex.split(c) if p.endswith(".md")]
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "JUPYTER", "IPYTHON"))
    }
    env.pop("MPLCONFIGDIR", None)
    env.pop("VIRTUAL_ENV", None)
    env |= {"HOME": str(home), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env["PREFECT_API_URL"] = prefect_server.api_url  # the reader's server, as the page exports
    script = "\n".join(["set -e", *commands])
    before = flow_run_count(prefect_server.api_url)
    done = subprocess.run(
        ["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    listed = done.stdout.split("Available kernels:", 1)[1]
    kernels = re.findall(r"^\s+(\S+)\s+\S+$", listed, flags=re.M)
    assert {"python3", "prefect1"} <= set(kernels), done.stdout
    for tutorial in tutorials:
        notebook = nbformat.read(clone / tutorial.with_suffix(".ipynb"), as_version=4)
        code = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()]
        assert code and all(c.execution_count for c in code), "a cell did not run"
    assert flow_run_count(prefect_server.api_url) > before  # recorded by the reader's server
    # what the run left in the clone is what the page says: the notebook, ignored by Git
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=clone, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert not any(line.endswith(".ipynb") for line in status.splitlines()), status


def test_every_tutorial_gives_the_install_command_the_downloads_print():
    from types import SimpleNamespace

    from prefect_by_example.sphinxext.downloads import install_commands

    config = SimpleNamespace(pbe_site_url="", html_baseurl=conf_value("html_baseurl"))
    [command] = install_commands(config, "python3")
    for tutorial in sorted((ROOT / "tutorials").glob("*.md")):
        assert f"$ {command}\n" in tutorial.read_text(), tutorial.name
