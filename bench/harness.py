"""Benchmark harness: a sandbox, Accord and the baseline app, each in a process of its own.

Accord runs as ``python server.py --sandbox F --port P`` exactly as an operator would start
it, and the baseline as ``python -m bench.baseline_app --port P``, so the load generator in
the benchmark process shares a GIL with neither server.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
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


class ServerProcess:
    """A server in a child process on a free loopback port, ready once ``ready_path`` answers."""

    name = "server"
    ready_path = "/healthz"

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{self.port}"
        self.args = args
        self.env = {**os.environ, **(env or {})}
        self.log = Path(tempfile.mkdtemp(prefix=f"accord-bench-{self.name}-")) / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._final_output: str | None = None  # the log, kept once its directory is removed

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def _ready(self) -> bool:
        return httpx.get(f"{self.url}{self.ready_path}", timeout=1).status_code == 200

    def __enter__(self) -> ServerProcess:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, *self.args],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.__exit__(None, None, None)
                raise RuntimeError(f"{self.name} exited:\n{self.output()}")
            try:
                if self._ready():
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.__exit__(None, None, None)
        raise RuntimeError(f"{self.name} did not start:\n{self.output()}")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._final_output is None:
            self._final_output = self.output()
            shutil.rmtree(self.log.parent, ignore_errors=True)

    def output(self) -> str:
        """What the server printed so far (its log), for error reports."""
        if self._final_output is not None:
            return self._final_output
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class AccordProcess(ServerProcess):
    """``python server.py --sandbox F --workers N``: one worker process unless told (more need
    ``ACCORD_REDIS_URL`` in ``env``); ready once every worker serves."""

    name = "accord"

    def __init__(
        self, endpoints_file: Path, env: dict[str, str] | None = None, *, workers: int = 1
    ) -> None:
        self.endpoints_file = endpoints_file
        self.workers = workers
        super().__init__(
            ["server.py", "--sandbox", str(endpoints_file)],
            # Pollers off: the scenarios measure serving; webhooks keep Accord up to date. A
            # load generator is one caller spending and subscribing far more than any client
            # would: its budget and slots are counted (that costs what it costs) but never
            # run out.
            {
                "ACCORD_LOG_LEVEL": "warning",
                "ACCORD_POLL_SECONDS": "0",
                "ACCORD_COST_BUDGET": str(10**12),
                "ACCORD_MAX_CONNECTIONS_PER_CALLER": "10000",
                "ACCORD_MAX_SUBSCRIPTIONS_PER_CALLER": "100000",
                **(env or {}),
            },
        )
        self.args += ["--port", str(self.port), "--workers", str(workers)]

    def _ready(self) -> bool:
        # with several workers, the first to start answers before the others serve
        return "Accord serves GraphQL at" in self.output() and super()._ready()

    def worker_pids(self) -> list[int]:
        """The worker processes' ids (the server's own with one worker)."""
        for line in self.output().splitlines():
            if line.startswith("Workers started: pids "):
                return [int(pid) for pid in line.split("pids ", 1)[1].split()]
        return [self.pid]

    def __enter__(self) -> AccordProcess:
        super().__enter__()
        return self


class BaselineProcess(ServerProcess):
    """The bare strawberry app of `bench.baseline_app`."""

    name = "baseline"

    def __init__(self) -> None:
        super().__init__(["-m", "bench.baseline_app"])
        self.args += ["--port", str(self.port)]

    def _ready(self) -> bool:
        response = httpx.post(f"{self.url}/graphql", json={"query": "{ __typename }"}, timeout=1)
        return response.status_code == 200

    def __enter__(self) -> BaselineProcess:
        super().__enter__()
        return self


def shared_redis() -> str | None:
    """The Redis the multi-process scenarios share (``ACCORD_TEST_REDIS_URL``, default
    redis://127.0.0.1:6379/0), or None when it does not answer."""
    url = os.environ.get("ACCORD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception:
        return None
    return url


def delete_keys(url: str, prefix: str) -> None:
    """Leave the Redis as a scenario found it: drop every key under ``prefix``."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


def peak_rss_kib(pid: int) -> int:
    """The peak resident set size of a process so far (``VmHWM``), in KiB."""
    return _status_kib(pid, "VmHWM")


def rss_kib(pid: int) -> int:
    """The resident set size of a process now (``VmRSS``), in KiB."""
    return _status_kib(pid, "VmRSS")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


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

    def total(self) -> int:
        """Upstream requests counted by both emulators since the last reset."""
        return sum(int(s["total"]) for s in self.stats().values())

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def _verify(ca_file: str | None) -> Any:
    return ssl.create_default_context(cafile=ca_file) if ca_file else True


def write_result(name: str, result: dict[str, Any], directory: Path = RESULTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
