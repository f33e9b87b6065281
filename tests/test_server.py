"""The private Prefect server: starts from an empty database, answers, and never mistakes a stranger."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from prefect_by_example.server import PrefectServer, empty_db_template, free_port


def test_server_starts_from_template_and_answers(tmp_path):
    template = tmp_path / "empty.db"
    with PrefectServer(tmp_path / "home-a", db_template=template) as server:
        assert template.exists()
        reply = httpx.post(f"{server.api_url}/flows/", json={"name": "made-in-a"})
        assert reply.status_code in (200, 201)
    # a second server starts from the same empty template, not from the first one's data
    with PrefectServer(tmp_path / "home-b", db_template=template) as server:
        flows = httpx.post(f"{server.api_url}/flows/filter", json={}).json()
        assert flows == []
        # it skips registering block types on start: the template has them
        block_types = httpx.post(f"{server.api_url}/block_types/filter", json={}).json()
        assert "local-file-system" in {block["slug"] for block in block_types}
        services = httpx.get(f"{server.api_url}/admin/settings").json()["server"]["services"]
        assert services["task_run_recorder"]["enabled"] and not services["scheduler"]["enabled"]
    assert server.process is None


class Stranger(BaseHTTPRequestHandler):
    """Answers like a Prefect server that belongs to someone else."""

    def do_GET(self):
        body = json.dumps({"home": "/somebody/else"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_port_answered_by_someone_else_is_not_taken_for_ours(tmp_path):
    port = free_port(4400)
    stranger = ThreadingHTTPServer(("127.0.0.1", port), Stranger)
    threading.Thread(target=stranger.serve_forever, daemon=True).start()
    try:
        with pytest.raises(RuntimeError, match=f"could not listen on http://127.0.0.1:{port}/api"):
            PrefectServer(tmp_path / "home", port=port).start()
    finally:
        stranger.shutdown()
        stranger.server_close()


def wait_in_fork(server: PrefectServer, done) -> None:
    try:
        server.wait_ready(timeout=60)
        done.send("ready")
    except RuntimeError as err:
        done.send(str(err))


def test_a_launched_server_is_awaited_from_a_forked_process(tmp_path):
    """How the build uses it: launched in Sphinx's main process, awaited by reading processes."""
    server = PrefectServer(tmp_path / "home", db_template=empty_db_template()).launch()
    try:
        receive, send = multiprocessing.Pipe(duplex=False)
        reader = multiprocessing.get_context("fork").Process(
            target=wait_in_fork, args=(server, send)
        )
        reader.start()
        assert receive.poll(60) and receive.recv() == "ready"
        reader.join()
        assert httpx.get(f"{server.api_url}/health").json() is True
    finally:
        server.stop()


def test_waiting_for_a_server_that_died_says_so_with_its_log(tmp_path):
    server = PrefectServer(tmp_path / "home", db_template=empty_db_template()).launch()
    os.killpg(server.process.pid, signal.SIGKILL)
    receive, send = multiprocessing.Pipe(duplex=False)
    reader = multiprocessing.get_context("fork").Process(target=wait_in_fork, args=(server, send))
    reader.start()
    assert receive.poll(30)
    message = receive.recv()  # names the server's log, for whoever reads the build's error
    assert message.startswith(f"prefect server exited; its log, {server.log_path}:")
    reader.join()
    server.stop()
