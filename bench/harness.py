"""Benchmark harness: a sandbox and an Accord server, each in a process of its own.

Accord runs as ``python server.py --sandbox F --port P`` exactly as an operator would start
it, so the load generator in the benchmark process does not share a GIL with the server.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from sandbox.endpoints import Endpoints

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class AccordProcess:
    def __init__(self, endpoints_file: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.endpoints_file = endpoints_file
        self.env = {**os.environ, "ACCORD_LOG_LEVEL": "warning", **(env or {})}
        self.log = Path(tempfile.mkdtemp(prefix="accord-bench-")) / "accord.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AccordProcess:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "server.py",
                    "--sandbox",
                    str(self.endpoints_file),
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Accord exited:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"Accord did not start:\n{self.log.read_text()}")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


class Control:
    """The sandbox control API of both emulators."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.clients = {
            "salesforce": httpx.Client(
                base_url=endpoints.salesforce.instance_url,
                verify=_verify(endpoints.salesforce.ca_file),
            ),
            "netsuite": httpx.Client(
                base_url=endpoints.netsuite.base_url, verify=_verify(endpoints.netsuite.ca_file)
            ),
        }

    def reset(self) -> None:
        for client in self.clients.values():
            client.post("/__sandbox__/reset").raise_for_status()

    def fault(self, **fault: Any) -> None:
        for client in self.clients.values():
            client.post("/__sandbox__/faults", json=fault).raise_for_status()

    def stats(self) -> dict[str, dict[str, Any]]:
        return {name: c.get("/__sandbox__/stats").json() for name, c in self.clients.items()}


def _verify(ca_file: str | None) -> Any:
    import ssl

    return ssl.create_default_context(cafile=ca_file) if ca_file else True


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
