"""Idempotency records on memory and on Redis: one run per key, replays, refusals, take-over."""

from __future__ import annotations

import asyncio
import time

import pytest

from state.backend import StateBackend
from state.idempotency import (
    IdempotencyClaimLost,
    IdempotencyStore,
    IdempotencyTimeout,
    Mismatch,
    Started,
    Stored,
    fingerprint,
)
from tests.state.conftest import OpenReplica

SCOPE = "bookOrder"
INPUT = {"opportunityId": "006000000000001AAA", "lines": [{"sku": "A-1", "quantity": 2}]}
PRINT = fingerprint(INPUT)
OTHER_PRINT = fingerprint({**INPUT, "lines": [{"sku": "A-1", "quantity": 3}]})
RESULT = {"orderId": "SO-1001", "status": "PENDING_APPROVAL", "total": "120.00"}


def fast(backend: StateBackend, **options: float) -> IdempotencyStore:
    return IdempotencyStore(backend, poll=0.01, **options)


# -- fingerprints -------------------------------------------------------------------------------


def test_fingerprint_ignores_key_order_and_sees_every_value() -> None:
    reordered = {"lines": [{"quantity": 2, "sku": "A-1"}], "opportunityId": "006000000000001AAA"}

    assert fingerprint(reordered) == PRINT
    assert OTHER_PRINT != PRINT
    assert fingerprint({**INPUT, "idempotencyKey": "k"}) != PRINT


def test_fingerprint_is_stable_across_releases() -> None:
    # Records outlive deployments: this value must never change.
    value = {"customerId": "cus:C-1", "lines": [{"sku": "A", "qty": 2}], "note": "ünï"}

    assert fingerprint(value) == "b5f3b8651dd6c51042b1795123e72544b2327a95eabb93c9b89292d69d931d5a"


# -- one caller -------------------------------------------------------------------------------


async def test_the_first_call_runs_and_a_retry_replays_its_result(backend: StateBackend) -> None:
    store = fast(backend)

    # given a first call that ran and completed
    first = await store.begin(SCOPE, "key-1", PRINT)
    assert isinstance(first, Started)
    await store.complete(SCOPE, "key-1", first.token, RESULT)

    # when the client retries with the same key and input
    retry = await store.begin(SCOPE, "key-1", PRINT)

    # then it gets the first result back
    assert retry == Stored(RESULT)


async def test_keys_are_separate_per_scope(backend: StateBackend) -> None:
    store = fast(backend)

    assert isinstance(await store.begin("bookOrder", "key-1", PRINT), Started)
    assert isinstance(await store.begin("recordPayment", "key-1", PRINT), Started)
    assert isinstance(await store.begin("bookOrder", "key-2", PRINT), Started)


async def test_a_different_input_is_refused_while_running_and_after(backend: StateBackend) -> None:
    store = fast(backend)
    first = await store.begin(SCOPE, "key-1", PRINT)
    assert isinstance(first, Started)

    # while the first call runs, a different input under its key is refused at once
    while_running = await asyncio.wait_for(store.begin(SCOPE, "key-1", OTHER_PRINT, wait=30), 2)
    assert while_running == Mismatch(PRINT)

    # and still after it completed
    await store.complete(SCOPE, "key-1", first.token, RESULT)
    assert await store.begin(SCOPE, "key-1", OTHER_PRINT) == Mismatch(PRINT)
    assert await store.begin(SCOPE, "key-1", PRINT) == Stored(RESULT)


async def test_a_caller_waits_for_the_running_call_and_gets_its_result(
    replicas: OpenReplica,
) -> None:
    owner, waiter = fast(replicas()), fast(replicas())
    first = await owner.begin(SCOPE, "key-1", PRINT)
    assert isinstance(first, Started)

    # given a second replica waiting on the same key
    waiting = asyncio.create_task(waiter.begin(SCOPE, "key-1", PRINT, wait=5))
    await asyncio.sleep(0.05)
    assert not waiting.done()

    # when the first call completes
    await owner.complete(SCOPE, "key-1", first.token, RESULT)

    # then the waiter replays its result
    assert await asyncio.wait_for(waiting, 30) == Stored(RESULT)  # 30: bounds a hang only


async def test_waiting_too_long_raises_a_timeout(backend: StateBackend) -> None:
    store = fast(backend)
    await store.begin(SCOPE, "key-1", PRINT)

    with pytest.raises(IdempotencyTimeout) as raised:
        await store.begin(SCOPE, "key-1", PRINT, wait=0.1)

    assert (raised.value.scope, raised.value.key) == (SCOPE, "key-1")


async def test_fifty_concurrent_calls_run_once(replicas: OpenReplica) -> None:
    # given five replicas (in memory: the one process) sharing the records
    stores = [fast(replicas()) for _ in range(5)]

    async def call(number: int) -> Stored | Started | Mismatch:
        store = stores[number % len(stores)]
        outcome = await store.begin(SCOPE, "key-1", PRINT, wait=10)
        if isinstance(outcome, Started):
            await asyncio.sleep(0.05)  # the mutation's work, while the others arrive
            await store.complete(SCOPE, "key-1", outcome.token, RESULT)
        return outcome

    # when fifty calls with the same key and input arrive at once
    outcomes = await asyncio.gather(*(call(n) for n in range(50)))

    # then exactly one ran, and the other 49 replayed its result
    assert sum(isinstance(outcome, Started) for outcome in outcomes) == 1
    assert outcomes.count(Stored(RESULT)) == 49


# -- claims that end badly ----------------------------------------------------------------------


async def test_a_claim_whose_owner_died_is_taken_over(replicas: OpenReplica) -> None:
    dead, alive = fast(replicas(), running_ttl=0.2), fast(replicas(), running_ttl=0.2)
    # given a claim whose owner never completes
    first = await dead.begin(SCOPE, "key-1", PRINT)
    assert isinstance(first, Started)
    began = time.monotonic()

    # when another replica asks for the same key
    second = await alive.begin(SCOPE, "key-1", PRINT, wait=5)

    # then it waits for the claim to expire and runs the call itself
    assert isinstance(second, Started)
    assert second.token != first.token
    assert time.monotonic() - began >= 0.15
    # and the late first owner cannot overwrite the new run's result
    await alive.complete(SCOPE, "key-1", second.token, RESULT)
    with pytest.raises(IdempotencyClaimLost):
        await dead.complete(SCOPE, "key-1", first.token, {"orderId": "SO-LATE"})
    assert await dead.begin(SCOPE, "key-1", PRINT) == Stored(RESULT)


async def test_a_result_completed_after_the_claim_expired_is_still_kept(
    backend: StateBackend,
) -> None:
    store = fast(backend, running_ttl=0.2)
    first = await store.begin(SCOPE, "key-1", PRINT)
    assert isinstance(first, Started)
    await asyncio.sleep(0.3)  # slower than its claim; nobody took the key over meanwhile

    await store.complete(SCOPE, "key-1", first.token, RESULT)

    assert await store.begin(SCOPE, "key-1", PRINT) == Stored(RESULT)
    assert await store.begin(SCOPE, "key-1", OTHER_PRINT) == Mismatch(PRINT)


async def test_abandoning_lets_a_retry_run_at_once(backend: StateBackend) -> None:
    store = fast(backend)
    first = await store.begin(SCOPE, "key-1", PRINT)
    assert isinstance(first, Started)

    await store.abandon(SCOPE, "key-1", first.token)

    retry = await asyncio.wait_for(store.begin(SCOPE, "key-1", PRINT), 2)
    assert isinstance(retry, Started)
    assert retry.token != first.token
    # an abandoned key does not remember the input: another one may run too
    await store.abandon(SCOPE, "key-1", retry.token)
    assert isinstance(await store.begin(SCOPE, "key-1", OTHER_PRINT), Started)


async def test_abandon_without_the_claim_changes_nothing(backend: StateBackend) -> None:
    store = fast(backend)
    first = await store.begin(SCOPE, "key-1", PRINT)
    assert isinstance(first, Started)
    await store.abandon(SCOPE, "key-1", first.token)
    second = await store.begin(SCOPE, "key-1", PRINT)
    assert isinstance(second, Started)

    # a stale token neither frees the running claim ...
    await store.abandon(SCOPE, "key-1", first.token)
    with pytest.raises(IdempotencyTimeout):
        await store.begin(SCOPE, "key-1", PRINT, wait=0.05)

    # ... nor undoes a completed one
    await store.complete(SCOPE, "key-1", second.token, RESULT)
    await store.abandon(SCOPE, "key-1", second.token)
    assert await store.begin(SCOPE, "key-1", PRINT) == Stored(RESULT)


async def test_completing_twice_keeps_the_first_result(backend: StateBackend) -> None:
    store = fast(backend)
    first = await store.begin(SCOPE, "key-1", PRINT)
    assert isinstance(first, Started)

    await store.complete(SCOPE, "key-1", first.token, RESULT)
    await store.complete(SCOPE, "key-1", first.token, {"orderId": "SO-OTHER"})

    assert await store.begin(SCOPE, "key-1", PRINT) == Stored(RESULT)


async def test_a_result_that_is_not_json_leaves_the_claim_held(backend: StateBackend) -> None:
    store = fast(backend)
    first = await store.begin(SCOPE, "key-1", PRINT)
    assert isinstance(first, Started)

    with pytest.raises(TypeError):
        await store.complete(SCOPE, "key-1", first.token, {"at": object()})

    with pytest.raises(IdempotencyTimeout):
        await store.begin(SCOPE, "key-1", PRINT, wait=0.05)
    await store.complete(SCOPE, "key-1", first.token, RESULT)
    assert await store.begin(SCOPE, "key-1", PRINT) == Stored(RESULT)


async def test_results_are_forgotten_after_their_ttl(backend: StateBackend) -> None:
    store = fast(backend, ttl=0.2)
    first = await store.begin(SCOPE, "key-1", PRINT)
    assert isinstance(first, Started)
    await store.complete(SCOPE, "key-1", first.token, RESULT)

    await asyncio.sleep(0.3)

    assert isinstance(await store.begin(SCOPE, "key-1", OTHER_PRINT), Started)


async def test_bad_scopes_and_tokens_are_refused(backend: StateBackend) -> None:
    store = fast(backend)

    with pytest.raises(ValueError, match="scope"):
        await store.begin("book:Order", "key-1", PRINT)
    with pytest.raises(ValueError, match="scope"):
        await store.begin("", "key-1", PRINT)
    with pytest.raises(ValueError, match="token"):
        await store.complete(SCOPE, "key-1", "made-up", RESULT)


async def test_extending_keeps_a_live_claim_past_its_running_ttl(replicas: OpenReplica) -> None:
    owner, other = fast(replicas(), running_ttl=0.2), fast(replicas(), running_ttl=0.2)
    # given a claim whose owner is alive and extends it
    first = await owner.begin(SCOPE, "key-1", PRINT)
    assert isinstance(first, Started)
    for _ in range(4):
        await asyncio.sleep(0.1)
        assert await owner.extend(SCOPE, "key-1", first.token)

    # then nobody else could take it over, though 0.4 s passed
    with pytest.raises(IdempotencyTimeout):
        await other.begin(SCOPE, "key-1", PRINT, wait=0.05)
    # and a token that does not hold the claim extends nothing
    assert not await other.extend(SCOPE, "key-1", "someone:else")
    await owner.complete(SCOPE, "key-1", first.token, RESULT)
    assert not await owner.extend(SCOPE, "key-1", first.token)
