"""An S3 stand-in on this machine: moto's S3-compatible server.

S3 code runs against it unchanged once boto3 is pointed at it (the
environment variable ``AWS_ENDPOINT_URL_S3``), so flows that keep code
or results in S3 can be tried without an AWS account.
"""

from __future__ import annotations

import socket
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from background import start, stop


def free_port() -> int:
    """A port nothing listens on at 127.0.0.1 (the system picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalS3:
    """A running ``moto_server`` at `url`; call `stop()` when done."""

    url: str
    process: object

    def stop(self) -> None:
        stop(self.process, grace=5)


def local_s3(log: str | Path = "moto.log", timeout: float = 30, tries: int = 3) -> LocalS3:
    """Start moto's server on 127.0.0.1 and wait until it answers."""
    moto_server = Path(sys.executable).with_name("moto_server")
    for _ in range(tries):
        port = free_port()
        process = start([moto_server, "-H", "127.0.0.1", "-p", port], log=log)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            except OSError:
                time.sleep(0.1)
                continue
            # the answer may come from another program that took the port first
            if listens_on(process.pid, port):
                return LocalS3(url, process)
            break
        stop(process)
    raise RuntimeError(f"moto_server did not start: {log}")


def listens_on(pid: int, port: int) -> bool:
    """True if process `pid` itself listens on `port`."""
    connections = psutil.Process(pid).net_connections(kind="tcp")
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections)
