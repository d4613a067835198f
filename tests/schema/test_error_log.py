"""A client's mistake is logged below ERROR, over every way in; a bug still is an ERROR."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
import websockets
from graphql import GraphQLError
from websockets.typing import Subprotocol

from schema.build import build_schema
from tests.accord import AccordServer

MISTAKES: list[dict[str, Any]] = [
    {"query": "subscription { nosuch }"},
    {"query": 'subscription { paymentReceived(customerId: "bad id") { event { id } } }'},
    {"query": "subscription { paymentReceived { event { id } } }"},  # no API key
    {
        "query": 'mutation { setCreditHold(input: {idempotencyKey: "k", customerId: "cus:X", '
        'hold: ON, reason: "r"}) { errors { code } } }'
    },
]


async def first_answer(url: str, payload: dict[str, Any]) -> Any:
    """The first answer to ``payload`` sent over graphql-transport-ws without an API key."""
    socket = await websockets.connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
    )
    try:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        return json.loads(await asyncio.wait_for(socket.recv(), 10))
    finally:
        await socket.close()


async def test_client_mistakes_over_http_sse_and_websocket_are_not_errors_in_the_log(
    accord: AccordServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # when a client sends mistakes over every way in
    with accord.client() as client:
        for payload in MISTAKES:
            client.post("/graphql", json=payload)
            client.post("/graphql/stream", json=payload, headers={"accept": "text/event-stream"})
        client.post("/graphql", content=b"{not json", headers={"content-type": "application/json"})
    answers = [await first_answer(accord.url, payload) for payload in MISTAKES]

    # then each was answered with an error...
    assert all(answer["type"] in ("error", "next") for answer in answers), answers
    # ...and nothing about them was logged at ERROR
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_bug_is_still_logged_at_error_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    schema = build_schema()
    bug = GraphQLError("boom", original_error=ZeroDivisionError("division by zero"))
    mistake = GraphQLError("Cannot query field 'x' on type 'Query'.")

    schema.process_errors([bug, mistake])

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.exc_info[0] for r in errors if r.exc_info] == [ZeroDivisionError]
    # (only this module's logger: a server left by an earlier test may still log its access)
    graphql_log = [r for r in caplog.records if r.name == "accord.graphql"]
    assert [r.getMessage() for r in graphql_log if r.levelno == logging.INFO] == [
        "refused a request: Cannot query field 'x' on type 'Query'."
    ]
