"""`Departure`: what holds a connection open hears, once, that the server stops.

The server as a process, with real streams and WebSockets, is in ``tests/test_shutdown.py``;
these are the pieces' own rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from api.departure import Departure


async def test_a_stream_gives_its_items_until_the_departure_and_stops_waiting_then() -> None:
    departure = Departure()
    waiting = asyncio.Event()
    abandoned = asyncio.Event()

    async def stream() -> AsyncIterator[int]:
        yield 1
        yield 2
        waiting.set()
        try:
            await asyncio.Event().wait()  # no third item ever comes
            yield 3
        except asyncio.CancelledError:
            abandoned.set()
            raise

    async def read() -> list[int]:
        return [item async for item in departure.until_announced(stream())]

    reader = asyncio.create_task(read())
    await waiting.wait()
    await departure.announce()

    assert await reader == [1, 2]
    assert abandoned.is_set()  # the wait for the next item was cancelled, not left behind


async def test_a_stream_that_ends_first_ends_as_it_is() -> None:
    async def stream() -> AsyncIterator[str]:
        yield "only"

    departure = Departure()
    assert [item async for item in departure.until_announced(stream())] == ["only"]
    assert not departure.announced


async def test_after_the_departure_a_new_stream_gives_nothing() -> None:
    departure = Departure()
    await departure.announce()

    async def stream() -> AsyncIterator[int]:
        yield 1

    assert [item async for item in departure.until_announced(stream())] == []


async def test_the_announcement_waits_for_the_connections_held_to_close() -> None:
    departure = Departure()
    closed: list[str] = []

    async def connection(name: str) -> None:
        with departure.holding():
            await departure.wait()
            await asyncio.sleep(0)  # its closing handshake
            closed.append(name)

    connections = [asyncio.create_task(connection(name)) for name in ("a", "b")]
    await asyncio.sleep(0)  # both hold

    await departure.announce()

    assert sorted(closed) == ["a", "b"]
    await asyncio.gather(*connections)
