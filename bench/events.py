"""Events: from a payment posted in the ERP to GraphQL subscribers of another Accord process.

Two Accord processes share one Redis (the bus's stream, snapshots, replay ids); both take the
sandbox's webhooks. Subscribers connect to the second process over graphql-transport-ws. A
payment of 1.00 is posted through the NetSuite emulator's record API and the time from the
emulator's acknowledgement to each subscriber's ``next`` message is measured:

- latency with one subscriber, p50 and p99 over several payments, against the one-second
  target (a change in one system known everywhere within a second);
- delivery to 1,000 concurrent subscribers (50 connections of 20 subscriptions each): the time
  until the last of them has the event, over the same time with one subscriber (the cost of
  fan-out), and how many of the 1,000 received it (every one must).

Not available without a Redis at ``ACCORD_TEST_REDIS_URL`` (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from decimal import Decimal
from typing import Any

import websockets
from websockets.typing import Subprotocol

from bench.harness import AccordProcess, delete_keys, shared_redis
from bench.suite import Bench, Outcome, Spread, at_least, at_most, figure, ms

TARGET_MS = 1000.0
PAYMENT = Decimal("1.00")
CONNECTIONS, PER_CONNECTION = 50, 20
SUBSCRIPTION = "subscription($c: ID) { paymentReceived(customerId: $c) { event { id subject } } }"


async def _connect(url: str, subscriptions: int, customer: str) -> Any:
    socket = await websockets.connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        max_queue=None,
    )
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer demo-ops"}})
    )
    ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"subscription refused: {ack}")
    for number in range(subscriptions):
        await socket.send(
            json.dumps(
                {
                    "id": str(number),
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIPTION, "variables": {"c": customer}},
                }
            )
        )
    return socket


async def _received(socket: Any, expected: int, subject_prefix: str) -> list[float]:
    """Arrival times of ``expected`` next messages for a payment (other messages skipped)."""
    times: list[float] = []
    while len(times) < expected:
        message = json.loads(await socket.recv())
        if message.get("type") == "next":
            data = message["payload"]["data"]["paymentReceived"]["event"]
            if data["subject"].startswith(subject_prefix):
                times.append(time.perf_counter())
    return times


async def _measure(
    url: str,
    customer: str,
    post: Any,
    *,
    connections: int,
    per_connection: int,
    payments: int,
) -> tuple[list[float], int]:
    """(per payment: seconds until the last subscriber had it, delivered count of the last)."""
    sockets = [await _connect(url, per_connection, customer) for _ in range(connections)]
    await asyncio.sleep(0.5)  # let every subscription start on the server
    durations: list[float] = []
    delivered = 0
    try:
        for _ in range(payments):
            waiting = [
                asyncio.create_task(_received(socket, per_connection, "pay:")) for socket in sockets
            ]
            await asyncio.to_thread(post)
            posted = time.perf_counter()
            done, pending = await asyncio.wait(waiting, timeout=10)
            for task in pending:
                task.cancel()
            arrivals = [t for task in done for t in task.result()]
            delivered = len(arrivals)
            if arrivals:
                durations.append(max(arrivals) - posted)
    finally:
        for socket in sockets:
            await socket.close()
    return durations, delivered


def run(bench: Bench) -> Outcome:
    redis_url = shared_redis()
    if redis_url is None:
        reason = "no Redis answers at ACCORD_TEST_REDIS_URL; two processes share their bus there"
        return Outcome(
            "events", f"events     not available: {reason}", available=False, reason=reason
        )
    box = bench.sandbox()
    invoices = box.upstream.suiteql(
        "SELECT t.id, t.entity FROM transaction t WHERE t.type = 'CustInvc' "
        "AND t.foreignamountunpaid > 100 ORDER BY t.id DESC"
    )
    customer_id = invoice_id = key = None
    for invoice in invoices:
        found = box.upstream.suiteql(
            f"SELECT externalid FROM customer WHERE id = {int(invoice['entity'])}"
        )
        if found and found[0].get("externalid"):
            customer_id, invoice_id = str(invoice["entity"]), str(invoice["id"])
            key = found[0]["externalid"]
            break
    if key is None or customer_id is None or invoice_id is None:
        raise RuntimeError("no customer in the sandbox has an open invoice and a key")
    customer = f"cus:{key}"
    prefix = f"bench:{uuid.uuid4().hex}:"
    env = {
        "ACCORD_REDIS_URL": redis_url,
        "ACCORD_REDIS_PREFIX": prefix,
        "ACCORD_POLL_SECONDS": "0",
    }
    samples = int(bench.pick(15, 3))

    def post() -> None:
        box.upstream.post_payment(customer_id, invoice_id, str(PAYMENT))

    try:
        with (
            AccordProcess(box.endpoints_file, env),
            AccordProcess(box.endpoints_file, env) as second,
        ):
            single, _ = asyncio.run(
                _measure(
                    second.url, customer, post, connections=1, per_connection=1, payments=samples
                )
            )
            fanned, delivered = asyncio.run(
                _measure(
                    second.url,
                    customer,
                    post,
                    connections=CONNECTIONS,
                    per_connection=PER_CONNECTION,
                    payments=int(bench.pick(3, 1)),
                )
            )
    finally:
        delete_keys(redis_url, prefix)
    subscribers = CONNECTIONS * PER_CONNECTION
    errors = (samples - len(single)) + (subscribers - delivered)
    if not single or not fanned:
        return Outcome(
            "events",
            "events     FAILED: no event reached the subscribers",
            failed=True,
            errors=max(errors, 1),
        )
    p50, p99 = ms(statistics.median(single)), ms(_percentile(single, 0.99))
    fan = ms(statistics.median(fanned))
    ratio = fan / p50
    return Outcome(
        "events",
        (
            f"events     payment -> subscriber on the other process: p50 "
            f"{Spread.of([ms(t) for t in single]).text(0, ' ms')}, p99 "
            f"{p99:.0f} ms (target <= {TARGET_MS:.0f} ms); {subscribers} subscribers: "
            f"{delivered}/{subscribers} in {fan:.0f} ms = {ratio:.2f}x one subscriber"
        ),
        figures={
            "latency_p50_ms": figure(
                p50, "ms", "the payment's acknowledgement by the ERP", at_most(p50, TARGET_MS)
            ),
            "latency_p99_ms": figure(
                p99, "ms", "the payment's acknowledgement by the ERP", at_most(p99, TARGET_MS)
            ),
            "fanout_ratio": figure(ratio, "ratio", "latency to one subscriber, same run"),
            "delivered": figure(
                float(delivered),
                "subscribers",
                "1,000 subscribed",
                at_least(delivered, subscribers),
            ),
        },
        errors=errors,
        details={
            "single_ms": [round(ms(s), 1) for s in single],
            "fanout_ms": [round(ms(s), 1) for s in fanned],
        },
    )


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
