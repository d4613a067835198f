"""A trytond server as a child process: its configuration, start on a free loopback port, stop.

The server reads a ``trytond.conf`` written into its working directory (database location,
listen address, TLS files) and logs to ``trytond.log`` there. It is started with ``-d`` naming
its one database (without it, the first login fails). Start waits until the server answers
``common.server.version``; a port another program took in the meantime is retried on another.
Stop sends SIGTERM, then SIGKILL if it does not go, and waits for it.

On Linux the child is also asked to die with its parent (``PR_SET_PDEATHSIG``), so a sandbox
killed outright does not leave a Tryton server running.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import ssl
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx

from sandbox.tryton.errors import TrytonStartError
from sandbox.tryton.modules import MODULES, command
from sandbox.tryton.store import Backend

__all__ = ["TrytonServer", "install_modules"]

_PR_SET_PDEATHSIG = 1
LOG_TAIL = 4000  # characters of the server's log quoted in a start error


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return text[-LOG_TAIL:]


def write_config(
    work_dir: Path,
    backend: Backend,
    *,
    listen: str = "127.0.0.1:0",
    tls: tuple[Path, Path] | None = None,
) -> Path:
    """``trytond.conf`` in ``work_dir``; ``tls`` is (certificate, private key) for HTTPS."""
    sections: dict[str, Mapping[str, str]] = {
        "database": backend.database_section(work_dir),
        "web": {"listen": listen},
        # Sale processing, invoice printing and other follow-up work run right after the call
        # that asked for them (no separate worker process), so a call's answer shows its effects.
        "queue": {"worker": "False"},
    }
    if tls is not None:
        sections["ssl"] = {"certificate": str(tls[0]), "privatekey": str(tls[1])}
    text = "".join(
        f"[{name}]\n" + "".join(f"{key} = {value}\n" for key, value in values.items()) + "\n"
        for name, values in sections.items()
    )
    path = work_dir / "trytond.conf"
    path.write_text(text)
    return path


async def install_modules(
    work_dir: Path, backend: Backend, database: str, admin_password: str
) -> None:
    """Initialise ``database`` and activate `MODULES` (``trytond-admin --all``), with the
    admin password read from ``TRYTONPASSFILE``."""
    config = write_config(work_dir, backend)
    passfile = work_dir / "admin-password"
    passfile.write_text(admin_password + "\n")
    passfile.chmod(0o600)
    log = work_dir / "trytond-admin.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(command("trytond-admin")),
            "-c",
            str(config),
            "-d",
            database,
            "--all",
            "--email",
            "admin@example.com",
            "-u",
            *MODULES,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env={**os.environ, "TRYTONPASSFILE": str(passfile)},
            preexec_fn=_die_with_parent,
        )
        try:
            code = await process.wait()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        finally:
            passfile.unlink(missing_ok=True)
    if code != 0:
        raise TrytonStartError(f"trytond-admin exited with {code}:\n{_tail(log)}")


class TrytonServer:
    """One trytond serving one database from ``work_dir`` on ``host``."""

    def __init__(
        self,
        work_dir: Path,
        backend: Backend,
        database: str,
        *,
        host: str = "127.0.0.1",
        tls: tuple[Path, Path, Path] | None = None,  # (CA, certificate, private key)
    ) -> None:
        self.work_dir = work_dir
        self.backend = backend
        self.database = database
        self.host = host
        self.tls = tls
        self.log_file = work_dir / "trytond.log"
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def start(self, ready_within: float = 90.0, attempts: int = 3) -> str:
        """Start and wait until it answers; the server's root URL."""
        for attempt in range(1, attempts + 1):
            port = _free_port(self.host)
            try:
                return await self._start_on(port, ready_within)
            except TrytonStartError:
                # Another program may have taken the port between our probe and trytond's bind.
                if attempt == attempts or "Address already in use" not in _tail(self.log_file):
                    raise
        raise AssertionError("unreachable")

    async def _start_on(self, port: int, ready_within: float) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        config = write_config(
            self.work_dir,
            self.backend,
            listen=f"{shown}:{port}",
            tls=(self.tls[1], self.tls[2]) if self.tls else None,
        )
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://{shown}:{port}"
        with self.log_file.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(command("trytond")),
                "-c",
                str(config),
                "-d",
                self.database,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=_die_with_parent,
            )
        try:
            await self._wait_ready(ready_within)
        except BaseException:
            await self.stop()
            raise
        return self.url

    async def _wait_ready(self, ready_within: float) -> None:
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(self.tls[0])) if self.tls else True
        )
        body = {"id": 0, "method": "common.server.version", "params": []}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_within
        async with httpx.AsyncClient(verify=verify, timeout=2.0) as client:
            while True:
                assert self.process is not None
                if self.process.returncode is not None:
                    raise TrytonStartError(
                        f"trytond exited with {self.process.returncode}:\n{_tail(self.log_file)}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    answer = await client.post(f"{self.url}/rpc/", json=body)
                    if answer.status_code == 200:
                        return
                if loop.time() > deadline:
                    raise TrytonStartError(
                        f"trytond did not answer within {ready_within:g} s:\n"
                        + _tail(self.log_file)
                    )
                await asyncio.sleep(0.1)

    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns once it has exited."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
