"""Health probes: ``/healthz`` (the process serves) and ``/readyz`` (every dependency answers).

``/readyz`` makes one cheap authenticated call to each source and pings the state backend
(Redis, when configured), concurrently and bounded in time, and answers 503 with the failing
ones' codes while any is unusable, so a load balancer stops sending traffic a replica cannot
serve: without its state backend a replica can take no write and no webhook.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sources.errors import SourceError
from sources.ports import SourceHealth
from state.backend import StateBackend
from state.errors import StateError


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


class Readiness:
    def __init__(
        self,
        sources: Sequence[SourceHealth],
        timeout: float = 5.0,
        *,
        state: StateBackend | None = None,
    ) -> None:
        self.sources = sources
        self.timeout = timeout
        self.state = state

    async def _check_state(self, backend: StateBackend) -> dict[str, Any]:
        started = time.perf_counter()
        report: dict[str, Any] = {"backend": backend.name}
        try:
            await asyncio.wait_for(backend.ping(), self.timeout)
        except (StateError, TimeoutError) as exc:
            # the reason, never the URL: the probe is unauthenticated
            reason = (
                "no answer in time"
                if isinstance(exc, TimeoutError)
                else f"the {backend.name} state backend refused or dropped the connection"
            )
            report.update(ready=False, code="STATE_UNAVAILABLE", message=reason)
        else:
            report["ready"] = True
        report["latencyMs"] = round((time.perf_counter() - started) * 1000, 1)
        return report

    async def _check(self, source: SourceHealth) -> dict[str, Any]:
        started = time.perf_counter()
        report: dict[str, Any] = {"source": source.source}
        try:
            await asyncio.wait_for(source.ping(), self.timeout)
        except SourceError as exc:
            report.update(ready=False, code=exc.code, message=exc.message)
        except TimeoutError:
            report.update(ready=False, code="SOURCE_TIMEOUT", message="no answer in time")
        else:
            report["ready"] = True
        report["latencyMs"] = round((time.perf_counter() - started) * 1000, 1)
        report["breaker"] = source.health()["state"]
        return report

    async def handle(self, request: Request) -> Response:
        checks = [self._check(source) for source in self.sources]
        if self.state is not None:
            checks.append(self._check_state(self.state))
        reports = list(await asyncio.gather(*checks))
        body: dict[str, Any] = {"sources": reports[: len(self.sources)]}
        if self.state is not None:
            body["state"] = reports[-1]
        ready = all(report["ready"] for report in reports)
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", **body},
            status_code=200 if ready else 503,
        )
