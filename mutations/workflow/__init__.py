"""Workflows: multi-step writes that complete, or stop visibly with nothing half-posted.

A workflow is a list of steps run in order, with its state persisted in the state backend
(Redis with ``ACCORD_REDIS_URL``) before and after every step, so that a process killed in the
middle of one is resumed by another (or by itself after a restart) at that step.

::

    PENDING ──▶ RUNNING ──▶ COMPLETED
                  │  ▲
                  │  └──────────────┐ approve (finance)
                  ├──▶ PENDING_APPROVAL ──▶ CANCELLED
                  │                  cancel
                  └──▶ EXCEPTION ──▶ RUNNING (retry) / CANCELLED (cancel)

- A step raises `NeedsApproval` to pause the workflow for finance (nothing written yet);
  approving runs the read-only steps again (what they checked may have changed during the
  wait) and resumes, keeping what was approved (`approved_for`) so that the step, run again,
  can tell whether the approval still covers the work.
- A step that fails (a business refusal, an upstream error after its retries, or a defect)
  stops the workflow in EXCEPTION, recording the step, the reason and the upstream error,
  after the failed step (whose write may have landed although its answer never came) and the
  steps done so far are compensated in reverse order: nothing stays half-posted. Steps find
  what to undo rather than assume it, and what is gone already counts as undone. An undo
  that fails stops the earlier steps' undo (they may be needed by it), unless the step says
  its undo stands alone (``independent_undo``): then the earlier steps are still undone.
- A step whose retryable failures exhaust its attempts, or whose undo fails, is also put on
  the dead-letter list; an undo that failed leaves the step marked ``undo_pending``.
- Retrying runs the read-only steps again (the cause may have been fixed), then every step not
  COMPLETED (or whose undo is pending), from the first compensated or failed one. The
  workflow's `generation` is part of each step's idempotency key, so a retry after
  compensation posts anew, while a resumption after a crash (same generation) finds what the
  first attempt posted.
- One runner at a time: a process works on a workflow (running it, or retrying, approving,
  cancelling it) only while it holds the workflow's lease, which it renews for as long as the
  work lasts; an action waits briefly for another runner and is otherwise refused as busy.
  `recover` resumes RUNNING and PENDING workflows whose lease has lapsed (a dead process's).

The package: `model` (the persisted record), `steps` (what a step is and may use), `store`
(persistence and its indexes), `engine` (running, retrying, approving, cancelling,
recovering) and `retry` (how long a step retries a failing source).
"""

from __future__ import annotations

from mutations.workflow.engine import (
    CompensationFailed,
    EngineSettings,
    WorkflowEngine,
    WorkflowStateError,
)
from mutations.workflow.model import (
    ACTIVE,
    TERMINAL,
    Failure,
    StepRecord,
    StepStatus,
    Workflow,
    WorkflowKind,
    WorkflowStatus,
    now,
)
from mutations.workflow.steps import NeedsApproval, Step, StepContext, StepRefused
from mutations.workflow.store import ConcurrentUpdate, WorkflowStore

__all__ = [
    "ACTIVE",
    "TERMINAL",
    "CompensationFailed",
    "ConcurrentUpdate",
    "EngineSettings",
    "Failure",
    "NeedsApproval",
    "Step",
    "StepContext",
    "StepRecord",
    "StepRefused",
    "StepStatus",
    "Workflow",
    "WorkflowEngine",
    "WorkflowKind",
    "WorkflowStateError",
    "WorkflowStatus",
    "WorkflowStore",
    "now",
]
