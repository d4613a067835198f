"""The workflow engine with steps of its own (writing to a ledger held by the test): how it
stops when a step breaks, and what it undoes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mutations.workflow import (
    EngineSettings,
    StepContext,
    StepStatus,
    WorkflowEngine,
    WorkflowKind,
    WorkflowStatus,
    WorkflowStore,
)
from sources.errors import SourceValidationError
from state.audit import AuditTrail
from state.memory_backend import MemoryBackend

Ledger = dict[str, str]


class Post:
    """Writes its name to the ledger; undone by removing it. ``then`` breaks it after the
    write: the upstream took the write but the step did not finish."""

    read_only = False
    attempts = 3
    independent_undo = False

    def __init__(self, name: str, then: Exception | None = None) -> None:
        self.name = name
        self.then = then

    async def run(self, ctx: StepContext) -> Mapping[str, Any]:
        ledger: Ledger = ctx.services
        ledger[self.name] = ctx.key()
        if self.then is not None:
            raise self.then
        return {self.name: True}

    async def compensate(self, ctx: StepContext) -> None:
        ledger: Ledger = ctx.services
        ledger.pop(self.name, None)


def engine_with(steps: list[Any], ledger: Ledger) -> WorkflowEngine:
    backend = MemoryBackend()
    return WorkflowEngine(
        WorkflowStore(backend),
        AuditTrail(backend),
        {WorkflowKind.BOOK_ORDER: steps},
        services=ledger,
        settings=EngineSettings(step_backoff=0.001, step_backoff_max=0.002, retry_for=0.0),
    )


async def start(engine: WorkflowEngine, workflow_id: str = "wf:test") -> Any:
    workflow = engine.new(
        WorkflowKind.BOOK_ORDER, workflow_id, {}, actor="tester", role="ops", idempotency_key="k"
    )
    return await engine.start(workflow)


async def test_a_step_that_breaks_stops_the_workflow_visibly_and_undoes_the_rest() -> None:
    # given a step that raises something no step should (a defect, not a business answer)
    ledger: Ledger = {}
    engine = engine_with([Post("first"), Post("second", then=KeyError("salesOrder"))], ledger)

    # when the workflow runs
    workflow = await start(engine)

    # then it stops in EXCEPTION on the dead-letter list, with the earlier write undone,
    # rather than staying RUNNING to break again on every recovery
    assert workflow.status is WorkflowStatus.EXCEPTION
    assert workflow.failure.step == "second"
    assert workflow.failure.code == "INTERNAL_ERROR"
    assert workflow.dead_lettered is True
    assert ledger == {}
    stored = await engine.store.get("wf:test")
    assert stored is not None
    assert stored.status is WorkflowStatus.EXCEPTION
    assert await engine.recover() == []


async def test_a_step_that_failed_after_its_write_landed_is_undone_too() -> None:
    # given a step whose write lands but which then fails for good (the upstream refused
    # what came after)
    ledger: Ledger = {}
    refused = SourceValidationError("netsuite", "refused after the write")
    engine = engine_with([Post("first"), Post("second", then=refused)], ledger)

    workflow = await start(engine)

    # then nothing of it stays posted: the failed step is undone as well as the first
    assert workflow.status is WorkflowStatus.EXCEPTION
    assert workflow.step("second").status is StepStatus.FAILED
    assert workflow.step("first").status is StepStatus.COMPENSATED
    assert ledger == {}


async def test_retry_after_an_undo_posts_under_the_next_generation() -> None:
    ledger: Ledger = {}
    second = Post("second", then=SourceValidationError("netsuite", "not yet"))
    engine = engine_with([Post("first"), second], ledger)
    stopped = await start(engine)
    assert stopped.status is WorkflowStatus.EXCEPTION

    second.then = None
    done = await engine.retry("wf:test")

    assert done.status is WorkflowStatus.COMPLETED
    assert done.generation == 1
    assert ledger == {"first": "wf:test:first:1", "second": "wf:test:second:1"}
