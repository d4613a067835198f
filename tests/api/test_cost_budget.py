"""Callers' cost budgets (`api.budget.CostBudget`) kept in a real Redis and in the embedded
backend: leases of a shared budget, exact counting of the embedded one, and never more spent
than the budget across replicas."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator

import pytest

from api.budget import LEASE_PARTS, BudgetExceeded, CostBudget
from state.backend import StateBackend, open_backend
from tests.redis_keys import unique_prefix

NOW = 120.0 * 60 + 5  # five seconds into a minute


def clock() -> float:
    return NOW


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[StateBackend]:
    backend = open_backend(redis_url, prefix=unique_prefix())
    yield backend
    await backend.close()


async def shared_count(backend: StateBackend, caller: str) -> int:
    return int(await backend.get(f"budget:{caller}:{int(NOW // 60)}") or 0)


async def test_a_replica_asks_redis_once_per_lease_not_per_operation(
    redis: StateBackend,
) -> None:
    budget = CostBudget(redis, 5000, clock=clock)
    lease = 5000 // LEASE_PARTS

    charges = [await budget.charge("portal", 12) for _ in range(8)]

    assert await shared_count(redis, "portal") == lease  # one lease of 100 covers 96
    assert [charge.remaining for charge in charges if charge] == [
        5000 - 12 * n for n in range(1, 9)
    ]
    assert all(charge and charge.resets_in == 55 for charge in charges)
    await budget.charge("portal", 12)  # 108 > 100: a second lease
    assert await shared_count(redis, "portal") == 2 * lease


async def test_replicas_together_never_spend_more_than_the_budget(redis: StateBackend) -> None:
    replicas = [CostBudget(redis, 3000, clock=clock) for _ in range(3)]
    rng = random.Random(7)
    spent = 0
    refusals: list[BudgetExceeded] = []
    for _ in range(2000):
        cost = rng.choice([1, 12, 41, 101])
        try:
            if await rng.choice(replicas).charge("portal", cost):
                spent += cost
        except BudgetExceeded as exc:
            refusals.append(exc)
    assert refusals
    assert {refusal.retry_after for refusal in refusals} == {55}
    assert spent <= 3000
    # what is left unspent is at most one lease per replica (and the last refused cost)
    assert spent >= 3000 - 3 * (3000 // LEASE_PARTS) - 101
    assert await shared_count(redis, "portal") <= 3000


async def test_an_operation_larger_than_a_lease_is_charged_whole(redis: StateBackend) -> None:
    budget = CostBudget(redis, 150, clock=clock)
    first = await budget.charge("ops", 101)
    with pytest.raises(BudgetExceeded):
        await budget.charge("ops", 101)
    small = await budget.charge("ops", 40)  # what the refusal took back still fits

    assert first is not None
    assert first.remaining == 49
    assert small is not None
    assert small.remaining == 9
    assert await shared_count(redis, "ops") <= 150


async def test_another_replica_sees_what_the_first_leased(redis: StateBackend) -> None:
    first, second = CostBudget(redis, 150, clock=clock), CostBudget(redis, 150, clock=clock)
    await first.charge("ops", 101)
    with pytest.raises(BudgetExceeded):
        await second.charge("ops", 101)


async def test_a_new_minute_starts_a_new_lease(redis: StateBackend) -> None:
    now = [NOW]
    budget = CostBudget(redis, 5000, clock=lambda: now[0])
    await budget.charge("portal", 12)
    now[0] += 60
    charge = await budget.charge("portal", 12)
    assert charge is not None
    assert charge.remaining == 5000 - 12


async def test_the_embedded_backend_counts_every_operation() -> None:
    backend = open_backend(None, prefix=unique_prefix())
    budget = CostBudget(backend, 5000, clock=clock)
    for _ in range(3):
        await budget.charge("portal", 12)
    assert await shared_count(backend, "portal") == 36


async def test_a_burst_of_operations_takes_one_lease_not_the_whole_budget(
    redis: StateBackend,
) -> None:
    first, second = CostBudget(redis, 5000, clock=clock), CostBudget(redis, 5000, clock=clock)

    charges = await asyncio.gather(*(first.charge("portal", 1) for _ in range(60)))
    other = await second.charge("portal", 12)

    assert all(charge is not None for charge in charges)
    assert await shared_count(redis, "portal") == 2 * (5000 // LEASE_PARTS)
    assert other is not None


async def test_an_unreachable_backend_serves_the_burst_uncharged() -> None:
    backend = open_backend("redis://127.0.0.1:1/0", prefix=unique_prefix(), timeout=0.5)
    budget = CostBudget(backend, 5000, clock=clock)
    charges = await asyncio.gather(*(budget.charge("portal", 12) for _ in range(5)))
    await backend.close()
    assert charges == [None] * 5


@pytest.mark.parametrize("shared", [True, False])
def test_operations_arriving_while_a_lease_is_asked_for_all_complete(
    shared: bool, redis_url: str
) -> None:
    # run on a thread of its own: an event loop that spun instead of waiting would never
    # let a timeout on itself fire
    charges: list[object] = []

    async def burst() -> None:
        backend = open_backend(redis_url if shared else None, prefix=unique_prefix())
        budget = CostBudget(backend, 5000, clock=clock)

        async def later(turns: int) -> object:
            for _ in range(turns):
                await asyncio.sleep(0)
            return await budget.charge("portal", 12)

        try:
            charges.extend(await asyncio.gather(*(later(n % 7) for n in range(300))))
        finally:
            await backend.close()

    thread = threading.Thread(target=asyncio.run, args=(burst(),), daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the charges never completed"
    assert len(charges) == 300
    assert all(charge is not None for charge in charges)
