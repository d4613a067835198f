"""The audit trail: every write and every workflow step, who, when, what changed.

An entry records the actor and role, the action (a mutation or a workflow step), the system
and record written, the values before and after, the idempotency key, the workflow, the
upstream ids, and the outcome (applied, failed, compensated, refused). Entries are appended to
one log in the state backend (a Redis Stream with ``ACCORD_REDIS_URL``), newest last, and read
back by ops through the API. Values are JSON: decimals as strings, dates as ISO text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from state.backend import StateBackend

AUDIT_LOG = "audit"
MAX_ENTRIES = 1_000_000


def plain(value: Any) -> Any:
    """A JSON-ready copy of canonical values: decimals, dates, enums, dataclasses."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    return value


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    role: str | None
    action: str  # "updateCustomer", "bookOrder.create_sales_order", ...
    outcome: str  # applied | failed | compensated | refused | replayed
    system: str | None = None  # salesforce | netsuite
    record_type: str | None = None
    record_id: str | None = None
    before: Any = None
    after: Any = None
    idempotency_key: str | None = None
    workflow_id: str | None = None
    upstream_ids: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None
    at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())


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
