"""A graphql-transport-ws client for tests: connect, say hello, run operations, read closes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

PROTOCOL = [Subprotocol("graphql-transport-ws")]


async def connect(url: str, key: str | None = None) -> ClientConnection:
    """A connection to Accord at ``url`` (http://…), acknowledged, as the holder of ``key``."""
    socket = await websockets.connect(
        url.replace("http://", "ws://") + "/graphql", subprotocols=PROTOCOL
    )
    payload = {"Authorization": f"Bearer {key}"} if key else {}
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert ack["type"] == "connection_ack", ack
    return socket


async def next_message(socket: ClientConnection, wait: float = 10.0) -> dict[str, Any]:
    """The next message that is not a ping or a pong, within ``wait`` seconds in all."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"no message within {wait} s"
        message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), left))
        if message["type"] not in ("ping", "pong"):
            return message


async def run(
    socket: ClientConnection,
    query: str,
    variables: dict[str, Any] | None = None,
    operation: str = "1",
) -> dict[str, Any]:
    """Send one operation; its first answer (``next`` or ``error``)."""
    payload = {"query": query, "variables": variables}
    await socket.send(json.dumps({"id": operation, "type": "subscribe", "payload": payload}))
    return await next_message(socket)


async def closed_with(socket: ClientConnection, wait: float = 10.0) -> tuple[int, str]:
    """The close code and reason the server ends the connection with."""
    try:
        while True:
            await asyncio.wait_for(socket.recv(), wait)
    except websockets.ConnectionClosed as closed:
        received = closed.rcvd
    if received is None:
        raise AssertionError("the connection dropped without a close frame")
    return received.code, received.reason
