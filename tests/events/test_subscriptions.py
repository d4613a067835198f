"""Subscriptions end to end: a change in an emulator reaches GraphQL subscribers.

Payments are posted straight into the NetSuite emulator (as an accountant would in the ERP);
Accord learns of them by signed webhook or by polling, normalises them into canonical events,
and streams them to subscribers over graphql-transport-ws (a real WebSocket client) and
server-sent events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from api.auth import DEMO_KEYS
from api.subscriptions import SubscriptionServer
from bench.harness import AccordProcess
from domain.caller import ANONYMOUS
from events.bus import Bus, MemoryBus, RedisBus
from events.pollers import feed_poller
from resolvers.context import AccordContext
from sandbox.endpoints import Endpoints
from server import AppOptions, EventOptions
from tests.accord import AccordServer, Emulators
from tests.conftest import SandboxControl
from tests.mutations.conftest import Deals
from tests.redis_keys import unique_prefix

PAYMENTS = """subscription($customer: ID) { paymentReceived(customerId: $customer) {
  event { id type subject customerId source }
  payment { number amount { amount currency } applications { amount { amount } invoice { number } } }
  customer { credit { balance { amount currency } } }
} }"""
SECRET = "a-test-webhook-secret-0123456789abcdef"


def customer_with_invoice(deals: Deals, amount: int = 1000) -> tuple[str, str, str]:
    """(canonical customer id, ERP customer id, invoice id) of a fresh customer."""
    return deals.customer_with_invoice(amount)


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
    """The next result the server sends, within ``wait`` seconds in all (keep-alive pings do not
    extend it)."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"no result within {wait} s"
        message = json.loads(await asyncio.wait_for(socket.recv(), left))
        if message["type"] == "next":
            payload: dict[str, Any] = message["payload"]
            return payload
        assert message["type"] in ("ping", "pong"), message


@pytest.mark.parametrize("replicas", ["processes", "workers"])
async def test_a_payment_reaches_a_subscriber_on_another_replica(
    replicas: str,
    sandbox: Endpoints,
    redis_url: str,
    deals: Deals,
    emulators: Emulators,
    tmp_path: Path,
) -> None:
    # given two Accord processes sharing one Redis, both on the sandbox's webhooks (or one
    # with two worker processes on one port, the webhook reaching either of them)
    endpoints_file = tmp_path / "sandbox.json"
    sandbox.write(endpoints_file)
    env = {
        "ACCORD_REDIS_URL": redis_url,
        "ACCORD_REDIS_PREFIX": unique_prefix(),
        "ACCORD_POLL_SECONDS": "0",
    }
    customer, erp_id, invoice = customer_with_invoice(deals)
    with contextlib.ExitStack() as stack:
        if replicas == "workers":
            first = second = stack.enter_context(AccordProcess(endpoints_file, env, workers=2))
            assert len(first.worker_pids()) == 2
            subscribers = 4  # on connections of their own: the kernel spreads them
        else:
            first = stack.enter_context(AccordProcess(endpoints_file, env))
            second = stack.enter_context(AccordProcess(endpoints_file, env))
            subscribers = 1
        sockets = [
            await ws_subscribe(second.url, PAYMENTS, {"customer": customer}, "demo-finance")
            for _ in range(subscribers)
        ]
        try:
            # when a payment of 400 is posted in the ERP, talking to neither process
            payment = pay(emulators, erp_id, invoice, 400)

            # then every subscriber receives it, with the right payload
            received = [
                (await next_payload(socket))["data"]["paymentReceived"] for socket in sockets
            ]
        finally:
            for socket in sockets:
                await socket.close()
        for data in received:
            assert data["event"]["type"] == "com.accord.payment.received"
            assert data["event"]["subject"] == f"pay:{payment}"
            assert data["event"]["customerId"] == customer
            assert data["payment"]["amount"] == {"amount": "400.00", "currency": "EUR"}
            assert data["payment"]["applications"][0]["amount"]["amount"] == "400.00"
            assert data["customer"]["credit"]["balance"]["amount"] == "600.00"
        # and the balance read afterwards, from the first process, is the new one
        async with httpx.AsyncClient(timeout=30) as client:
            for _ in range(subscribers):
                reply = await client.post(
                    f"{first.url}/graphql",
                    json={
                        "query": "query($id: ID) { customer(id: $id) { credit { balance { amount } } } }",
                        "variables": {"id": customer},
                    },
                    headers={"Authorization": "Bearer demo-finance", "Connection": "close"},
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
            erp_secrets=(SECRET,),
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
    await polled_once(accord)  # the poller's first round remembers what exists as history
    subscribers = subscribers_now(accord)
    socket = await ws_subscribe(accord.url, PAYMENTS, {"customer": customer}, "demo-ops")
    await subscribed(accord, subscribers + 1)
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
    subscribers = subscribers_now(accord)
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
            await subscribed(accord, subscribers + 1)
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


async def first_message(socket: Any, wait: float) -> dict[str, Any] | None:
    """The first message that is not a ping or pong within ``wait`` seconds; None if none."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while (left := deadline - loop.time()) > 0:
        try:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), left))
        except TimeoutError:
            return None
        if message["type"] not in ("ping", "pong"):
            return message
    return None


async def test_a_customer_filter_that_cannot_be_resolved_is_an_error_not_a_silent_stream(
    webhooks_and_polling: AccordServer, deals: Deals, ns_control: SandboxControl
) -> None:
    # given a customer with a cross-reference key (events name it by the key), and the ERP down
    accord = webhooks_and_polling
    _, erp_id, _ = customer_with_invoice(deals, amount=700)
    ns_control.fault(pattern="/services/rest/*", outage=True)

    # when a client subscribes to its payments naming it by its ERP id
    socket = await ws_subscribe(accord.url, PAYMENTS, {"customer": f"cus:erp:{erp_id}"}, "demo-ops")
    try:
        answer = await first_message(socket, wait=10.0)
    finally:
        await socket.close()

    # then it is told the ERP failed, rather than left waiting under a filter no event matches
    assert answer is not None
    assert answer["type"] == "next"
    assert answer["payload"]["data"] is None
    assert answer["payload"]["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"


async def test_a_customer_named_by_its_salesforce_or_erp_id_gets_its_events(
    webhooks_and_polling: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    # given a customer both systems know, watched under its ERP id and its 15-character
    # Salesforce id (events name it by its cross-reference key)
    accord = webhooks_and_polling
    deal = deals.on_existing_customer()
    erp_id = emulators.suiteql(f"SELECT id FROM customer WHERE externalid = '{deal.erp_key}'")[0][
        "id"
    ]
    invoice = emulators.ns_create(
        "invoice",
        {
            "entity": {"id": erp_id},
            "item": {"items": [{"item": {"id": "106"}, "quantity": 1, "rate": 300}]},
        },
    )
    names = [f"cus:erp:{erp_id}", f"cus:sf:{deal.account_id[:15]}"]
    subscribers = subscribers_now(accord)
    sockets = [
        await ws_subscribe(accord.url, PAYMENTS, {"customer": name}, "demo-finance")
        for name in names
    ]
    try:
        # when the customer pays
        await subscribed(accord, subscribers + 2)
        payment = pay(emulators, erp_id, invoice, 300)

        # then both subscribers receive the payment
        received = [await next_payload(socket) for socket in sockets]
    finally:
        for socket in sockets:
            await socket.close()
    for payload in received:
        assert payload["data"]["paymentReceived"]["event"]["subject"] == f"pay:{payment}"
        assert payload["data"]["paymentReceived"]["event"]["customerId"] == f"cus:{deal.erp_key}"


async def _tasks(names: tuple[str, ...]) -> set[tuple[int, str]]:
    """The running tasks whose coroutine is one of ``names`` (qualified-name endings)."""
    found = set()
    for task in asyncio.all_tasks():
        name = getattr(task.get_coro(), "__qualname__", "")
        if name.endswith(names):
            found.add((id(task), name))
    return found


def tasks_left(
    accord: AccordServer, names: tuple[str, ...], than: set[tuple[int, str]]
) -> list[tuple[int, str]]:
    """The server's tasks running one of ``names`` that were not among ``than``, once they have
    had up to 30 s to end."""
    left: list[tuple[int, str]] = []
    for _ in range(600):
        left = sorted(accord.call(_tasks(names)) - than)
        if not left:
            break
        time.sleep(0.05)
    return left


def tasks_settled(
    accord: AccordServer, names: tuple[str, ...], than: set[tuple[int, str]], count: int
) -> list[tuple[int, str]]:
    """The server's new tasks running one of ``names``, once there are ``count`` of them (or
    30 s passed: the deadline bounds a hang only)."""
    deadline = time.monotonic() + 30
    while len(found := sorted(accord.call(_tasks(names)) - than)) != count:
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return found


async def test_a_websocket_client_that_vanishes_leaves_no_task_behind(
    accord: AccordServer,
) -> None:
    # given a subscriber with a subscription running, and another with none left
    watched = ("_watch_idle", "run_operation")
    before = accord.call(_tasks(watched))
    subscribers = subscribers_now(accord)
    socket = await ws_subscribe(accord.url, PAYMENTS, {"customer": None}, "demo-ops")
    idle = await ws_subscribe(accord.url, PAYMENTS, {"customer": None}, "demo-ops")
    await idle.send(json.dumps({"id": "1", "type": "complete"}))
    assert len(tasks_settled(accord, watched, before, 3)) == 3  # two watchdogs, one operation

    # when one drops its connection without a close frame, and the other closes it properly
    socket.transport.abort()
    await idle.close()

    # then neither connection's tasks (operation, idle watchdog) are left on the server
    assert tasks_left(accord, watched, than=before) == []
    assert subscribers_left(accord, subscribers) == subscribers


def context_of(accord: AccordServer) -> AccordContext:
    """What the server's subscription endpoint gives an anonymous caller's operations."""
    for route in accord.app.routes:
        server = getattr(route, "app", None)
        if isinstance(server, SubscriptionServer):
            context: AccordContext = server.context_for(ANONYMOUS)
            return context
    raise AssertionError("no subscription endpoint found")


def bus_of(accord: AccordServer) -> Bus:
    """The server's event bus, as its subscription endpoint's contexts are given it."""
    bus = context_of(accord).bus
    if isinstance(bus, MemoryBus | RedisBus):
        return bus
    raise AssertionError("no event bus found")


def subscribers_now(accord: AccordServer) -> int:
    bus = bus_of(accord)

    async def count() -> int:
        return bus.subscribers

    return accord.call(count())


async def subscribed(accord: AccordServer, count: int) -> None:
    """Until the bus has ``count`` subscribers: a subscription is acknowledged by no message,
    and an event published before it subscribed is not its. The deadline bounds a hang only."""
    deadline = time.monotonic() + 30
    while await asyncio.to_thread(subscribers_now, accord) < count:
        assert time.monotonic() < deadline, "the subscription never reached the bus"
        await asyncio.sleep(0.02)


async def polled_once(accord: AccordServer) -> None:
    """Until both pollers finished a first round: every scan of each has a watermark, and a
    change from then on is news, not history. The deadline bounds a hang only."""
    reconciler = context_of(accord).reconciler
    assert reconciler is not None

    async def ignore(change: object) -> None:
        return None

    pollers = [
        feed_poller(feed, reconciler.backend, ignore) for feed in (reconciler.crm, reconciler.erp)
    ]

    async def done() -> bool:
        marks = [await poller.watermark(scan) for poller in pollers for scan in poller.scans]
        return all(mark is not None for mark in marks)

    deadline = time.monotonic() + 30
    while not await asyncio.to_thread(accord.call, done()):
        assert time.monotonic() < deadline, "the pollers never finished a round"
        await asyncio.sleep(0.05)


def subscribers_left(accord: AccordServer, expected: int) -> int:
    """The bus's subscriber count, once it has had up to 30 s to come down to ``expected``."""
    found = subscribers_now(accord)
    for _ in range(600):
        if found <= expected:
            break
        time.sleep(0.05)
        found = subscribers_now(accord)
    return found


async def test_a_server_sent_events_client_that_goes_away_leaves_nothing_running(
    accord: AccordServer,
) -> None:
    # given an SSE subscriber waiting for events that do not come
    watched = ("run_asgi",)
    before = accord.call(_tasks(watched))
    subscribers = subscribers_now(accord)
    client = httpx.AsyncClient(base_url=accord.url, timeout=30)
    request = client.build_request(
        "POST",
        "/graphql/stream",
        json={"query": PAYMENTS, "variables": {"customer": None}},
        headers={"Authorization": "Bearer demo-ops", "Accept": "text/event-stream"},
    )
    response = await client.send(request, stream=True)
    assert response.status_code == 200
    assert len(tasks_settled(accord, watched, before, 1)) == 1

    # when the client goes away
    await response.aclose()
    await client.aclose()

    # then its request is over on the server too, and so is its subscription to the bus
    assert tasks_left(accord, watched, than=before) == []
    assert subscribers_left(accord, subscribers) == subscribers


async def test_a_connection_running_queries_is_not_idle(sandbox: Endpoints) -> None:
    from api.subscriptions import SubscriptionLimits

    options = AppOptions(api_keys=DEMO_KEYS, subscriptions=SubscriptionLimits(idle_timeout=1.0))
    with AccordServer(sandbox, options=options) as accord:
        # given a connection over which a client runs one query after another, no subscription
        socket = await websockets.connect(
            accord.url.replace("http://", "ws://") + "/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        )
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer demo-ops"}})
        )
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
        answers = []
        try:
            # when it keeps doing so for longer than the idle timeout
            for number in range(10):
                query = {"query": "{ __typename }"}
                await socket.send(
                    json.dumps({"id": str(number), "type": "subscribe", "payload": query})
                )
                while (message := json.loads(await asyncio.wait_for(socket.recv(), 5)))[
                    "type"
                ] != "complete":
                    if message["type"] == "next":
                        answers.append(message["payload"]["data"])
                await asyncio.sleep(0.25)
        finally:
            await socket.close()

        # then it was never closed as idle
        assert answers == [{"__typename": "Query"}] * 10


def test_a_server_sent_events_request_over_a_megabyte_is_refused_unread(
    accord: AccordServer,
) -> None:
    padded = {"query": "subscription { paymentReceived { event { id } } }", "pad": "x" * 2_000_000}

    with accord.client() as client:
        declared = client.post(
            "/graphql/stream", json=padded, headers={"Authorization": "Bearer demo-ops"}
        )
        streamed = client.post(
            "/graphql/stream",
            content=iter([json.dumps(padded).encode()]),
            headers={"Authorization": "Bearer demo-ops", "Content-Type": "application/json"},
        )

    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert declared.json()["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"
