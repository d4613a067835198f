"""Audit records: every write and every workflow step, who, when, what changed.

An entry records the actor and role, the action (a mutation or a workflow step), the system
and record written (the system as the adapter names itself: ``salesforce``, ``netsuite``...),
the values before and after, the idempotency key, the workflow, the upstream ids, and the
outcome (applied, unchanged, failed, compensated, kept, refused, replayed). Values are JSON:
decimals as strings, dates as ISO text. `state.audit.AuditTrail` keeps them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


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
    outcome: str  # applied | unchanged | failed | compensated | kept | refused | replayed
    system: str | None = None  # the adapter's name: salesforce, netsuite, tryton...
    record_type: str | None = None
    record_id: str | None = None
    before: Any = None
    after: Any = None
    idempotency_key: str | None = None
    workflow_id: str | None = None
    upstream_ids: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None
    at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
