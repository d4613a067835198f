"""Races between replicas on one Redis: bookings of one opportunity under different keys,
actions on one workflow at the same moment, and a runner whose step outlasts its lease.

Each race must end with one winner, typed answers for the others (never an internal error),
and the ERP holding what the winner says.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from api.auth import DEMO_KEYS
from mutations.workflow import EngineSettings
from sandbox.endpoints import Endpoints
from server import AppOptions
from state.redis_backend import RedisBackend
from tests.accord import FAST_POLICY, AccordServer, Emulators
from tests.conftest import SandboxControl
from tests.mutations.conftest import ACT, BOOK, Deals, act, book, erp_orders_for, key
from tests.redis_keys import unique_prefix


@contextlib.contextmanager
def replica_pair(
    sandbox: Endpoints, redis_url: str, engine: EngineSettings, prefix: str | None = None
) -> Iterator[tuple[AccordServer, AccordServer]]:
    options = AppOptions(
        redis_url=redis_url,
        state_prefix=prefix or unique_prefix(),
        api_keys=DEMO_KEYS,
        engine=engine,
    )
    with (
        AccordServer(sandbox, options=options) as one,
        AccordServer(sandbox, options=options) as two,
    ):
        yield one, two


@pytest.fixture
def replicas(sandbox: Endpoints, redis_url: str) -> Iterator[tuple[AccordServer, AccordServer]]:
    with replica_pair(
        sandbox, redis_url, EngineSettings(step_backoff=0.01, step_backoff_max=0.02, retry_for=0.0)
    ) as pair:
        yield pair


@pytest.fixture
def short_leases(sandbox: Endpoints, redis_url: str) -> Iterator[tuple[AccordServer, AccordServer]]:
    """Replicas whose workflow leases lapse after 1 s, recovering every 0.1 s."""
    engine = EngineSettings(
        lease_ttl=1.0, recover_every=0.1, step_backoff=0.01, step_backoff_max=0.02, retry_for=0.0
    )
    with replica_pair(sandbox, redis_url, engine) as pair:
        yield pair


def raw_book(server: AccordServer, opportunity_id: str, idem: str) -> dict[str, Any]:
    return server.graphql(
        BOOK,
        {"input": {"idempotencyKey": idem, "opportunityId": opportunity_id}},
        key="demo-sales",
    )


def raw_act(server: AccordServer, action: str, workflow_id: str, role: str) -> dict[str, Any]:
    return server.graphql(
        ACT % action,
        {"input": {"idempotencyKey": key(), "id": workflow_id}},
        key=f"demo-{role}",
    )


def test_concurrent_bookings_under_different_keys_start_one_workflow(
    replicas: tuple[AccordServer, AccordServer], deals: Deals, emulators: Emulators
) -> None:
    # given a new customer's deal whose first booking was cancelled
    one, two = replicas
    account = deals.new_account()
    deal = deals.deal(account, currency="EUR")
    first = book(one, deal.opportunity_id, key())["workflow"]
    assert act(two, "cancelWorkflow", first["id"], role="ops")["workflow"]["status"] == (
        "CANCELLED"
    )

    # when twenty bookings with twenty keys race on both replicas
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(
            pool.map(
                lambda n: raw_book(one if n % 2 else two, deal.opportunity_id, key()), range(20)
            )
        )

    # then every answer is typed, and they all name one and the same new workflow
    assert all("errors" not in answer for answer in answers), answers
    payloads = [answer["data"]["bookOrder"] for answer in answers]
    started = {p["workflow"]["id"] for p in payloads if p["workflow"] is not None}
    assert len(started) == 1, payloads
    assert first["id"] not in started
    assert sorted({e["code"] for p in payloads for e in p["errors"]}) in (
        [],
        ["BOOKING_IN_PROGRESS"],
    )


def test_a_claim_whose_workflow_is_not_stored_yet_is_not_taken_over(
    sandbox: Endpoints, redis_url: str, deals: Deals
) -> None:
    # given an opportunity just claimed by a booking that has not stored its workflow yet
    # (its claim lapses after a grace period, should its process have died)
    prefix = unique_prefix()
    deal = deals.deal(deals.new_account(), currency="EUR")
    claim = f"booking:{deal.opportunity_id}"
    grace = 5.0

    async def claim_for_a_while() -> None:
        state = RedisBackend(redis_url, prefix=prefix)
        await state.set(claim, "wf:being-created", ttl=grace)
        await state.close()

    async def claim_lapsed() -> bool:
        state = RedisBackend(redis_url, prefix=prefix)
        try:
            return await state.get(claim) is None
        finally:
            await state.close()

    engine = EngineSettings(step_backoff=0.01, step_backoff_max=0.02, retry_for=0.0)
    with replica_pair(sandbox, redis_url, engine, prefix) as (one, two):
        # (claimed once both replicas are up, so that the claim holds while they answer)
        asyncio.run(claim_for_a_while())

        # when ten bookings with ten keys come in meanwhile
        with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(
                pool.map(
                    lambda n: raw_book(one if n % 2 else two, deal.opportunity_id, key()),
                    range(10),
                )
            )
        held = not asyncio.run(claim_lapsed())

        # then none goes ahead while the claim holds, and none of those answers is kept
        assert held, "the claim lapsed before the bookings were answered: the test proves nothing"
        payloads = [answer["data"]["bookOrder"] for answer in answers]
        assert [p["workflow"] for p in payloads] == [None] * 10
        assert {e["code"] for p in payloads for e in p["errors"]} == {"BOOKING_IN_PROGRESS"}
        # and once the claim lapses, a booking goes ahead
        deadline = time.monotonic() + grace + 5.0
        while not asyncio.run(claim_lapsed()):
            assert time.monotonic() < deadline, "the claim never lapsed"
            time.sleep(0.2)
        later = raw_book(one, deal.opportunity_id, key())["data"]["bookOrder"]
        assert later["workflow"]["status"] == "PENDING_APPROVAL"


def test_approve_and_cancel_at_once_have_one_winner(
    replicas: tuple[AccordServer, AccordServer], deals: Deals, emulators: Emulators
) -> None:
    one, two = replicas
    account = deals.new_account()
    pending = [
        book(one, deals.deal(account, currency="EUR").opportunity_id, key())["workflow"]
        for _ in range(3)
    ]
    assert {p["status"] for p in pending} == {"PENDING_APPROVAL"}

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        races = [
            (
                pool.submit(raw_act, one, "approveWorkflow", p["id"], "finance"),
                pool.submit(raw_act, two, "cancelWorkflow", p["id"], "ops"),
            )
            for p in pending
        ]
        results = [(a.result(), c.result()) for a, c in races]

    for approved, cancelled in results:
        assert "errors" not in approved, approved
        assert "errors" not in cancelled, cancelled
        codes = (
            [e["code"] for e in approved["data"]["approveWorkflow"]["errors"]],
            [e["code"] for e in cancelled["data"]["cancelWorkflow"]["errors"]],
        )
        assert codes in (([], ["INVALID_STATE"]), (["INVALID_STATE"], [])), codes


def test_two_retries_at_once_run_the_workflow_once(
    replicas: tuple[AccordServer, AccordServer],
    deals: Deals,
    emulators: Emulators,
    sf_control: SandboxControl,
) -> None:
    one, two = replicas
    deal = deals.on_existing_customer()
    sf_control.fault(pattern="/services/data/v59.0/composite/*", outage=True)
    stopped = book(one, deal.opportunity_id, key())["workflow"]
    sf_control.fault(clear=True)
    time.sleep(FAST_POLICY.recovery_time + 0.1)  # the outage opened the breaker for a while
    assert stopped["status"] == "EXCEPTION"

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(raw_act, one, "retryWorkflow", stopped["id"], "ops")
        second = pool.submit(raw_act, two, "retryWorkflow", stopped["id"], "ops")
        answers = [first.result(), second.result()]

    assert all("errors" not in answer for answer in answers), answers
    codes = sorted(
        tuple(e["code"] for e in answer["data"]["retryWorkflow"]["errors"]) for answer in answers
    )
    assert codes == [(), ("INVALID_STATE",)]
    done = one.graphql(
        "query($id: ID!) { workflow(id: $id) { status generation } }",
        {"id": stopped["id"]},
        key="demo-ops",
    )["data"]["workflow"]
    assert done == {"status": "COMPLETED", "generation": 1}
    assert len(erp_orders_for(emulators, deal.opportunity_id)) == 1


def test_a_step_longer_than_the_lease_keeps_its_runner(
    short_leases: tuple[AccordServer, AccordServer],
    deals: Deals,
    emulators: Emulators,
    ns_control: SandboxControl,
) -> None:
    # given an ERP that takes 2.5 s to post an order, and leases of 1 s
    one, _recovering = short_leases
    deal = deals.on_existing_customer()
    ns_control.fault(pattern="/services/rest/record/v1/salesOrder", latency_ms=2500)

    # when one replica books it while the other looks for workflows to recover
    answer = raw_book(one, deal.opportunity_id, key())
    ns_control.fault(clear=True)

    # then the runner kept its workflow: it answers the completed booking, and the order
    # was posted by one runner only
    assert "errors" not in answer, answer
    workflow = answer["data"]["bookOrder"]["workflow"]
    assert workflow["status"] == "COMPLETED"
    assert len(erp_orders_for(emulators, deal.opportunity_id)) == 1
    trail = one.graphql(
        "query($id: ID!) { auditTrail(first: 50, workflowId: $id) { nodes { action outcome } } }",
        {"id": workflow["id"]},
        key="demo-ops",
    )["data"]["auditTrail"]["nodes"]
    posted = [
        n
        for n in trail
        if n["action"] == "BOOK_ORDER.create_sales_order" and n["outcome"] == "applied"
    ]
    assert len(posted) == 1, trail
