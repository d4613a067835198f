"""Subscriptions end to end: a change in an emulator reaches GraphQL subscribers.

Payments are posted straight into the NetSuite emulator (as an accountant would in the ERP);
Accord learns of them by signed webhook or by polling, normalises them into canonical events,
and streams them to subscribers over graphql-transport-ws (a real WebSocket client) and
server-sent events.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from api.auth import DEMO_KEYS
from bench.harness import AccordProcess
from sandbox.endpoints import Endpoints
from sandbox.world import World
from server import AppOptions, EventOptions
from tests.accord import AccordServer, Emulators
from tests.mutations.conftest import Deals

PAYMENTS = """subscription($customer: ID) { paymentReceived(customerId: $customer) {
  event { id type subject customerId source }
  payment { number amount { amount currency } applications { amount { amount } invoice { number } } }
  customer { credit { balance { amount currency } } }
} }"""
SECRET = "a-test-webhook-secret-0123456789abcdef"


@pytest.fixture
def deals(emulators: Emulators, world: World) -> Deals:
    return Deals(emulators, world)


def customer_with_invoice(deals: Deals, amount: int = 1000) -> tuple[str, str, str]:
    """(canonical customer id, ERP customer id, invoice id) of a fresh customer."""
    deal = deals.on_existing_customer()
    erp_id = deals.emulators.suiteql(
        f"SELECT id FROM customer WHERE externalid = '{deal.erp_key}'"
    )[0]["id"]
    invoice = deals.emulators.ns_create(
        "invoice",
        {
            "entity": {"id": erp_id},
            "item": {"items": [{"item": {"id": "106"}, "quantity": 1, "rate": amount}]},
        },
    )
    return f"cus:{deal.erp_key}", erp_id, invoice


def pay(emulators: Emulators, erp_id: str, invoice: str, amount: int) -> str:
    return emulators.ns_create(
        "customerpayment",
        {
            "customer": {"id": erp_id},
            "payment": amount,
            "apply": {"items": [{"doc": {"id": invoice}, "apply": True, "amount": amount}]},
        },
    )


async def ws_subscribe(url: str, query: str, variables: dict[str, Any], key: str) -> Any:
    """An open graphql-transport-ws connection with one subscription started."""
    socket = await websockets.connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
    )
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
    )
    ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert ack["type"] == "connection_ack", ack
    await socket.send(
        json.dumps(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
    )
    return socket


async def next_payload(socket: Any, wait: float = 15.0) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), wait))
        if message["type"] == "next":
            payload: dict[str, Any] = message["payload"]
            return payload
        assert message["type"] in ("ping", "pong"), message


async def test_a_payment_reaches_a_subscriber_on_another_replica(
    sandbox: Endpoints, redis_url: str, deals: Deals, emulators: Emulators, tmp_path: Path
) -> None:
    # given two Accord processes sharing one Redis, both on the sandbox's webhooks
    endpoints_file = tmp_path / "sandbox.json"
    sandbox.write(endpoints_file)
    env = {
        "ACCORD_REDIS_URL": redis_url,
        "ACCORD_REDIS_PREFIX": f"test:{uuid.uuid4().hex}:",
        "ACCORD_POLL_SECONDS": "0",
    }
    customer, erp_id, invoice = customer_with_invoice(deals)
    with AccordProcess(endpoints_file, env) as first, AccordProcess(endpoints_file, env) as second:
        socket = await ws_subscribe(second.url, PAYMENTS, {"customer": customer}, "demo-finance")
        try:
            # when a payment of 400 is posted in the ERP, talking to neither process
            payment = pay(emulators, erp_id, invoice, 400)

            # then the subscriber on the second process receives it, with the right payload
            data = (await next_payload(socket))["data"]["paymentReceived"]
        finally:
            await socket.close()
        assert data["event"]["type"] == "com.accord.payment.received"
        assert data["event"]["subject"] == f"pay:{payment}"
        assert data["event"]["customerId"] == customer
        assert data["payment"]["amount"] == {"amount": "400.00", "currency": "EUR"}
        assert data["payment"]["applications"][0]["amount"]["amount"] == "400.00"
        assert data["customer"]["credit"]["balance"]["amount"] == "600.00"
        # and the balance read afterwards, from the first process, is the new one
        async with httpx.AsyncClient(timeout=30) as client:
            reply = await client.post(
                f"{first.url}/graphql",
                json={
                    "query": "query($id: ID) { customer(id: $id) { credit { balance { amount } } } }",
                    "variables": {"id": customer},
                },
            )
        read = reply.json()
        assert read["data"]["customer"]["credit"]["balance"]["amount"] == "600.00"


@pytest.fixture
def polling_only(sandbox: Endpoints) -> Iterator[AccordServer]:
    """Accord with webhooks off (nothing registered with the sandbox) and a fast poller."""
    options = AppOptions(api_keys=DEMO_KEYS, events=EventOptions(poll_interval=0.3))
    with AccordServer(sandbox, options=options) as server:
        yield server


@pytest.fixture
def webhooks_and_polling(sandbox: Endpoints) -> Iterator[AccordServer]:
    options = AppOptions(
        api_keys=DEMO_KEYS,
        events=EventOptions(
            poll_interval=0.3,
            salesforce_secrets=(SECRET,),
            netsuite_secrets=(SECRET,),
            sandbox=sandbox,
        ),
    )
    with AccordServer(sandbox, options=options) as server:
        yield server


async def drain(socket: Any) -> None:
    """Read until the server closes the connection."""
    while True:
        await asyncio.wait_for(socket.recv(), 10)


async def collect(socket: Any, seconds: float) -> list[dict[str, Any]]:
    """Every payload that arrives within ``seconds``."""
    found: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            found.append(await next_payload(socket, wait=left))
        except TimeoutError:
            break
    return found


@pytest.mark.parametrize("server", ["polling_only", "webhooks_and_polling"])
async def test_every_change_reaches_subscribers_exactly_once(
    server: str, request: pytest.FixtureRequest, deals: Deals, emulators: Emulators
) -> None:
    accord: AccordServer = request.getfixturevalue(server)
    customer, erp_id, invoice = customer_with_invoice(deals, amount=900)
    await asyncio.sleep(1.0)  # the poller's first round remembers what exists as history
    socket = await ws_subscribe(accord.url, PAYMENTS, {"customer": customer}, "demo-ops")
    try:
        first = pay(emulators, erp_id, invoice, 300)
        second = pay(emulators, erp_id, invoice, 200)
        received = await collect(socket, seconds=4.0)
    finally:
        await socket.close()
    subjects = [p["data"]["paymentReceived"]["event"]["subject"] for p in received]
    assert sorted(subjects) == sorted([f"pay:{first}", f"pay:{second}"])


async def test_server_sent_events_and_subscription_rules(
    webhooks_and_polling: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    accord = webhooks_and_polling
    customer, erp_id, invoice = customer_with_invoice(deals, amount=500)
    query = """subscription($c: ID) { invoiceStatusChanged(customerId: $c) {
      previousStatus status invoice { number amountDue { amount } } } }"""
    async with httpx.AsyncClient(base_url=accord.url, timeout=30) as client:
        anonymous = await client.post(
            "/graphql/stream", json={"query": query, "variables": {"c": customer}}
        )
        refused = [line async for line in anonymous.aiter_lines() if line.startswith("data:")]
        async with client.stream(
            "POST",
            "/graphql/stream",
            json={"query": query, "variables": {"c": customer}},
            headers={"Authorization": "Bearer demo-sales", "Accept": "text/event-stream"},
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            await asyncio.sleep(0.3)
            pay(emulators, erp_id, invoice, 500)
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    event = json.loads(line[5:])["data"]["invoiceStatusChanged"]
                    break
    assert json.loads(refused[0][5:])["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert event["status"] == "PAID"
    assert Decimal(event["invoice"]["amountDue"]["amount"]) == 0


async def test_websocket_refuses_unknown_keys_and_closes_idle_connections(
    sandbox: Endpoints,
) -> None:
    from api.subscriptions import SubscriptionLimits

    options = AppOptions(
        api_keys=DEMO_KEYS, subscriptions=SubscriptionLimits(idle_timeout=1.0, max_subscriptions=1)
    )
    with AccordServer(sandbox, options=options) as accord:
        url = accord.url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(
            url, subprotocols=[Subprotocol("graphql-transport-ws")]
        ) as socket:
            await socket.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": "Bearer wrong"}}
                )
            )
            with pytest.raises(websockets.ConnectionClosed) as refused:
                await asyncio.wait_for(socket.recv(), 10)
        assert refused.value.rcvd is not None
        assert refused.value.rcvd.code == 4403

        socket = await ws_subscribe(accord.url, PAYMENTS, {"customer": None}, "demo-ops")
        await socket.send(
            json.dumps(
                {"id": "2", "type": "subscribe", "payload": {"query": PAYMENTS, "variables": {}}}
            )
        )
        over = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert over["type"] == "error"
        assert "limit" in over["payload"][0]["message"].lower()
        await socket.send(json.dumps({"id": "1", "type": "complete"}))
        with pytest.raises(websockets.ConnectionClosed) as idle:
            await drain(socket)
        assert idle.value.rcvd is not None
        assert idle.value.rcvd.code == 4408
