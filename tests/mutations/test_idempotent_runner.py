"""The idempotent runner every mutation goes through, on the memory backend: what a duplicate
is told while the first request is still running."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from domain.caller import Caller
from domain.ownership import Role
from mutations.common import Outcome, WriteServices, idempotent
from mutations.results import ReportResult
from mutations.workflow import WorkflowStore
from state.audit import AuditTrail
from state.idempotency import IdempotencyStore
from state.memory_backend import MemoryBackend

FINANCE = Caller("api-key:test…finance", Role.FINANCE)


def services(wait: float) -> WriteServices:
    backend = MemoryBackend()
    return WriteServices(
        crm=cast(Any, None),  # the runner never calls the sources
        erp=cast(Any, None),
        backend=backend,
        audit=AuditTrail(backend),
        idempotency=IdempotencyStore(backend, poll=0.01, wait=wait),
        workflows=WorkflowStore(backend),
    )


async def test_a_duplicate_of_a_long_request_is_told_to_come_back_not_an_error() -> None:
    # given a request that runs longer than a duplicate waits for it
    write = services(wait=0.2)
    release = asyncio.Event()

    async def slow(upstream: str) -> Outcome[ReportResult]:
        await release.wait()
        return Outcome(ReportResult(upstream))

    first = asyncio.create_task(idempotent(write, "setCreditHold", FINANCE, "k-1", {"x": 1}, slow))
    await asyncio.sleep(0.05)

    # when its duplicate gives up waiting
    duplicate = await idempotent(write, "setCreditHold", FINANCE, "k-1", {"x": 1}, slow)

    # then the duplicate gets a typed, retryable answer, which is not kept
    assert [(p.code, p.field) for p in duplicate.problems] == [("SOURCE_TIMEOUT", "idempotencyKey")]
    release.set()
    answer = await first
    assert answer.problems == []
    replay = await idempotent(write, "setCreditHold", FINANCE, "k-1", {"x": 1}, slow)
    assert isinstance(replay.result, ReportResult)
    assert replay.result == answer.result
