"""A supergraph on this machine: the ticket subgraph served over HTTP, and Hive Gateway (node)
started on the committed supergraph, routing to Accord and to the tickets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from tests.accord import wait_until_started
from tests.federation.node import HERE, NODE_MODULES, node
from tests.federation.supergraph import SUPERGRAPH_FILE
from tests.federation.tickets import Desk, TicketsApp

GATEWAY = NODE_MODULES / "@graphql-hive" / "gateway" / "dist" / "bin.js"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class TicketsServer:
    """The ticket subgraph under uvicorn, in a thread of the test process."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/graphql"
        config = uvicorn.Config(TicketsApp(desk), log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: self._server.run(sockets=[self._socket]), name="tickets", daemon=True
        )

    def __enter__(self) -> TicketsServer:
        self._thread.start()
        wait_until_started(self._server, self._thread, "the ticket subgraph", timeout=30)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(10)


class Gateway:
    """Hive Gateway on the committed supergraph, with this folder's gateway.config.mjs."""

    def __init__(self, accord_url: str, tickets_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = log
        self._env = {
            **os.environ,
            "ACCORD_SUBGRAPH_URL": f"{accord_url}/graphql/federation",
            "TICKETS_SUBGRAPH_URL": tickets_url,
            "NO_COLOR": "1",
        }
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gateway:
        command = [node(), str(GATEWAY), "supergraph", str(SUPERGRAPH_FILE)]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--config-path", str(HERE / "gateway.config.mjs")]
        with self._log_path.open("wb") as log:
            # a session of its own: the gateway and any worker it forks stop together
            self._process = subprocess.Popen(
                command,
                cwd=HERE,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(timeout=60)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/readiness", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"Hive Gateway did not start:\n{self._log_path.read_text()[-3000:]}")

    def graphql(self, query: str, *, key: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = httpx.post(
            f"{self.url}/graphql", json={"query": query}, headers=headers, timeout=30
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
