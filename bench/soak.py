"""Soak: ten minutes of mixed work with faults on two replicas; does memory level off?

Two Accord processes share one Redis (state, bus, cache level 2, the NetSuite budget) and the
sandbox's webhooks. For ten minutes (20 s with ``--quick``, which only shows the scenario
works: too short for a slope to mean much) they get, spread over both:

- reads: the Lightning credit query over 200 accounts and a portal list of 20 customers with
  their invoices, from 6 connections in a closed loop;
- writes: a payment of 1.00 every half second on one of 20 customers made for the run,
  their credit hold toggled every two seconds, and a fresh deal booked every two seconds;
- subscriptions: 10 graphql-transport-ws connections per replica, following those customers'
  payments and credit standing, read as fast as they come;
- faults: every minute (once in the quick run) five seconds of one of: NetSuite down, NetSuite
  queries taking 1.5 s, Salesforce failing half its calls.

Each replica's resident set (``VmRSS``) is sampled every second. The figure is the slope of a
least-squares line through the samples of the second half of the run, in MiB per minute,
for the replica that grew the faster; target at most 1 MiB/min (flat: a leak of the 0.35 MB/s
once seen is 20 MiB/min). The first half is the warm-up: caches filling to their bounds. With
its default bounds (100,000 entries, 128 MB) the read cache would still be taking in the new
payments, orders and customers after ten minutes, and its filling would read as growth; so
the replicas run with it bounded to 2,000 entries and 8 MB, full before the second half, and
what still grows then is not the cache.
Internal errors (HTTP 5xx, INTERNAL_SERVER_ERROR, a subscription that ends) are errors of
the run; upstream failures during the faults are what the faults are for.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from websockets.typing import Subprotocol

from bench.harness import AccordProcess, delete_keys, rss_kib, shared_redis
from bench.queries import CREDIT_QUERY
from bench.suite import Bench, Outcome, at_most, figure
from sandbox.clock import parse_instant
from sandbox.deals import Deals
from sandbox.world import build_world

TARGET_SLOPE = 1.0  # MiB per minute
PORTAL = """{ customers(first: 20) { nodes { id name credit { balance { amount } status }
  invoices(first: 5) { nodes { number amountDue { amount } } } } } }"""
PAY = """mutation($i: RecordPaymentInput!) { recordPayment(input: $i) {
  errors { code } payment { id } } }"""
HOLD = """mutation($i: SetCreditHoldInput!) { setCreditHold(input: $i) { errors { code } } }"""
BOOK = """mutation($i: BookOrderInput!) { bookOrder(input: $i) {
  errors { code } workflow { id status } } }"""
SUBSCRIPTION = """subscription($c: ID) { paymentReceived(customerId: $c) { event { id } } }"""
CREDIT = """subscription($c: ID) { creditStatusChanged(customerId: $c) { event { id } } }"""
FAULTS = (
    ("netsuite", {"pattern": "*", "outage": True}),
    ("netsuite", {"pattern": "/services/rest/query/v1/suiteql*", "latency_ms": 1500}),
    ("salesforce", {"pattern": "*", "error_rate": 0.5, "error_status": 503}),
)


@dataclass
class Seen:
    requests: int = 0
    failed: int = 0  # upstream failures reported in answers (expected during faults)
    errors: list[str] = field(default_factory=list)  # internal errors: the run's errors
    deliveries: int = 0
    samples: dict[int, list[tuple[float, float]]] = field(default_factory=dict)


@dataclass
class Customer:
    canonical: str
    erp_id: str
    invoice: str


def _internal(body: Any, status: int) -> str | None:
    if status >= 500:
        return f"HTTP {status}"
    for error in (body or {}).get("errors") or []:
        if (error.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR":
            return str(error.get("message"))
    return None


async def _post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], key: str | None, seen: Seen
) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        seen.errors.append(f"{type(exc).__name__}: {exc}")
        return None
    seen.requests += 1
    problem = _internal(body, response.status_code)
    if problem:
        seen.errors.append(problem)
    elif body.get("errors"):
        seen.failed += 1
    return body


async def _every(seconds: float, stop: float, work: Any) -> None:
    n = 0
    while time.monotonic() < stop:
        await work(n)
        n += 1
        await asyncio.sleep(seconds)


async def _subscriber(url: str, customers: list[Customer], stop: float, seen: Seen) -> None:
    socket = await websockets.connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        max_queue=None,
    )
    try:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer demo-ops"}})
        )
        await asyncio.wait_for(socket.recv(), 10)
        for n, customer in enumerate(customers):
            for query in (SUBSCRIPTION, CREDIT):
                payload = {"query": query, "variables": {"c": customer.canonical}}
                await socket.send(
                    json.dumps({"id": f"{n}-{len(query)}", "type": "subscribe", "payload": payload})
                )
        while (left := stop - time.monotonic()) > 0:
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), left))
            except TimeoutError:
                break
            if message.get("type") == "next":
                seen.deliveries += 1
            elif message.get("type") in ("error", "complete"):
                seen.errors.append(f"subscription ended: {str(message)[:200]}")
    except websockets.ConnectionClosed as exc:
        if time.monotonic() < stop:
            seen.errors.append(f"subscription connection closed: {exc}")
    finally:
        await socket.close()


async def _sample(pids: list[int], start: float, stop: float, seen: Seen) -> None:
    while time.monotonic() < stop:
        at = time.monotonic() - start
        for pid in pids:
            seen.samples.setdefault(pid, []).append((at, rss_kib(pid) / 1024.0))
        await asyncio.sleep(1.0)


async def _faults(control: Any, start: float, stop: float, every: float, length: float) -> None:
    n = 0
    while True:
        at = start + every * (n + 1) - length
        if at + length > stop:
            return
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        system, fault = FAULTS[n % len(FAULTS)]
        client = control.clients[system]
        await asyncio.to_thread(client.post, "/__sandbox__/faults", json=fault)
        await asyncio.sleep(length)
        await asyncio.to_thread(client.post, "/__sandbox__/faults", json={"clear": True})
        n += 1


async def _drive(
    urls: list[str],
    pids: list[int],
    control: Any,
    accounts: list[str],
    customers: list[Customer],
    opportunities: list[str],
    *,
    duration: float,
    fault_every: float,
) -> Seen:
    seen = Seen()
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=40)
    clients = [httpx.AsyncClient(base_url=url, timeout=60, limits=limits) for url in urls]
    start = time.monotonic()
    stop = start + duration

    def client(n: int) -> httpx.AsyncClient:
        return clients[n % len(clients)]

    async def reader(r: int) -> None:
        n = r
        while time.monotonic() < stop:
            if n % 10 == 0:
                await _post(client(n), PORTAL, {}, None, seen)
            else:
                await _post(
                    client(n), CREDIT_QUERY, {"id": accounts[n % len(accounts)]}, None, seen
                )
            n += 6

    async def pay(n: int) -> None:
        customer = customers[n % len(customers)]
        variables = {
            "i": {
                "idempotencyKey": f"soak-{uuid.uuid4()}",
                "customerId": customer.canonical,
                "amount": "1.00",
                "currency": "EUR",
                "applications": [{"invoiceId": f"inv:{customer.invoice}", "amount": "1.00"}],
            }
        }
        await _post(client(n), PAY, variables, "demo-finance", seen)

    async def hold(n: int) -> None:
        customer = customers[n % len(customers)]
        setting = "ON" if (n // len(customers)) % 2 == 0 else "AUTO"
        variables = {
            "i": {
                "idempotencyKey": f"soak-{uuid.uuid4()}",
                "customerId": customer.canonical,
                "hold": setting,
                "reason": "soak",
            }
        }
        await _post(client(n), HOLD, variables, "demo-finance", seen)

    async def book(n: int) -> None:
        if n < len(opportunities):
            variables = {
                "i": {"idempotencyKey": f"soak-{uuid.uuid4()}", "opportunityId": opportunities[n]}
            }
            await _post(client(n), BOOK, variables, "demo-sales", seen)

    try:
        await asyncio.gather(
            _sample(pids, start, stop, seen),
            _faults(control, start, stop, fault_every, 5.0),
            # 20 subscriptions a connection (its limit): 10 customers' payments and standing
            *(
                _subscriber(url, (customers * 2)[k * 2 : k * 2 + 10], stop, seen)
                for url in urls
                for k in range(10)
            ),
            *(reader(r) for r in range(6)),
            _every(0.5, stop, pay),
            _every(2.0, stop, hold),
            _every(2.0, stop, book),
        )
    finally:
        for c in clients:
            await c.aclose()
    return seen


def _slope(samples: list[tuple[float, float]], after: float) -> float:
    """MiB per minute of a least-squares line through the samples taken after ``after``."""
    tail = [(t, v) for t, v in samples if t >= after]
    if len(tail) < 3:
        return 0.0
    n = len(tail)
    mean_t = sum(t for t, _ in tail) / n
    mean_v = sum(v for _, v in tail) / n
    spread = sum((t - mean_t) ** 2 for t, _ in tail)
    if spread == 0:
        return 0.0
    return 60.0 * sum((t - mean_t) * (v - mean_v) for t, v in tail) / spread


def _customers(deals: Deals, count: int) -> list[Customer]:
    """Customers made for the run, each with an invoice big enough for every payment."""
    return [Customer(*deals.customer_with_invoice(100_000)) for _ in range(count)]


def run(bench: Bench) -> Outcome:
    redis_url = shared_redis()
    if redis_url is None:
        reason = "no Redis answers at ACCORD_TEST_REDIS_URL; the two replicas share it"
        return Outcome(
            "soak", f"soak       not available: {reason}", available=False, reason=reason
        )
    box = bench.sandbox()
    info = box.endpoints.sandbox
    deals = Deals(box.upstream, build_world(info.seed, info.customers, now=parse_instant(info.now)))
    duration = bench.pick(600.0, 20.0)
    fault_every = bench.pick(60.0, 12.0)
    customers = _customers(deals, 20)
    opportunities = [
        deals.on_existing_customer().opportunity_id for _ in range(int(duration / 2.0) + 1)
    ]
    accounts = box.upstream.salesforce_ids(200)
    prefix = f"bench:{uuid.uuid4().hex}:"
    env = {
        "ACCORD_REDIS_URL": redis_url,
        "ACCORD_REDIS_PREFIX": prefix,
        "ACCORD_CACHE_SIZE": "2000",
        "ACCORD_CACHE_MEMORY_MB": "8",
    }
    try:
        with (
            AccordProcess(box.endpoints_file, env) as first,
            AccordProcess(box.endpoints_file, env) as second,
        ):
            seen = asyncio.run(
                _drive(
                    [first.url, second.url],
                    [first.pid, second.pid],
                    box.control,
                    accounts,
                    customers,
                    opportunities,
                    duration=duration,
                    fault_every=fault_every,
                )
            )
    finally:
        box.control.reset()
        delete_keys(redis_url, prefix)
    half = duration / 2
    slopes = {pid: _slope(samples, half) for pid, samples in seen.samples.items()}
    worst = max(slopes.values(), default=0.0)
    rss = {
        str(pid): {"start_mib": round(s[0][1], 1), "end_mib": round(s[-1][1], 1)}
        for pid, s in seen.samples.items()
        if s
    }
    ends = ", ".join(f"{v['start_mib']:.0f} -> {v['end_mib']:.0f}" for v in rss.values())
    return Outcome(
        scenario="soak",
        line=(
            f"soak       memory slope over the last {half:.0f} s = {worst:+.2f} MiB/min "
            f"(target <= {TARGET_SLOPE:g}); RSS {ends} MiB on two replicas; "
            f"{seen.requests} requests, {seen.deliveries} subscription deliveries, "
            f"{len(seen.errors)} errors"
        ),
        figures={
            "memory_slope_mib_per_min": figure(
                worst,
                "MiB/min",
                "the replica's own RSS over the second half of the run",
                at_most(worst, TARGET_SLOPE),
            ),
        },
        errors=len(seen.errors),
        details={
            "duration_s": duration,
            "slopes_mib_per_min": {str(pid): round(v, 3) for pid, v in slopes.items()},
            "rss": rss,
            "requests": seen.requests,
            "upstream_failures_in_answers": seen.failed,
            "deliveries": seen.deliveries,
            "error_samples": seen.errors[:5],
            "samples": {
                str(pid): [[round(t, 1), round(v, 1)] for t, v in s]
                for pid, s in seen.samples.items()
            },
        },
    )
