"""The engine that runs workflows step by step, one runner at a time (see the package)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.audit import plain
from mutations.workflow.model import (
    ACTIVE,
    Failure,
    StepRecord,
    StepStatus,
    Workflow,
    WorkflowKind,
    WorkflowStatus,
    now,
)
from mutations.workflow.retry import RetryWindow, retry_delay
from mutations.workflow.steps import NeedsApproval, Step, StepContext, StepRefused
from mutations.workflow.store import ConcurrentUpdate, WorkflowStore
from sources.errors import CircuitOpen, SourceError
from sources.outage import OutageLog
from state.audit import AuditTrail
from state.errors import StateError

logger = logging.getLogger("accord.workflow")


class WorkflowStateError(Exception):
    """The action does not apply to the workflow in its current status, or another runner is
    working on it right now (``busy``)."""

    def __init__(self, workflow: Workflow, action: str, *, busy: bool = False) -> None:
        message = (
            f"cannot {action} the workflow now: another process is working on it "
            f"({workflow.status.value}); try again shortly"
            if busy
            else f"cannot {action} a workflow in {workflow.status.value}"
        )
        super().__init__(message)
        self.workflow = workflow
        self.action = action
        self.busy = busy


class CompensationFailed(Exception):
    """Undoing a step failed: what it wrote may still be posted."""

    def __init__(self, step: str, cause: Exception) -> None:
        super().__init__(f"compensation failed, still posted: {cause}")
        self.step = step
        self.cause = cause


# --------------------------------------------------------------------------- the engine


@dataclass(frozen=True)
class EngineSettings:
    lease_ttl: float = 30.0  # a crashed runner's workflows are resumed after this
    step_backoff: float = 0.2  # first pause between attempts of a step; doubles
    step_backoff_max: float = 2.0
    recover_every: float = 5.0
    action_wait: float = 2.0  # how long retry/approve/cancel wait for a runner to let go
    # beyond its attempts, how long a step keeps retrying a source that fails for now
    retry_for: float = 60.0
    # how long a request waits for its workflow to rest; then it answers with the workflow
    # still RUNNING (retrying), which goes on in the background
    reply_within: float = 10.0

    def window(self, attempts: int) -> RetryWindow:
        return RetryWindow(attempts, self.retry_for, self.step_backoff, self.step_backoff_max)


class WorkflowEngine:
    def __init__(
        self,
        store: WorkflowStore,
        audit: AuditTrail,
        definitions: Mapping[WorkflowKind, Sequence[Step]],
        *,
        services: Any,
        settings: EngineSettings = EngineSettings(),
        on_change: Callable[[Workflow], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.definitions = definitions
        self.services = services
        self.settings = settings
        self.on_change = on_change
        self.owner = f"runner-{uuid.uuid4().hex[:12]}"
        self._rng = random.Random()
        self._running: dict[str, asyncio.Task[Workflow]] = {}

    # ------------------------------------------------------------------ lifecycle

    def new(
        self,
        kind: WorkflowKind,
        workflow_id: str,
        payload: Mapping[str, Any],
        *,
        actor: str,
        role: str | None,
        idempotency_key: str | None,
    ) -> Workflow:
        return Workflow(
            id=workflow_id,
            kind=kind,
            status=WorkflowStatus.PENDING,
            input=dict(payload),
            created_by=actor,
            created_role=role,
            idempotency_key=idempotency_key,
            steps=[StepRecord(step.name) for step in self.definitions[kind]],
        )

    async def start(
        self, workflow: Workflow, *, stored: Callable[[], Awaitable[None]] | None = None
    ) -> Workflow:
        """Store a new workflow and run it; an existing one with the same id is resumed.
        ``stored`` is called once the workflow is stored (new or found), before it runs."""
        if not await self.store.create(workflow):
            existing = await self.store.get(workflow.id)
            assert existing is not None
            if stored is not None:
                await stored()
            if existing.status in ACTIVE:
                return await self.run(existing.id)
            return existing
        if stored is not None:
            await stored()
        await self._changed(workflow)
        return await self.run(workflow.id)

    async def run(self, workflow_id: str) -> Workflow:
        """Run (or resume) a workflow to a resting status; as stored when another process runs
        it (that process reports its own outcome)."""

        async def resume(workflow: Workflow) -> Workflow:
            if workflow.status not in ACTIVE:
                return workflow
            return await self._advance(workflow)

        return await self._exclusively(workflow_id, None, resume)

    async def _exclusively(
        self,
        workflow_id: str,
        action: str | None,
        work: Callable[[Workflow], Awaitable[Workflow]],
    ) -> Workflow:
        """Do ``work`` on the workflow as its only runner anywhere: one task of this process,
        holding the workflow's lease. A plain run (``action`` None) joins this process's
        runner if it has one; an action waits for it (and for another process's lease) for
        `EngineSettings.action_wait`, then is refused as busy."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.settings.action_wait if action else 0.0)
        while True:
            task = self._running.get(workflow_id)
            if task is None or task.done():
                break
            if action is None:
                try:
                    return await self._reply(workflow_id, task)
                except (WorkflowStateError, SourceError, CompensationFailed):
                    return await self._get(workflow_id)  # an action refused; the rest stands
            left = deadline - loop.time()
            if left <= 0:
                raise WorkflowStateError(await self._get(workflow_id), action, busy=True)
            await asyncio.wait({task}, timeout=left)
        # No await between the check above and registering the task: one runner per process.
        task = asyncio.ensure_future(self._leased(workflow_id, action, work, deadline))
        self._running[workflow_id] = task
        return await self._reply(workflow_id, task)

    async def _reply(self, workflow_id: str, task: asyncio.Task[Workflow]) -> Workflow:
        """The workflow once ``task`` lets it rest, or as it stands after `reply_within` (a
        step still retrying a source): the task goes on either way. Shielded, so that a
        client hanging up does not stop a workflow halfway through a step."""
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.settings.reply_within)
        except TimeoutError:
            return await self._get(workflow_id)

    async def _leased(
        self,
        workflow_id: str,
        action: str | None,
        work: Callable[[Workflow], Awaitable[Workflow]],
        deadline: float,
    ) -> Workflow:
        lease = f"workflow:{workflow_id}"
        backend = self.store.backend
        loop = asyncio.get_running_loop()
        try:
            while not await backend.lease(lease, self.owner, self.settings.lease_ttl):
                if loop.time() >= deadline:
                    workflow = await self._get(workflow_id)
                    if action is None:
                        return workflow  # another process runs it
                    raise WorkflowStateError(workflow, action, busy=True)
                await asyncio.sleep(0.05)
            heartbeat = asyncio.create_task(self._keep_lease(lease))
            try:
                return await work(await self._get(workflow_id))
            except ConcurrentUpdate:
                # This runner lost its lease (a stalled process) and another took over.
                logger.warning("workflow %s changed under its runner; leaving it", workflow_id)
                workflow = await self._get(workflow_id)
                if action is not None:
                    raise WorkflowStateError(workflow, action, busy=True) from None
                return workflow
            finally:
                heartbeat.cancel()
                await backend.release(lease, self.owner)
        finally:
            if self._running.get(workflow_id) is asyncio.current_task():
                del self._running[workflow_id]

    async def _keep_lease(self, lease: str) -> None:
        """Renew the lease while the work lasts: a live runner keeps its workflow however long
        a step takes; a dead one loses it within `lease_ttl`."""
        while True:
            await asyncio.sleep(self.settings.lease_ttl / 3)
            try:
                if not await self.store.backend.renew(lease, self.owner, self.settings.lease_ttl):
                    logger.warning("lost the lease %s", lease)
                    return
            except StateError as exc:  # tried again at the next beat; the TTL covers a miss
                logger.warning("could not renew the lease %s: %s", lease, exc)

    async def _advance(self, workflow: Workflow) -> Workflow:
        steps = self.definitions[workflow.kind]
        if workflow.status is not WorkflowStatus.RUNNING:
            workflow.status = WorkflowStatus.RUNNING
            await self._save(workflow)
        for step in steps:
            record = workflow.step(step.name)
            if record.status is StepStatus.COMPLETED:
                continue
            outcome = await self._run_step(workflow, step)
            if outcome is not None:
                return outcome
        workflow.status = WorkflowStatus.COMPLETED
        workflow.failure = None
        workflow.pending_reason = None
        await self._save(workflow)
        return workflow

    def _context(self, workflow: Workflow, step: Step) -> StepContext:
        """What ``step`` of ``workflow`` runs with, on behalf of the workflow's creator."""
        return StepContext(
            workflow,
            step.name,
            self.audit,
            workflow.created_by,
            workflow.created_role,
            self.services,
            self._save,
        )

    async def _run_step(self, workflow: Workflow, step: Step) -> Workflow | None:
        """Run one step to completion; a resting workflow when it must stop there."""
        record = workflow.step(step.name)
        context = self._context(workflow, step)
        while True:
            record.status = StepStatus.RUNNING
            record.attempts += 1
            record.started_at = now()
            record.error = None
            await self._save(workflow)
            try:
                output = await step.run(context)
            except NeedsApproval as pause:
                record.status = StepStatus.PENDING
                workflow.status = WorkflowStatus.PENDING_APPROVAL
                workflow.pending_reason = {
                    "code": pause.code,
                    "message": pause.message,
                    **plain(pause.details),
                }
                await context.audit_write(outcome="pending_approval", message=pause.message)
                await self._save(workflow)
                return workflow
            except StepRefused as refusal:
                failure = Failure(
                    step.name, refusal.code, refusal.message, problems=refusal.problems
                )
                return await self._fail(workflow, step, failure, dead_letter=False)
            except SourceError as error:
                transient = error.retryable or isinstance(error, CircuitOpen)
                failure = Failure(
                    step.name,
                    error.code,
                    f"{error.source}: {error.message}",
                    source=error.source,
                    upstream_code=error.upstream_code,
                    upstream_message=error.details,
                    retryable=transient,
                    problems=[plain(p) for p in getattr(error, "problems", ())],
                )
                wait = self._retry_pause(record, step, error)
                if wait is not None:
                    record.error = failure.message
                    await self._save(workflow)
                    await asyncio.sleep(wait)
                    continue
                record.retrying_since = None
                return await self._fail(workflow, step, failure, dead_letter=transient)
            except (ConcurrentUpdate, StateError):
                raise  # the workflow's own record cannot be kept: leave it to recovery
            except Exception as error:
                # A defect, not a business answer: stop visibly (and undo) rather than leave
                # the workflow RUNNING to fail the same way on every recovery.
                logger.exception("workflow %s: step %s failed", workflow.id, step.name)
                failure = Failure(step.name, "INTERNAL_ERROR", f"{type(error).__name__}: {error}")
                return await self._fail(workflow, step, failure, dead_letter=True)
            record.status = StepStatus.COMPLETED
            record.finished_at = now()
            record.undo_pending = False
            record.retrying_since = None
            workflow.state.update(plain(dict(output)))
            await self._save(workflow)
            return None

    def _retry_pause(self, record: StepRecord, step: Step, error: SourceError) -> float | None:
        """Seconds before ``record``'s next try after ``error``, or None to give up; the
        retry window opens at the step's first retryable failure."""
        moment = dt.datetime.now(dt.UTC)
        if record.retrying_since is None:
            record.retrying_since = moment.isoformat()
        since = dt.datetime.fromisoformat(record.retrying_since or moment.isoformat())
        window = self.settings.window(step.attempts)
        return retry_delay(window, error, record.attempts, since, moment, self._rng)

    async def _fail(
        self, workflow: Workflow, failed: Step, failure: Failure, *, dead_letter: bool
    ) -> Workflow:
        record = workflow.step(failed.name)
        record.status = StepStatus.FAILED
        record.finished_at = now()
        record.error = failure.message
        workflow.failure = failure
        await self._save(workflow)
        try:
            await self._compensate(workflow)
        except CompensationFailed as error:
            # The undo itself failed: the workflow must not look clean. Finance sees it on the
            # dead-letter list; a retry runs that step again (finding what is still posted).
            failure.message += f"; {error}"
            dead_letter = True
        workflow.status = WorkflowStatus.EXCEPTION
        workflow.dead_lettered = dead_letter
        await self._save(workflow)
        if dead_letter:
            await self.store.dead_letter(workflow)
        # the trail tells the stop as well as the writes and undos before it
        await self._context(workflow, failed).audit_write(
            outcome="failed",
            system=failure.source,
            message=f"{failure.code}: {failure.message}"
            + ("; on the dead-letter list" if dead_letter else ""),
        )
        logger.warning("workflow %s stopped at %s: %s", workflow.id, failed.name, failure.message)
        return workflow

    async def _compensate(self, workflow: Workflow) -> None:
        """Undo the writing steps that completed, or failed (their write may have landed all
        the same), newest first; `CompensationFailed` when one cannot be undone."""
        failed: CompensationFailed | None = None
        for step in reversed(self.definitions[workflow.kind]):
            record = workflow.step(step.name)
            wrote = record.status is StepStatus.COMPLETED or record.status is StepStatus.FAILED
            if step.read_only or not (wrote or record.undo_pending):
                continue
            context = self._context(workflow, step)
            undone = False
            window = self.settings.window(step.attempts)
            since = dt.datetime.now(dt.UTC)
            attempt = 0
            while True:
                attempt += 1
                try:
                    await step.compensate(context)
                    undone = True
                    break
                except (ConcurrentUpdate, StateError):
                    raise
                except Exception as error:
                    pause = (
                        retry_delay(
                            window, error, attempt, since, dt.datetime.now(dt.UTC), self._rng
                        )
                        if isinstance(error, SourceError)
                        else None
                    )
                    if pause is None:
                        # Record it: the workflow stays in EXCEPTION with the undo pending.
                        record.undo_pending = True
                        record.error = f"compensation failed: {error}"
                        await self._save(workflow)
                        failure = CompensationFailed(step.name, error)
                        if not step.independent_undo:
                            raise failure from error
                        failed = failed or failure
                        break
                    await asyncio.sleep(pause)
            if not undone:
                continue
            if record.status is StepStatus.COMPLETED:
                record.status = StepStatus.COMPENSATED
            record.undo_pending = False
            record.finished_at = now()
            await self._save(workflow)
        if failed is not None:
            raise failed

    # ------------------------------------------------------------------ actions

    async def retry(self, workflow_id: str) -> Workflow:
        async def work(workflow: Workflow) -> Workflow:
            if workflow.status is not WorkflowStatus.EXCEPTION:
                raise WorkflowStateError(workflow, "retry")
            workflow.generation += 1
            workflow.failure = None
            workflow.dead_lettered = False
            for step in self.definitions[workflow.kind]:
                record = workflow.step(step.name)
                if (
                    step.read_only
                    or record.status is not StepStatus.COMPLETED
                    or record.undo_pending
                ):
                    # A step whose undo failed runs again too: it finds what it still has
                    # posted (or posts it anew if the undo did happen after all).
                    record.status = StepStatus.PENDING
                    record.error = None
                    record.retrying_since = None
            workflow.status = WorkflowStatus.RUNNING
            await self._save(workflow)
            await self.store.clear_dead_letter(workflow.id)
            return await self._advance(workflow)

        return await self._exclusively(workflow_id, "retry", work)

    async def approve(self, workflow_id: str, actor: str) -> Workflow:
        async def work(workflow: Workflow) -> Workflow:
            if workflow.status is not WorkflowStatus.PENDING_APPROVAL:
                raise WorkflowStateError(workflow, "approve")
            workflow.approved_by = actor
            workflow.approved_at = now()
            workflow.approved_for = workflow.pending_reason
            workflow.pending_reason = None
            # What was checked before the wait may have changed during it: the read-only
            # steps run again (the approval still covers what it was asked for).
            self._rerun_checks(workflow)
            workflow.status = WorkflowStatus.RUNNING
            await self._save(workflow)
            return await self._advance(workflow)

        return await self._exclusively(workflow_id, "approve", work)

    def _rerun_checks(self, workflow: Workflow) -> None:
        for step in self.definitions[workflow.kind]:
            if step.read_only:
                record = workflow.step(step.name)
                record.status = StepStatus.PENDING
                record.error = None

    async def cancel(self, workflow_id: str, actor: str) -> Workflow:
        async def work(workflow: Workflow) -> Workflow:
            if workflow.status not in (
                WorkflowStatus.PENDING_APPROVAL,
                WorkflowStatus.EXCEPTION,
            ):
                raise WorkflowStateError(workflow, "cancel")
            try:
                await self._compensate(workflow)
            except CompensationFailed as error:
                if isinstance(error.cause, SourceError):
                    raise error.cause from None  # the upstream is in trouble: try later
                raise
            workflow.status = WorkflowStatus.CANCELLED
            workflow.cancelled_by = actor
            await self._save(workflow)
            await self.store.clear_dead_letter(workflow.id)
            return workflow

        return await self._exclusively(workflow_id, "cancel", work)

    async def recover(self) -> list[str]:
        """Resume the RUNNING and PENDING workflows no live process holds; their ids."""
        resumed: list[str] = []
        for status in (WorkflowStatus.RUNNING, WorkflowStatus.PENDING):
            after: tuple[float, str] | None = None
            while True:
                entries = await self.store.backend.index_range(
                    f"workflows:status:{status.value}", after=after, limit=100
                )
                for member, _ in entries:
                    running = self._running.get(member)
                    if running is not None and not running.done():
                        continue
                    workflow = await self.run(member)
                    if workflow.status is not status:
                        resumed.append(member)
                if len(entries) < 100:
                    break
                after = (entries[-1][1], entries[-1][0])
        return resumed

    async def recover_forever(self) -> None:
        outage = OutageLog(logger, "workflow recovery: the state backend")
        while True:
            try:
                await self.recover()
            except StateError as exc:  # an outage: one line when it starts, one when it ends
                outage.failed(exc)
            except Exception:
                logger.exception("workflow recovery failed; trying again later")
            else:
                outage.succeeded()
            await asyncio.sleep(self.settings.recover_every)

    async def _get(self, workflow_id: str) -> Workflow:
        workflow = await self.store.get(workflow_id)
        if workflow is None:
            raise KeyError(workflow_id)
        return workflow

    async def _save(self, workflow: Workflow) -> None:
        await self.store.save(workflow)
        await self._changed(workflow)

    async def _changed(self, workflow: Workflow) -> None:
        if self.on_change is not None:
            try:
                await self.on_change(workflow)
            except Exception:
                logger.exception("workflow change listener failed")
