"""One sandbox Tryton: a prepared database copied into a working directory and a trytond
serving it on loopback, for as long as the sandbox runs.

`TrytonSandbox.start` makes a private working directory (``accord-tryton-*``, inside the
sandbox's state directory), prepares or reuses the world's database there (`prepare`),
starts trytond on it over HTTPS with the sandbox's certificates, and returns the
`TrytonEndpoint` clients need. `TrytonSandbox.stop` stops trytond, drops the run's database
(PostgreSQL) and removes the directory; it is safe to call after a start that failed or was
cancelled half way.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from pathlib import Path

from sandbox.endpoints import TrytonEndpoint
from sandbox.tls import TlsFiles
from sandbox.tryton.modules import installed_versions
from sandbox.tryton.prepare import INTEGRATION_LOGIN, INTEGRATION_PASSWORD, prepare
from sandbox.tryton.server import TrytonServer
from sandbox.tryton.store import Backend
from sandbox.world import World

__all__ = ["TrytonSandbox"]


class TrytonSandbox:
    def __init__(
        self,
        world: World,
        backend: Backend,
        *,
        host: str = "127.0.0.1",
        state_dir: Path | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.world = world
        self.backend = backend
        self.host = host
        self.state_dir = state_dir
        self.tls = tls
        self.work_dir: Path | None = None
        self.database: str | None = None
        self.server: TrytonServer | None = None

    def _run_database(self) -> str:
        if self.backend.name == "sqlite":
            return "accord"  # the file's name in this run's own directory
        return f"accord_tryton_run_{secrets.token_hex(4)}"  # one server holds many runs

    async def start(self) -> TrytonEndpoint:
        versions = installed_versions()  # fails first, and clearly, when Tryton is missing
        self.work_dir = Path(tempfile.mkdtemp(prefix="accord-tryton-", dir=self.state_dir))
        database = self._run_database()
        self.database = database
        outcome = await prepare(self.backend, self.work_dir, self.world, database)
        tls = self.tls
        self.server = TrytonServer(
            self.work_dir,
            self.backend,
            database,
            host=self.host,
            tls=(tls.ca_file, tls.cert_file, tls.key_file) if tls else None,
        )
        url = await self.server.start()
        assert self.server.pid is not None
        return TrytonEndpoint(
            url=url,
            database=database,
            user=INTEGRATION_LOGIN,
            password=INTEGRATION_PASSWORD,
            ca_file=str(tls.ca_file) if tls else None,
            version=versions["trytond"],
            backend=self.backend.name,
            prepared=str(outcome["prepared"]),
            prepare_seconds=float(outcome["seconds"]),
            pid=self.server.pid,
            work_dir=str(self.work_dir),
        )

    async def stop(self) -> None:
        try:
            if self.server is not None:
                await self.server.stop()
            if self.database is not None and self.work_dir is not None:
                await asyncio.to_thread(self.backend.drop, self.work_dir, self.database)
        finally:
            if self.work_dir is not None:
                shutil.rmtree(self.work_dir, ignore_errors=True)
