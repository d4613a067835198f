"""Run the sandbox as a child process and wait until it is ready.

``python server.py`` uses this for its embedded default; tests and benchmarks use it for the
emulators they speak to. The child writes its endpoints file once both emulators listen. Its
working directory (the certificate authority with its private key, the endpoints file, the
log) is removed when it stops.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from sandbox.endpoints import Endpoints

_ROOT = Path(__file__).resolve().parent.parent


class SandboxStartError(RuntimeError):
    pass


class SandboxProcess:
    def __init__(
        self,
        *,
        seed: int = 42,
        customers: int = 300,
        host: str = "127.0.0.1",
        extra_args: tuple[str, ...] = (),
        endpoints_file: Path | None = None,
        now: dt.datetime | None = None,
        erp: str = "netsuite",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="accord-sandbox-"))
        self.endpoints_file = endpoints_file or self._dir / "endpoints.json"
        self.log_file = self._dir / "sandbox.log"
        self.args = [
            sys.executable,
            "-m",
            "sandbox",
            "--host",
            host,
            "--seed",
            str(seed),
            "--customers",
            str(customers),
            "--endpoints-file",
            str(self.endpoints_file),
            "--state-dir",
            str(self._dir),
            *(("--now", now.isoformat()) if now is not None else ()),
            "--erp",
            erp,
            *extra_args,
        ]
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoints: Endpoints | None = None

    @property
    def directory(self) -> Path:
        """The child's working directory (its state directory), removed when it stops."""
        return self._dir

    def launch(self) -> None:
        """Start the child without waiting for it (`wait_ready` waits)."""
        with contextlib.suppress(FileNotFoundError):
            self.endpoints_file.unlink()
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                self.args,
                cwd=_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=self.env,
            )

    def wait_ready(self, timeout: float = 120.0) -> Endpoints:
        """Wait until the child has written its endpoints file; stop it if it does not."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.log_file.read_text()
                self._remove_files()
                raise SandboxStartError(f"sandbox exited with {self.process.returncode}:\n{output}")
            if self.endpoints_file.exists():
                self.endpoints = Endpoints.read(self.endpoints_file)
                return self.endpoints
            time.sleep(0.05)
        output = self.log_file.read_text()
        self.stop()
        raise SandboxStartError(f"sandbox not ready after {timeout}s:\n{output}")

    def start(self, timeout: float = 120.0) -> Endpoints:
        self.launch()
        return self.wait_ready(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the child (SIGTERM, then SIGKILL) and remove its working directory."""
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout)
        finally:
            self._remove_files()

    def _remove_files(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Endpoints:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
