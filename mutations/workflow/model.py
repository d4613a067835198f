"""A workflow as it is persisted: its status, its steps' records and why it stopped."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.audit import plain


class WorkflowStatus(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    COMPLETED = "COMPLETED"
    EXCEPTION = "EXCEPTION"
    CANCELLED = "CANCELLED"


class WorkflowKind(enum.Enum):
    BOOK_ORDER = "BOOK_ORDER"


class StepStatus(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    COMPENSATED = "COMPENSATED"


TERMINAL = {WorkflowStatus.COMPLETED, WorkflowStatus.CANCELLED}
ACTIVE = {WorkflowStatus.PENDING, WorkflowStatus.RUNNING}


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


# --------------------------------------------------------------------------- the model


@dataclass
class Failure:
    """Why a workflow stopped: the step, a code, a message, and the upstream error if any."""

    step: str
    code: str
    message: str
    source: str | None = None
    upstream_code: str | None = None
    upstream_message: str | None = None
    retryable: bool = False
    problems: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StepRecord:
    name: str
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    undo_pending: bool = False  # its compensation failed: what it wrote may still be posted
    retrying_since: str | None = None  # first retryable failure of this run, while it retries


@dataclass
class Workflow:
    id: str
    kind: WorkflowKind
    status: WorkflowStatus
    input: dict[str, Any]
    created_by: str
    created_role: str | None
    idempotency_key: str | None
    steps: list[StepRecord]
    state: dict[str, Any] = field(default_factory=dict)  # facts and step outputs, JSON
    generation: int = 0
    failure: Failure | None = None
    pending_reason: dict[str, Any] | None = None
    approved_by: str | None = None
    approved_at: str | None = None
    approved_for: dict[str, Any] | None = None  # the pending reason finance approved
    cancelled_by: str | None = None
    dead_lettered: bool = False
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    version: int = 0

    def step(self, name: str) -> StepRecord:
        return next(record for record in self.steps if record.name == name)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = plain(self)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Workflow:
        values = dict(data)
        values["kind"] = WorkflowKind(values["kind"])
        values["status"] = WorkflowStatus(values["status"])
        values["steps"] = [
            StepRecord(**{**step, "status": StepStatus(step["status"])}) for step in values["steps"]
        ]
        if values.get("failure"):
            values["failure"] = Failure(**values["failure"])
        return cls(**values)
