"""Events of Accord's own writes: each change reaches the bus once, with an id of its own.

The write path hands each record it changed to the normaliser at once; webhooks and pollers
catch what that misses (a source too slow to read back at that moment). Distinct changes get
distinct ids even within one second, so none is dropped as a duplicate.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest

from api.auth import DEMO_KEYS
from sandbox.endpoints import Endpoints
from server import AppOptions, EventOptions
from tests.accord import FAST_POLICY, AccordServer, Emulators
from tests.conftest import SandboxControl
from tests.events.test_subscriptions import collect, next_payload, ws_subscribe
from tests.mutations.conftest import Deals, key
from tests.mutations.test_customer_writes import HOLD, customer_pair
from tests.redis_keys import unique_prefix

CREDIT = """subscription($customer: ID) { creditStatusChanged(customerId: $customer) {
  event { id time } previousStatus status } }"""


@pytest.fixture
def quiet_accord(sandbox: Endpoints) -> Iterator[AccordServer]:
    """Accord with no webhooks and no pollers: its own writes are all it hears of."""
    options = AppOptions(api_keys=DEMO_KEYS, events=EventOptions(poll_interval=0))
    with AccordServer(sandbox, FAST_POLICY, options) as server:
        yield server


def hold(server: AccordServer, customer_id: str, setting: str) -> dict[str, Any]:
    inputs = {"idempotencyKey": key(), "customerId": customer_id, "hold": setting, "reason": "t"}
    body = server.graphql(HOLD, {"input": inputs}, key="demo-finance")
    payload: dict[str, Any] = body["data"]["setCreditHold"]
    assert payload["errors"] == [], payload
    return payload


async def test_a_hold_toggled_three_times_in_a_second_is_three_events_and_mirrored(
    quiet_accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # given a customer in good standing, and a subscriber to its credit standing
    customer_id, account_id, _ = customer_pair(deals)
    socket = await ws_subscribe(quiet_accord.url, CREDIT, {"customer": customer_id}, "demo-finance")
    try:
        # when finance puts it on hold, takes the hold off and puts it on again, at once
        started = time.monotonic()
        for setting in ("ON", "AUTO", "ON"):
            await asyncio.to_thread(hold, quiet_accord, customer_id, setting)
        toggled_in = time.monotonic() - started

        # then the subscriber receives three changes, each with an id of its own
        events = [(await next_payload(socket))["data"]["creditStatusChanged"] for _ in range(3)]
    finally:
        await socket.close()
    assert [(e["previousStatus"], e["status"]) for e in events] == [
        ("GOOD_STANDING", "ON_HOLD"),
        ("ON_HOLD", "GOOD_STANDING"),
        ("GOOD_STANDING", "ON_HOLD"),
    ], f"toggled in {toggled_in:.2f} s"
    assert len({e["event"]["id"] for e in events}) == 3

    # and the Salesforce account ends up mirroring the last one
    deadline = time.monotonic() + 10
    while emulators.sf_get("Account", account_id)["Credit_Status__c"] != "On Hold":
        assert time.monotonic() < deadline, "the mirror never showed the hold"
        await asyncio.sleep(0.1)


PAYMENT_EVENTS = """subscription($customer: ID) { paymentReceived(customerId: $customer) {
  event { id subject } } }"""
PAY_MIN = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  errors { code } payment { id } } }"""
SECRET = "write-path-events-secret-0123456789abcdef"


@pytest.fixture
def replicas(sandbox: Endpoints, redis_url: str) -> Iterator[tuple[AccordServer, AccordServer]]:
    """Two replicas on one Redis, both taking the sandbox's webhooks, with no poller (the
    webhooks' retries are all there is besides the write path), and breakers that open after
    three failures."""
    options = AppOptions(
        api_keys=DEMO_KEYS,
        redis_url=redis_url,
        state_prefix=unique_prefix(),
        events=EventOptions(
            poll_interval=0,
            salesforce_secrets=(SECRET,),
            erp_secrets=(SECRET,),
            sandbox=sandbox,
        ),
    )
    policy = dataclasses.replace(FAST_POLICY, failure_threshold=3, recovery_time=5.0)
    with (
        AccordServer(sandbox, policy, options) as first,
        AccordServer(sandbox, policy, options) as second,
    ):
        yield first, second


def record(server: AccordServer, inputs: dict[str, Any]) -> str:
    """Send one payment, again with its key while the answer is an upstream failure (as a
    client does); the posted payment's id."""
    deadline = time.monotonic() + 60
    while True:
        body = server.graphql(PAY_MIN, {"input": inputs}, key="demo-finance")
        payload = body.get("data", {}).get("recordPayment") if body.get("data") else None
        if payload and payload["payment"]:
            return str(payload["payment"]["id"])
        assert time.monotonic() < deadline, body
        time.sleep(0.5)


async def test_every_payment_posted_through_slow_and_failing_sources_reaches_every_subscriber(
    replicas: tuple[AccordServer, AccordServer],
    deals: Deals,
    emulators: Emulators,
    ns_control: SandboxControl,
) -> None:
    # given a customer with six open invoices, and a subscriber on each of two replicas
    customer_id, _, erp_id = customer_pair(deals)
    invoices = [
        emulators.ns_create(
            "invoice",
            {
                "entity": {"id": erp_id},
                "item": {"items": [{"item": {"id": "106"}, "quantity": 1, "rate": 100}]},
            },
        )
        for _ in range(6)
    ]
    sockets = [
        await ws_subscribe(r.url, PAYMENT_EVENTS, {"customer": customer_id}, "demo-finance")
        for r in replicas
    ]

    def inputs(invoice: str) -> dict[str, Any]:
        return {
            "idempotencyKey": key(),
            "customerId": customer_id,
            "amount": "100.00",
            "currency": "EUR",
            "applications": [{"invoiceId": f"inv:{invoice}", "amount": "100.00"}],
        }

    try:
        # when payments are recorded through both replicas while NetSuite's queries are
        # slow (2 s), then slower than Accord waits (3.5 s: the read-back after each post
        # times out), then failing half the time, and finally well again
        async def faults() -> None:
            for fault in (
                {"latency_ms": 2000},
                {"latency_ms": 3500},
                {"error_rate": 0.5, "error_status": 503},
            ):
                ns_control.fault(pattern="/services/rest/query/v1/suiteql*", **fault)
                await asyncio.sleep(3.0)
                ns_control.fault(clear=True)

        window = asyncio.create_task(faults())
        posted = await asyncio.gather(
            *(
                asyncio.to_thread(record, replicas[n % 2], inputs(invoice))
                for n, invoice in enumerate(invoices)
            )
        )
        await window

        # then NetSuite holds each payment once...
        in_erp = emulators.suiteql(
            f"SELECT id FROM transaction WHERE type = 'CustPymt' AND entity = {erp_id}"
        )
        assert sorted(f"pay:{row['id']}" for row in in_erp) == sorted(posted)
        # ...and every subscriber receives each payment's event, exactly once
        for socket in sockets:
            received: list[str] = []
            deadline = asyncio.get_running_loop().time() + 45
            while sorted(set(received)) != sorted(posted):
                left = deadline - asyncio.get_running_loop().time()
                try:
                    payload = await next_payload(socket, wait=max(left, 0.01))
                except TimeoutError:
                    pytest.fail(f"never received {sorted(set(posted) - set(received))}")
                received.append(payload["data"]["paymentReceived"]["event"]["subject"])
            extra = await collect(socket, seconds=1.0)
            assert len(received) == len(posted), f"duplicates: {received}"
            assert extra == []
    finally:
        for socket in sockets:
            await socket.close()
