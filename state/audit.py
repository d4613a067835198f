"""The audit trail: audit records (`domain.audit.AuditEntry`) appended to one log in the state
backend (a Redis Stream with ``ACCORD_REDIS_URL``), newest last, and read back by ops through
the API."""

from __future__ import annotations

from typing import Any

from domain.audit import AuditEntry, plain
from state.backend import StateBackend

AUDIT_LOG = "audit"
MAX_ENTRIES = 1_000_000


class AuditTrail:
    def __init__(self, backend: StateBackend, *, max_entries: int = MAX_ENTRIES) -> None:
        self.backend = backend
        self.max_entries = max_entries

    async def record(self, entry: AuditEntry) -> str:
        return await self.backend.log_append(AUDIT_LOG, plain(entry), max_length=self.max_entries)

    async def read(
        self,
        *,
        after: str | None = None,
        limit: int = 50,
        newest_first: bool = True,
        workflow_id: str | None = None,
        record_id: str | None = None,
        actor: str | None = None,
    ) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
        """A page of entries matching the filters, and whether more follow."""
        found: list[tuple[str, dict[str, Any]]] = []
        cursor = after
        while len(found) <= limit:
            batch = await self.backend.log_read(
                AUDIT_LOG, after=cursor, limit=max(limit * 4, 100), reverse=newest_first
            )
            if not batch:
                break
            for entry_id, entry in batch:
                if (
                    (workflow_id is None or entry.get("workflow_id") == workflow_id)
                    and (record_id is None or entry.get("record_id") == record_id)
                    and (actor is None or entry.get("actor") == actor)
                ):
                    found.append((entry_id, entry))
            cursor = batch[-1][0]
        return found[:limit], len(found) > limit
