"""Workflow state changes as canonical events (subscribers of ``workflowChanged`` get them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from cachetools import LRUCache

from events.model import Event, EventType, event_id
from mutations.workflow import Workflow, WorkflowStore
from telemetry import metrics


def workflow_event(workflow: Workflow) -> Event:
    key = workflow.state.get("key")
    step = next((s.name for s in workflow.steps if s.status.value == "RUNNING"), None)
    return Event(
        id=event_id("accord", "workflow", workflow.id, workflow.version, workflow.status.value),
        type=EventType.WORKFLOW_CHANGED,
        source="accord",
        subject=workflow.id,
        time=dt.datetime.fromisoformat(workflow.updated_at),
        data={
            "kind": workflow.kind.value,
            "status": workflow.status.value,
            "step": step,
            "generation": workflow.generation,
            "failure": workflow.failure.code if workflow.failure else None,
        },
        customer=f"cus:{key}" if key else None,
    )


def publishing(publish: Callable[[Event], Awaitable[Any]]) -> Callable[[Workflow], Awaitable[None]]:
    """A workflow engine `on_change` listener that publishes each change."""

    async def on_change(workflow: Workflow) -> None:
        await publish(workflow_event(workflow))

    return on_change


def dead_letter_reading(store: WorkflowStore) -> Callable[[], Awaitable[None]]:
    """Reads how many workflows are on the dead-letter list into
    ``accord_workflow_dead_letters`` (at each scrape: the list lives in the shared state)."""

    async def read() -> None:
        metrics.WORKFLOW_DEAD_LETTERS.set(await store.dead_letter_count())

    return read


def counting(
    listener: Callable[[Workflow], Awaitable[None]] | None,
) -> Callable[[Workflow], Awaitable[None]]:
    """A workflow engine `on_change` listener that counts each workflow reaching a status
    (``accord_workflow_transitions_total``), then calls ``listener``. A workflow is saved at
    every step; only a change of status counts, judged by the last status seen for its id
    (the last 10,000 workflows are remembered)."""
    last: LRUCache[str, str] = LRUCache(maxsize=10_000)

    async def on_change(workflow: Workflow) -> None:
        status = workflow.status.value
        if last.get(workflow.id) != status:
            last[workflow.id] = status
            metrics.WORKFLOWS.labels(workflow.kind.value, status).inc()
            if workflow.dead_lettered:  # it stopped, out of retries, on the dead-letter list
                metrics.DEAD_LETTERS.labels("workflows").inc()
        if listener is not None:
            await listener(workflow)

    return on_change
