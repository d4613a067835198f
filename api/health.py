"""Health probes: ``/healthz`` (the process serves) and ``/readyz`` (every source answers).

``/readyz`` makes one cheap authenticated call to each source, concurrently and bounded in
time, and answers 503 with the failing sources' codes while any is unusable, so a load
balancer stops sending traffic a replica cannot serve.
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


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


class Readiness:
    def __init__(self, sources: Sequence[SourceHealth], timeout: float = 5.0) -> None:
        self.sources = sources
        self.timeout = timeout

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
        reports = await asyncio.gather(*(self._check(source) for source in self.sources))
        ready = all(report["ready"] for report in reports)
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "sources": reports},
            status_code=200 if ready else 503,
        )
