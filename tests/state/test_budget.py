"""The concurrency budget shared by replicas through Redis: never more holders than its limit."""

from __future__ import annotations

import asyncio

from state.budget import RedisBudget
from tests.redis_keys import unique_prefix
from tests.redis_server import RedisServer


async def most_at_once(budgets: list[RedisBudget], requests: int) -> int:
    """Send ``requests`` at once through each budget, each holding its slot 20 ms; the most
    that held a slot at the same time."""
    holding = peak = 0

    async def request(budget: RedisBudget) -> None:
        nonlocal holding, peak
        async with budget.slot():
            holding += 1
            peak = max(peak, holding)
            await asyncio.sleep(0.02)
            holding -= 1

    try:
        await asyncio.gather(*(request(b) for b in budgets for _ in range(requests)))
    finally:
        for budget in budgets:
            await budget.close()
    return peak


async def test_two_replicas_budgets_never_hold_more_slots_than_the_limit(redis_url: str) -> None:
    # given two processes' views of one budget of 3 slots
    prefix = unique_prefix()
    budgets = [RedisBudget(redis_url, "netsuite", 3, prefix=prefix) for _ in range(2)]

    # when each sends 20 requests at once, all go through, never more than 3 at a time
    assert await most_at_once(budgets, 20) == 3


async def test_a_slot_never_given_back_lapses_after_its_hold(redis_url: str) -> None:
    # given a budget of one slot whose holder died holding it
    budget = RedisBudget(redis_url, "netsuite", 1, prefix=unique_prefix(), hold=0.3)
    try:
        await budget._claim("a-replica-that-died")

        # when another request wants the slot, it gets it once the dead claim lapsed
        started = asyncio.get_running_loop().time()
        async with budget.slot():
            waited = asyncio.get_running_loop().time() - started
    finally:
        await budget.close()
    assert 0.2 <= waited < 2.0


async def test_without_redis_the_budget_counts_this_process_only(own_redis: RedisServer) -> None:
    # given a budget whose Redis has gone away
    budget = RedisBudget(own_redis.url, "netsuite", 2, prefix=unique_prefix(), timeout=0.3)
    own_redis.stop()

    # when requests need slots, they still go through, two at a time
    assert await most_at_once([budget], 6) == 2
