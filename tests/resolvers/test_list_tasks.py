"""A page of customers loads its records and their lists through the loaders' futures, all
awaited together, and the list fields answer at once from what was loaded: no asyncio task per
customer (tasks cost more than the loading itself on a warm page)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.accord import AccordServer

PAGE = """{ customers(first: 100) { nodes { name credit { balance { amount } status }
  invoices(first: 5) { nodes { number } } } } }"""


async def _count_tasks(made: list[int], on: bool) -> None:
    loop = asyncio.get_running_loop()
    if not on:
        loop.set_task_factory(None)
        return

    def factory(loop: asyncio.AbstractEventLoop, coro: Any) -> asyncio.Future[Any]:
        made[0] += 1
        return asyncio.Task(coro, loop=loop)

    loop.set_task_factory(factory)


def test_a_page_of_customers_makes_no_task_per_customer(
    accord: AccordServer,
) -> None:
    # given a warm cache
    for _ in range(2):
        assert "errors" not in accord.graphql(PAGE)
    made = [0]
    accord.call(_count_tasks(made, True))
    try:
        # when the page is read again
        body = accord.graphql(PAGE)
    finally:
        accord.call(_count_tasks(made, False))

    customers = len(body["data"]["customers"]["nodes"])
    assert customers == 100
    # then neither the customers' records nor their invoice lists cost a task each: only
    # the request's own few remain
    assert made[0] <= 10, made[0]
