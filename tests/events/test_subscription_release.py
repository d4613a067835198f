"""A closed WebSocket connection gives back everything its subscriptions held on the server.

Over real graphql-transport-ws connections to an Accord served on loopback: many
connections, each with many subscriptions, are opened and closed again, several times; after
each round the server holds what it held before: no bus subscriber (mailbox), no operation
task, no per-caller slot, no async generator the event loop tracks, and no connection,
mailbox or subscription object left alive.

While they are open, each subscription holds one task, its resolver's iterators and its
context, and nothing of the execution that started it: no graphql-core executor and no
resolve info (each event is executed by an executor of its own, `api.pipeline`).
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from graphql import GraphQLResolveInfo
from graphql.execution import Executor
from websockets.typing import Subprotocol

from api.auth import DEMO_KEYS
from api.callers import CallerLimits
from api.exposure import Exposure
from api.subscriptions import SubscriptionLimits, SubscriptionServer
from domain.caller import ANONYMOUS
from events.bus import Bus
from sandbox.endpoints import Endpoints
from server import AppOptions
from tests.accord import AccordServer

CONNECTIONS, PER_CONNECTION = 10, 30
PAYMENTS = "subscription($c: ID) { paymentReceived(customerId: $c) { event { id } } }"
HELD = ("Mailbox", "Subscription", "_Connection")  # objects a subscription keeps alive
# the async generators of one subscription: its resolver's, the bus events' it reads, and the
# stream of results the pipeline makes of them
ASYNC_GENERATORS = 3


@pytest.fixture(scope="module")
def accord(sandbox: Endpoints) -> Iterator[AccordServer]:
    options = AppOptions(
        api_keys=DEMO_KEYS,
        subscriptions=SubscriptionLimits(max_subscriptions=PER_CONNECTION),
        exposure=Exposure(
            callers=CallerLimits(max_connections=CONNECTIONS, max_subscriptions=10**4)
        ),
    )
    with AccordServer(sandbox, options=options) as server:
        yield server


def endpoint_of(accord: AccordServer) -> SubscriptionServer:
    for route in accord.app.routes:
        server = getattr(route, "app", None)
        if isinstance(server, SubscriptionServer):
            return server
    raise AssertionError("no WebSocket endpoint found")


def held(accord: AccordServer) -> dict[str, int]:
    """What the server holds for subscriptions now, counted on its own event loop."""
    endpoint = endpoint_of(accord)
    bus: Bus = endpoint.context_for(ANONYMOUS).bus

    async def count() -> dict[str, int]:
        gc.collect()
        alive: dict[str, int] = dict.fromkeys((*HELD, "executors", "resolve infos"), 0)
        for thing in gc.get_objects():
            name = type(thing).__name__
            if name in alive and type(thing).__module__.startswith(("api.", "events.")):
                alive[name] += 1
            elif isinstance(thing, Executor):
                alive["executors"] += 1
            elif isinstance(thing, GraphQLResolveInfo):
                alive["resolve infos"] += 1
        loop = asyncio.get_running_loop()
        return {
            "bus subscribers": bus.subscribers,
            "operation tasks": sum(
                getattr(task.get_coro(), "__qualname__", "").endswith("run_operation")
                for task in asyncio.all_tasks()
            ),
            "caller connections": sum(endpoint.callers._connections.values()),
            "caller subscriptions": sum(endpoint.callers._subscriptions.values()),
            "async generators": len(getattr(loop, "_asyncgens", ())),
            **alive,
        }

    return accord.call(count())


async def settled(accord: AccordServer, expected: dict[str, int]) -> dict[str, int]:
    """The counts, once they have had up to 5 s to come to ``expected`` (the client's loop
    runs meanwhile: an aborted socket is closed by it)."""
    found = held(accord)
    deadline = time.monotonic() + 5
    while found != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        found = held(accord)
    return found


async def open_connection(url: str, number: int) -> Any:
    socket = await websockets.connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
    )
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer demo-ops"}})
    )
    assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
    for operation in range(PER_CONNECTION):
        variables = {"c": f"cus:release-{number}-{operation}"}
        await socket.send(
            json.dumps(
                {
                    "id": str(operation),
                    "type": "subscribe",
                    "payload": {"query": PAYMENTS, "variables": variables},
                }
            )
        )
    await socket.send(json.dumps({"type": "ping"}))  # answered after the subscribes are read
    while json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] != "pong":
        pass
    return socket


async def test_closing_connections_frees_every_subscription_they_held(
    accord: AccordServer,
) -> None:
    # given what the server holds with no connection open
    before = held(accord)
    assert before["caller connections"] == before["caller subscriptions"] == 0

    for round_ in range(3):
        # when many connections with many subscriptions each are opened
        sockets = [await open_connection(accord.url, n) for n in range(CONNECTIONS)]
        subscriptions = CONNECTIONS * PER_CONNECTION
        opened = await settled(
            accord,
            {
                **before,
                "bus subscribers": before["bus subscribers"] + subscriptions,
                "operation tasks": before["operation tasks"] + subscriptions,
                "caller connections": CONNECTIONS,
                "caller subscriptions": subscriptions,
            },
        )
        # then each subscription holds a bus mailbox, a task and a slot while it is open
        assert opened["bus subscribers"] == before["bus subscribers"] + subscriptions, round_
        assert opened["operation tasks"] == before["operation tasks"] + subscriptions
        assert opened["caller subscriptions"] == subscriptions
        assert opened["Mailbox"] >= before["Mailbox"] + subscriptions
        assert opened["_Connection"] == before["_Connection"] + CONNECTIONS
        # and nothing of the execution that started it
        assert opened["executors"] == before["executors"], round_
        assert opened["resolve infos"] == before["resolve infos"]
        assert opened["async generators"] <= (
            before["async generators"] + ASYNC_GENERATORS * subscriptions
        )

        # and when half close properly and half just vanish
        for number, socket in enumerate(sockets):
            if number % 2:
                socket.transport.abort()
            else:
                await socket.close()

        # then the server holds exactly what it held before the round
        assert await settled(accord, before) == before, round_
