"""Writes while the state backend (Redis) is down, and after it comes back.

A write that needs the state backend answers STATE_UNAVAILABLE (retryable) while Redis is
down, posts nothing, and works again once Redis is back, without a restart. A payment posted
just before Redis went away is applied once: sent again with its key, it is found, not
posted a second time, whether Redis kept its records or came back empty.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from api.auth import DEMO_KEYS
from sandbox.endpoints import Endpoints
from server import AppOptions
from tests.accord import FAST_POLICY, AccordServer, Emulators
from tests.conftest import SandboxControl
from tests.mutations.conftest import BOOK, Deals, key
from tests.mutations.test_customer_writes import HOLD, PAY, customer_pair
from tests.redis_keys import unique_prefix
from tests.redis_server import RedisServer

UNAVAILABLE = {"code": "STATE_UNAVAILABLE", "retryable": True}


def accord_on(sandbox: Endpoints, redis: RedisServer) -> AccordServer:
    """Accord with its state on ``redis``, a 0.3 s Redis timeout, and 1 s claims."""
    options = AppOptions(
        api_keys=DEMO_KEYS,
        redis_url=redis.url,
        state_prefix=unique_prefix(),
        redis_timeout=0.3,
        idempotency_claim=1.0,
    )
    return AccordServer(sandbox, FAST_POLICY, options)


@pytest.fixture
def on_own_redis(sandbox: Endpoints, own_redis: RedisServer) -> Iterator[AccordServer]:
    with accord_on(sandbox, own_redis) as server:
        yield server


def post(server: AccordServer, query: str, variables: dict[str, Any], role: str) -> Any:
    return server.graphql(query, variables, key=f"demo-{role}")


def test_writes_answer_state_unavailable_while_redis_is_down_and_work_once_it_is_back(
    on_own_redis: AccordServer, own_redis: RedisServer, deals: Deals, emulators: Emulators
) -> None:
    # given a customer with a deal, and Redis gone
    customer_id, _, erp_id = customer_pair(deals)
    deal = deals.on_existing_customer()
    own_redis.stop()

    # when writes and workflow reads are asked for
    hold = {"idempotencyKey": key(), "customerId": customer_id, "hold": "ON", "reason": "test"}
    booking = {"idempotencyKey": key(), "opportunityId": deal.opportunity_id}
    answers = [
        post(on_own_redis, HOLD, {"input": hold}, "finance"),
        post(on_own_redis, BOOK, {"input": booking}, "sales"),
        post(on_own_redis, "{ workflows(first: 5) { nodes { id } } }", {}, "ops"),
    ]

    # then each is a typed, retryable error, never an internal one, and nothing is posted
    for answer in answers:
        assert [e["extensions"] for e in answer["errors"]] == [UNAVAILABLE], answer
        assert "Internal" not in answer["errors"][0]["message"]
    hold_now = emulators.suiteql(f"SELECT creditholdoverride FROM customer WHERE id = {erp_id}")
    assert hold_now[0]["creditholdoverride"] != "ON"
    assert (
        emulators.suiteql(f"SELECT id FROM transaction WHERE externalid = '{deal.opportunity_id}'")
        == []
    )

    # and a read of the sources does not need Redis: it still answers
    read = on_own_redis.graphql(
        "query($id: ID!) { customer(id: $id) { name credit { status } } }", {"id": customer_id}
    )
    assert "errors" not in read
    assert read["data"]["customer"]["name"]

    # when Redis is back, the same requests go through (no restart)
    own_redis.start()
    held = post(on_own_redis, HOLD, {"input": hold}, "finance")["data"]["setCreditHold"]
    assert held["errors"] == []
    booked = post(on_own_redis, BOOK, {"input": booking}, "sales")["data"]["bookOrder"]
    assert booked["workflow"]["status"] == "COMPLETED", booked


@pytest.mark.parametrize("persistence", [False, True], ids=["redis-comes-back-empty", "kept"])
def test_a_payment_posted_as_redis_went_away_is_applied_once(
    persistence: bool,
    sandbox: Endpoints,
    tmp_path: Path,
    deals: Deals,
    emulators: Emulators,
    ns_control: SandboxControl,
) -> None:
    with (
        RedisServer(tmp_path, persistence=persistence) as redis,
        accord_on(sandbox, redis) as server,
    ):
        # given an invoice of 1,000.00, and a payment of all of it whose answer is slow
        customer_id, _, erp_id = customer_pair(deals)
        invoice = emulators.ns_create(
            "invoice",
            {
                "entity": {"id": erp_id},
                "item": {"items": [{"item": {"id": "106"}, "quantity": 1, "rate": 1000}]},
            },
        )
        inputs = {
            "idempotencyKey": key(),
            "customerId": customer_id,
            "amount": "1000.00",
            "currency": "EUR",
            "applications": [{"invoiceId": f"inv:{invoice}", "amount": "1000.00"}],
        }
        ns_control.fault(
            pattern="/services/rest/record/v1/customerPayment*", latency_ms=1500, late_answer=True
        )

        def payments() -> list[dict[str, Any]]:
            return emulators.suiteql(
                f"SELECT id FROM transaction WHERE type = 'CustPymt' AND entity = {erp_id}"
            )

        # when Redis goes away once NetSuite has taken the payment, before Accord hears back
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(post, server, PAY, {"input": inputs}, "finance")
            deadline = time.monotonic() + 10
            while not payments():
                assert time.monotonic() < deadline, "the payment never reached NetSuite"
                time.sleep(0.02)
            redis.stop()
            answer = first.result(timeout=30)

        # then the payment's answer is a retryable outage, not a result
        assert [e["extensions"] for e in answer["errors"]] == [UNAVAILABLE], answer

        # when Redis is back and the client sends the payment again with its key
        ns_control.fault(clear=True)
        redis.start()
        again = post(server, PAY, {"input": inputs}, "finance")["data"]["recordPayment"]

        # then it is the payment posted the first time: one payment, the invoice paid once
        assert again["errors"] == []
        assert [p["id"] for p in payments()] == [again["payment"]["id"].removeprefix("pay:")]
        assert again["payment"]["applications"][0]["invoice"]["amountDue"]["amount"] == "0.00"
