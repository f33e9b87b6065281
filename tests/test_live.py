"""`make live`: one warm Prefect server for every rebuild, one rebuild per edit, nothing left after."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from support.browser import nox_session_command
from support.site import KERNELS, ROOT, processes_mentioning

from devtools.checkout import copy_sources
from prefect_by_example.server import free_port

TUTORIAL = "tutorials/01-turn-a-script-into-a-flow"


def reduced_copy(dest: Path, keep: str) -> Path:
    """The sources with one page: every other page removed and the home page listing only it."""
    src = copy_sources(ROOT, dest)
    for pattern in ("docs/*.rst", "docs/*.md", "docs/**/*.rst", "tutorials/*.md", "*.md"):
        for page in src.glob(pattern):
            if (
                page.relative_to(src).with_suffix("").as_posix() != keep
                and page.name != "README.md"
            ):
                page.unlink()
    (src / "index.md").write_text(f"# Prefect by Example\n\n```{{toctree}}\n{keep}\n```\n")
    return src


class Output:
    """Lines a process prints, collected by a thread."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(re.sub(r"\x1b\[[0-9;]*m", "", line.rstrip("\n")))

    def count(self, needle: str) -> int:
        return sum(needle in line for line in self.lines)

    def wait_for(self, needle: str, times: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.count(needle) < times:
            assert time.monotonic() < deadline, f"no {needle!r} #{times}:\n" + self.tail()
            time.sleep(0.2)

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.lines[-n:])


def served(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.read().decode()
    except OSError:
        return ""


def wait_until_served(url: str, text: str, output: Output, timeout: float) -> float:
    """Poll the served page until it shows `text`; the seconds it took."""
    started = time.monotonic()
    while text not in served(url):
        assert time.monotonic() - started < timeout, f"{url} never showed {text!r}\n{output.tail()}"
        time.sleep(0.2)
    return time.monotonic() - started


@pytest.fixture
def live(tmp_path):
    """`nox -s docs-live`'s command on a copy of the sources holding one tutorial."""
    src = reduced_copy(tmp_path / "src", keep=TUTORIAL)
    port = free_port(8000)
    command = nox_session_command(ROOT / "noxfile.py", "docs_live", root=src)
    assert command[:3] == ["python", "-m", "devtools.live"]
    command[0] = sys.executable
    command[command.index("--port") + 1] = str(port)
    env = {**os.environ, "HOME": str(tmp_path / "home"), "JUPYTER_PATH": str(KERNELS)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a build writing bytecode must not count as an edit
    process = subprocess.Popen(
        command, cwd=src, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    output = Output(process.stdout)
    session = type("Live", (), {})()
    session.src, session.process, session.output = src, process, output
    session.url = f"http://127.0.0.1:{port}/{TUTORIAL}.html"
    session.page = src / f"{TUTORIAL}.md"
    yield session
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    process.stdout.close()
    output.thread.join(5)


def save(live, text: str, changes_seen: int) -> None:
    """Save the page; again if the watcher, which starts with the server, missed the save."""
    for _ in range(5):
        live.page.write_text(text)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if live.output.count("Detected changes") > changes_seen:
                return
            time.sleep(0.2)
    raise AssertionError("sphinx-autobuild never saw the page change:\n" + live.output.tail())


def server_url(output: Output) -> str:
    return re.search(r"a Prefect server for every rebuild, listening on (\S+)", output.tail(400))[1]


def test_rebuilds_once_per_edit_on_one_warm_server(live):
    live.output.wait_for("Serving on", 1, timeout=300)  # the first build executed the page
    url = server_url(live.output)
    assert live.output.count(f"using the live session's Prefect server, listening on {url}") == 1

    # a prose edit: served without executing anything
    wait_until_served(live.url, "Turn a script into a flow", live.output, timeout=60)
    prose = live.page.read_text().replace(
        "\n+++\n", "\nA sentence added while serving.\n\n+++\n", 1
    )
    save(live, prose, changes_seen=0)
    wait_until_served(live.url, "A sentence added while serving.", live.output, timeout=120)
    assert live.output.count("Rebuilding") == 1
    assert live.output.count("Executed notebook") == 1  # the first build's only

    # a code edit: executed again, on the same server
    text = live.page.read_text()
    assert "export_days()\n```" in text
    code = text.replace(
        "export_days()\n```", "export_days()\nprint('edited while serving')\n```", 1
    )
    save(live, code, changes_seen=1)
    wait_until_served(live.url, "edited while serving", live.output, timeout=240)
    assert live.output.count("Executed notebook") == 2
    assert live.output.count(f"using the live session's Prefect server, listening on {url}") == 2
    assert "starting a private Prefect server" not in live.output.tail(1000)
    live.output.wait_for("Serving on", 3, timeout=60)
    assert live.output.count("Rebuilding") == 2, live.output.tail()  # no build triggered itself


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_nothing_is_left_when_the_session_ends(live, how):
    live.output.wait_for("Serving on", 1, timeout=300)
    port = server_url(live.output).split(":")[-1].split("/")[0]
    assert processes_mentioning(f"--port {port}")
    os.killpg(live.process.pid, how)  # what Ctrl-C in the terminal sends to the whole group
    live.process.wait(60)
    deadline = time.monotonic() + 30
    while processes_mentioning(f"--port {port}", str(live.src)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not processes_mentioning(f"--port {port}", str(live.src))
