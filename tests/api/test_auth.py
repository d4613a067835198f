"""Caller identity: API keys by configuration, and the switch for anonymous reads, enforced on
every way in (GET, POST, and the WebSocket that also runs queries)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import websockets
from websockets.typing import Subprotocol

from api.auth import DEMO_KEYS, ApiKeyAuthenticator, parse_api_keys
from domain.ownership import Role
from sandbox.endpoints import Endpoints
from server import AppOptions
from tests.accord import AccordServer

QUERY = "{ customers(first: 1) { nodes { name } } }"


@pytest.fixture(scope="module")
def keyed_only(sandbox: Endpoints) -> Iterator[AccordServer]:
    """An Accord that serves no anonymous reads, as against real systems by default."""
    with AccordServer(sandbox, options=AppOptions(api_keys=DEMO_KEYS, anonymous_reads=False)) as s:
        yield s


def test_a_configured_key_shorter_than_16_characters_is_refused_whatever_its_name() -> None:
    with pytest.raises(ValueError, match="shorter than 16"):
        parse_api_keys("demo-x=finance")
    with pytest.raises(ValueError, match="shorter than 16"):
        parse_api_keys("short=sales")
    assert parse_api_keys(" k3y-0f-s1xteen-chars = finance ") == {
        "k3y-0f-s1xteen-chars": DEMO_KEYS["demo-finance"]
    }


def test_without_anonymous_reads_http_wants_a_key(keyed_only: AccordServer) -> None:
    with keyed_only.client() as client:
        anonymous_post = client.post("/graphql", json={"query": QUERY})
        anonymous_get = client.get("/graphql", params={"query": QUERY})
        keyed = client.post(
            "/graphql", json={"query": QUERY}, headers={"Authorization": "Bearer demo-sales"}
        )
    assert anonymous_post.status_code == anonymous_get.status_code == 401
    assert keyed.status_code == 200
    assert keyed.json()["data"]["customers"]["nodes"][0]["name"]


async def test_without_anonymous_reads_a_websocket_wants_a_key(keyed_only: AccordServer) -> None:
    url = keyed_only.url.replace("http://", "ws://") + "/graphql"
    protocol = [Subprotocol("graphql-transport-ws")]

    # Given an anonymous connection, when it says hello, then it is refused (4403)
    async with websockets.connect(url, subprotocols=protocol) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403

    # and a connection with a key is served
    async with websockets.connect(url, subprotocols=protocol) as socket:
        init = {"type": "connection_init", "payload": {"Authorization": "Bearer demo-sales"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": QUERY}}))
        answer = json.loads(await socket.recv())
    assert answer["type"] == "next"
    assert answer["payload"]["data"]["customers"]["nodes"][0]["name"]


def test_keys_alike_in_their_first_characters_name_different_callers_and_stay_secret() -> None:
    first, second = "finance-team-key-0001", "finance-team-key-0002"
    keys = ApiKeyAuthenticator({first: Role.FINANCE, second: Role.FINANCE})

    one, other = keys.caller_for_key(first), keys.caller_for_key(second)

    assert one.name != other.name  # idempotency records and the audit tell them apart
    assert one.name == keys.caller_for_key(first).name
    assert "finance-team" not in one.name
    assert one.role is Role.FINANCE
