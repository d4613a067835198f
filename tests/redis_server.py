"""A Redis server of a test's own, which the test may stop, restart and slow down.

Tests of what Accord does when its state backend fails need a Redis they can break without
breaking anyone else's: `RedisServer` runs ``redis-server`` on a free loopback port, with its
working directory (and log) in a temporary directory, never touching the shared Redis. `stop`
kills it (as a crash or a network cut would look), `start` brings it back on the same port,
and `pause` makes it answer nothing for a while (``CLIENT PAUSE``), as an overloaded Redis.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    def __init__(self, directory: Path, *, persistence: bool = False) -> None:
        """``persistence``: an append-only file (fsync every write), so that what was written
        survives `stop` and `start`; without it a restart comes back empty."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (.ci/run installs it)")
        self.binary = binary
        self.directory = directory
        self.persistence = persistence
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def _command(self) -> list[str]:
        durable = ["yes", "--appendfsync", "always"] if self.persistence else ["no"]
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            *durable,
            "--logfile",
            str(self.directory / "redis.log"),
        ]

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=5)

    def start(self) -> RedisServer:
        self._process = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            client = self.client()
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)
            finally:
                client.close()

    def stop(self) -> None:
        """Kill it at once: connections drop, nothing is saved that was not already."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)
        self._process = None

    def pause(self, seconds: float) -> None:
        """Answer no command for ``seconds`` (the connections stay open)."""
        client = self.client()
        try:
            client.client_pause(int(seconds * 1000), all=True)
        finally:
            client.close()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
