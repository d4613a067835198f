"""Stopping ``python server.py`` ends its event streams and WebSockets itself.

A subscription never ends by itself. Told to stop (SIGTERM), Accord ends each server-sent
event stream with its going-away comment (no ``complete``: the operation is not over, and
clients subscribe again elsewhere) and closes each graphql-transport-ws connection with 1001,
so it stops without waiting out uvicorn's grace period, which would cut the streams off and
log an ERROR. With several worker processes, each worker does the same.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.typing import Subprotocol

from api.event_stream import GOING_AWAY
from bench.harness import AccordProcess
from sandbox.endpoints import Endpoints
from tests.redis_keys import unique_prefix
from tests.workers import WorkersAccord

KEY = "demo-finance"
CREDIT = "subscription { creditStatusChanged { event { id } previousStatus status } }"
PAYMENTS = "subscription { paymentReceived { event { id } } }"


async def open_websocket(url: str) -> Any:
    """A graphql-transport-ws connection running two subscriptions."""
    socket = await websockets.connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
    )
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {KEY}"}})
    )
    assert json.loads(await asyncio.wait_for(socket.recv(), 30))["type"] == "connection_ack"
    for number, query in enumerate((CREDIT, PAYMENTS)):
        message = {"id": str(number), "type": "subscribe", "payload": {"query": query}}
        await socket.send(json.dumps(message))
    # frames are handled in order: the pong says both subscriptions were taken
    await socket.send(json.dumps({"type": "ping"}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 30))["type"] == "pong"
    return socket


async def closing_code(socket: Any) -> tuple[int | None, list[Any]]:
    """The code the server closes ``socket`` with, and the messages it sent before."""
    messages = []
    try:
        while True:
            messages.append(json.loads(await socket.recv()))
    except websockets.ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), messages


async def stop_while_streaming(
    url: str, process: subprocess.Popen[bytes], connections: int
) -> tuple[list[str], list[tuple[int | None, list[Any]]]]:
    """Open ``connections`` event streams and WebSocket connections, send SIGTERM, and read
    each to its end: (the streams' bodies, the WebSockets' close codes and messages)."""
    sockets = [await open_websocket(url) for _ in range(connections)]
    async with httpx.AsyncClient(base_url=url, timeout=60.0) as client:
        streams = [
            await client.send(
                client.build_request(
                    "POST",
                    "/graphql/stream",
                    json={"query": CREDIT},
                    headers={"Accept": "text/event-stream", "Authorization": f"Bearer {KEY}"},
                ),
                stream=True,
            )
            for _ in range(connections)
        ]
        for response in streams:
            assert response.status_code == 200

        # when the server is told to stop, as a supervisor does
        process.send_signal(signal.SIGTERM)

        async def body(response: httpx.Response) -> str:
            try:
                return "".join([chunk async for chunk in response.aiter_text()])
            finally:
                await response.aclose()

        bodies = await asyncio.gather(*(body(response) for response in streams))
    closes = await asyncio.gather(*(closing_code(socket) for socket in sockets))
    return list(bodies), list(closes)


def assert_clean_stop(
    bodies: list[str], closes: list[tuple[int | None, list[Any]]], process: AccordProcess
) -> None:
    process_handle = process.process
    assert process_handle is not None
    returncode = process_handle.wait(60)
    output = process.output()
    # each stream ended whole, with the going-away comment and no `complete`
    for text in bodies:
        assert text.endswith(GOING_AWAY), (text, output)
        assert "event: complete" not in text
    # each WebSocket closed with 1001 (going away), its subscriptions not completed
    for code, messages in closes:
        assert code == 1001, (code, messages, output)
        assert not [message for message in messages if message.get("type") == "complete"]
    # and the server stopped cleanly, without running into uvicorn's grace period
    assert returncode == 0, output
    assert "graceful shutdown exceeded" not in output
    assert "still open" not in output
    assert not [line for line in output.splitlines() if line.startswith("ERROR")], output
    assert "Traceback" not in output


async def test_sigterm_ends_event_streams_and_websockets(sandbox: Endpoints) -> None:
    # Given Accord serving an event stream and a WebSocket subscription connection
    with tempfile.TemporaryDirectory(prefix="accord-shutdown-") as directory:
        endpoints_file = Path(directory) / "sandbox.json"
        sandbox.write(endpoints_file)
        with AccordProcess(endpoints_file, {"ACCORD_LOG_LEVEL": "info"}) as accord:
            assert accord.process is not None
            # when it gets SIGTERM
            bodies, closes = await stop_while_streaming(accord.url, accord.process, 1)
            # then both end at once with the going-away signal, and it stops cleanly
            assert_clean_stop(bodies, closes, accord)


async def test_every_worker_ends_its_streams(sandbox: Endpoints, redis_url: str) -> None:
    # Given two workers on one port, holding streams and WebSockets (the kernel spreads the
    # connections over both)
    with WorkersAccord(sandbox, redis_url, unique_prefix(), {"ACCORD_LOG_LEVEL": "info"}) as accord:
        process = accord.process.process
        assert process is not None
        # when the supervisor gets SIGTERM
        bodies, closes = await stop_while_streaming(accord.url, process, 4)
        # then every stream and connection ends with the going-away signal
        assert_clean_stop(bodies, closes, accord.process)
