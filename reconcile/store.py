"""Reports kept in the state backend, so every replica (and the console) sees the last one.

Each report is kept by id for `REPORT_TTL`; ``reconciliation:latest`` names the newest, and
the log ``reconciliation:runs`` keeps the summaries of the last `RUNS_KEPT` runs.
"""

from __future__ import annotations

from typing import Any

from reconcile.drift import Report
from state.backend import StateBackend

REPORT_TTL = 7 * 86400.0
RUNS_KEPT = 100
_LATEST = "reconciliation:latest"
_RUNS = "reconciliation:runs"


def _key(report_id: str) -> str:
    return f"reconciliation:report:{report_id}"


class ReportStore:
    def __init__(self, backend: StateBackend) -> None:
        self.backend = backend

    async def save(self, report: Report) -> None:
        await self.backend.set(_key(report.id), report.to_json(), ttl=REPORT_TTL)
        await self.backend.set(_LATEST, report.id, ttl=REPORT_TTL)
        await self.backend.log_append(_RUNS, report.summary(), max_length=RUNS_KEPT)

    async def get(self, report_id: str) -> Report | None:
        found = await self.backend.get(_key(report_id))
        return Report.from_json(found) if isinstance(found, dict) else None

    async def latest(self) -> Report | None:
        report_id = await self.backend.get(_LATEST)
        return await self.get(report_id) if isinstance(report_id, str) else None

    async def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """Summaries of the last runs, newest first."""
        return [entry for _, entry in await self.backend.log_read(_RUNS, limit=limit, reverse=True)]
