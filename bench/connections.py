"""Connections: what Accord holds at rest, per WebSocket connection and per subscription.

Accord (one worker, default settings, embedded memory state) and the bare strawberry app of
`bench.baseline_app` are each started and, once they have answered their first request, left
alone for a second; their resident sets (``VmRSS``) then are the figures at rest, and
*rest_rss_ratio* is Accord's over the baseline's (target at most 1.5).

Then 100 graphql-transport-ws connections are opened on Accord and acknowledged, and on each
of them 100 ``paymentReceived`` subscriptions started (10,000 in all, each for a customer of
its own so that no two share a filter): *kib_per_connection* is what the connections added to
the resident set, divided by 100, and *kib_per_subscription* what the subscriptions added on
top, divided by 10,000 (target at most 10 KiB). Each figure waits until the server's RSS has
stopped moving.

Last, connect/disconnect cycles: each opens the 100 connections with their 10,000
subscriptions, holds them until they are all started, and closes them all. Accord's RSS after
each cycle's close is sampled. The first cycles settle the allocators (free lists filled,
arenas that keep a live object, glibc's heap), in steps of a few hundred KiB to a few MiB
that can go on for six closes or more: *settling_kib* is the growth over the first half of
the 16 closes. *cycle_growth_kib* is the median of the changes from one close to the next
over the second half, in KiB per cycle (target at most 100: flat within the noise of the
resident set, 0.01 KiB per subscription per cycle). What a disconnect fails to free is freed
by none, so it is in every change and so in their median; a step of the allocators is in
one change and not in the median. The slope of a least-squares line through the same
samples is reported beside it: one step of 1 MiB among eight samples makes it +100 KiB.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import time
from typing import Any

import httpx
import websockets
from websockets.typing import Subprotocol

from bench.harness import AccordProcess, BaselineProcess, ServerProcess, rss_kib
from bench.queries import CREDIT_QUERY, HEADERS
from bench.suite import Bench, Outcome, at_most, figure

CONNECTIONS, PER_CONNECTION = 100, 100
REST_TARGET = 1.5
CYCLE_TARGET_KIB = 100.0
CYCLES = 16  # connect/disconnect cycles; the slope is taken over the second half
PER_SUBSCRIPTION_TARGET_KIB = 10.0
SUBSCRIPTION = "subscription($c: ID) { paymentReceived(customerId: $c) { event { id subject } } }"
ACCORD_ENV = {"ACCORD_MAX_SUBSCRIPTIONS_PER_CONNECTION": str(PER_CONNECTION)}


def settled_rss(pid: int, *, quiet: float = 1.0, timeout: float = 15.0) -> int:
    """The process's RSS in KiB once it has moved less than 64 KiB over ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last = rss_kib(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = rss_kib(pid)
        if abs(now - last) < 64:
            return now
        last = now
    return last


def _rest(server: ServerProcess, accord: bool) -> int:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        body: dict[str, Any] = {"query": "{ __typename }"}
        if accord:
            body = {"query": CREDIT_QUERY, "variables": {"id": "001000000000000AAA"}}
        client.post("/graphql", json=body, headers=HEADERS).raise_for_status()
    return settled_rss(server.pid)


async def _open(url: str) -> Any:
    socket = await websockets.connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        max_queue=None,
        ping_interval=None,
    )
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer demo-ops"}})
    )
    ack = json.loads(await asyncio.wait_for(socket.recv(), 30))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"connection refused: {ack}")
    return socket


async def _subscribe(socket: Any, connection: int) -> None:
    for number in range(PER_CONNECTION):
        customer = f"cus:bench-{connection}-{number}"
        await socket.send(
            json.dumps(
                {
                    "id": str(number),
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIPTION, "variables": {"c": customer}},
                }
            )
        )


async def _handled(socket: Any) -> None:
    """Until the server has read everything sent on ``socket`` so far: it answers a ping
    after the messages before it."""
    await socket.send(json.dumps({"type": "ping"}))
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), 60))
        if message.get("type") == "pong":
            return
        if message.get("type") in ("error", "complete"):
            raise RuntimeError(f"a subscription was refused or ended: {message}")


async def _open_all(url: str) -> list[Any]:
    sockets = [await _open(url) for _ in range(CONNECTIONS)]
    for number, socket in enumerate(sockets):
        await _subscribe(socket, number)
    for socket in sockets:
        await _handled(socket)
    return sockets


async def _measure(url: str, pid: int, cycles: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    rest = await loop.run_in_executor(None, settled_rss, pid)
    sockets = [await _open(url) for _ in range(CONNECTIONS)]
    connected = await loop.run_in_executor(None, settled_rss, pid)
    for number, socket in enumerate(sockets):
        await _subscribe(socket, number)
    for socket in sockets:
        await _handled(socket)
    subscribed = await loop.run_in_executor(None, settled_rss, pid)
    for socket in sockets:
        await socket.close()
    after = [await loop.run_in_executor(None, settled_rss, pid)]
    for _ in range(cycles - 1):
        for socket in await _open_all(url):
            await socket.close()
        after.append(await loop.run_in_executor(None, settled_rss, pid))
    return {
        "rest": rest,
        "connected": connected,
        "subscribed": subscribed,
        "after_cycles": after,
    }


def slope(values: list[int]) -> float:
    """The least-squares slope of ``values`` over their index."""
    if len(values) < 2:
        return 0.0
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    den = sum((x - mean_x) ** 2 for x in range(n))
    return num / den


def run(bench: Bench) -> Outcome:
    box = bench.sandbox()
    cycles = int(bench.pick(CYCLES, 3))
    settled = int(bench.pick(CYCLES // 2, 0))  # closes before the slope: the allocators settle
    with BaselineProcess() as baseline:
        baseline_rest = _rest(baseline, accord=False)
    with AccordProcess(box.endpoints_file, ACCORD_ENV) as accord:
        accord_rest = _rest(accord, accord=True)
        measured = asyncio.run(_measure(accord.url, accord.pid, cycles))
    ratio = accord_rest / baseline_rest
    per_connection = (measured["connected"] - measured["rest"]) / CONNECTIONS
    subscriptions = CONNECTIONS * PER_CONNECTION
    per_subscription = (measured["subscribed"] - measured["connected"]) / subscriptions
    after = measured["after_cycles"]
    settled_after = after[settled:]
    changes = [later - earlier for earlier, later in itertools.pairwise(settled_after)]
    growth = statistics.median(changes) if changes else 0.0
    least_squares = slope(settled_after)
    settling = after[settled] - after[0] if settled else 0
    mib = 1024.0
    return Outcome(
        scenario="connections",
        line=(
            f"connections RSS at rest Accord / bare strawberry = {ratio:.2f} (target <= "
            f"{REST_TARGET:g}) - {accord_rest / mib:.0f} / {baseline_rest / mib:.0f} MiB; "
            f"{subscriptions} subscriptions on {CONNECTIONS} connections: "
            f"{per_subscription:.1f} KiB per subscription (target <= "
            f"{PER_SUBSCRIPTION_TARGET_KIB:g}), {per_connection:.1f} KiB per connection; "
            f"{cycles} connect/disconnect cycles: {growth:+.0f} KiB per cycle from close "
            f"{settled + 1} on, median change (target <= {CYCLE_TARGET_KIB:g}; least-squares "
            f"slope {least_squares:+.0f}), {settling:+.0f} KiB settling before"
        ),
        figures={
            "rest_rss_ratio": figure(
                ratio, "ratio", "bare strawberry app at rest", at_most(ratio, REST_TARGET)
            ),
            "kib_per_subscription": figure(
                per_subscription,
                "KiB",
                "RSS with the connections open, before subscribing",
                at_most(per_subscription, PER_SUBSCRIPTION_TARGET_KIB),
            ),
            "kib_per_connection": figure(per_connection, "KiB", "RSS at rest, before connecting"),
            "cycle_growth_kib": figure(
                growth,
                "KiB per cycle",
                "RSS after the previous cycle's disconnect",
                at_most(growth, CYCLE_TARGET_KIB),
            ),
            "cycle_slope_kib": figure(
                least_squares, "KiB per cycle", "RSS after the settling cycles' disconnects"
            ),
            "settling_kib": figure(settling, "KiB", "RSS after the first cycle's disconnect"),
        },
        details={
            "connections": CONNECTIONS,
            "subscriptions_per_connection": PER_CONNECTION,
            "accord_rss_at_rest_kib": accord_rest,
            "baseline_rss_at_rest_kib": baseline_rest,
            "accord_rss_kib": measured,
            "cycles": cycles,
        },
    )
