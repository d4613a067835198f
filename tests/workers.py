"""Test support: Accord as an operator runs it with several worker processes on one port.

`WorkersAccord` is ``python server.py --sandbox F --workers 2`` on the session's sandbox and
Redis (a key prefix of its own). The tests of state shared by replicas run against it as well
as against two separate servers: two workers behind one port must behave as two replicas do.
Each request below opens a connection of its own, so the kernel spreads them over the workers.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from bench.harness import AccordProcess
from sandbox.endpoints import Endpoints
from tests.accord import READER


class WorkersAccord:
    def __init__(
        self,
        sandbox: Endpoints,
        redis_url: str,
        prefix: str,
        env: dict[str, str] | None = None,
        *,
        workers: int = 2,
    ) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="accord-workers-")
        endpoints_file = Path(self._directory.name) / "sandbox.json"
        sandbox.write(endpoints_file)
        self.process = AccordProcess(
            endpoints_file,
            {
                "ACCORD_REDIS_URL": redis_url,
                "ACCORD_REDIS_PREFIX": prefix,
                "ACCORD_LOG_LEVEL": "warning",
                **(env or {}),
            },
            workers=workers,
        )
        self.url = self.process.url

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kwargs)

    def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = READER,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """POST a query as the holder of API ``key``; the decoded body (asserting HTTP 200)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        with self.client() as client:
            response = client.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers, **kwargs
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def worker_pids(self) -> list[int]:
        return self.process.worker_pids()

    def __enter__(self) -> WorkersAccord:
        self.process.__enter__()
        assert len(self.worker_pids()) == self.process.workers, self.process.output()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.process.__exit__(kind, exc, tb)
        finally:
            self._directory.cleanup()
