"""How Accord is served: an answer's writes within one turn of the event loop leave as one."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import uvicorn

from api.serving import CoalescingTransport, coalescing, http_protocol
from tests.accord import AccordServer


class Socket(asyncio.Transport):
    """The transport under the coalescing one: what reached the socket, write by write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8000) if name == "sockname" else default


async def next_turn() -> None:
    await asyncio.sleep(0)


async def test_the_writes_of_one_turn_reach_the_socket_as_one_write_at_its_end() -> None:
    socket = Socket()
    transport = CoalescingTransport(socket)

    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"{}")
    assert socket.writes == []  # not yet: the turn has not ended
    assert transport.get_write_buffer_size() == 40
    await next_turn()

    assert socket.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    assert transport.get_write_buffer_size() == 0


async def test_writes_of_different_turns_stay_apart_and_in_order() -> None:
    socket = Socket()
    transport = CoalescingTransport(socket)

    transport.write(b"data: 1\n\n")
    await next_turn()
    transport.writelines([b"data: 2\n\n", bytearray(b"data: 3\n\n"), b""])
    await next_turn()

    assert socket.writes == [b"data: 1\n\n", b"data: 2\n\ndata: 3\n\n"]


async def test_closing_sends_what_was_written_first_and_aborting_drops_it() -> None:
    closed, aborted = Socket(), Socket()
    closing, aborting = CoalescingTransport(closed), CoalescingTransport(aborted)

    closing.write(b"last words")
    closing.close()
    aborting.write(b"never sent")
    aborting.abort()
    await next_turn()

    assert (closed.writes, closed.closed) == ([b"last words"], True)
    assert (aborted.writes, aborted.aborted) == ([], True)


async def test_nothing_is_written_to_a_transport_closed_underneath() -> None:
    socket = Socket()
    transport = CoalescingTransport(socket)

    transport.write(b"too late")
    socket.closed = True  # the peer went away within the turn
    await next_turn()

    assert socket.writes == []
    assert transport.is_closing()  # everything else is the wrapped transport's
    assert transport.get_extra_info("sockname") == ("127.0.0.1", 8000)


def test_uvicorn_is_given_its_own_protocol_writing_through_the_coalescing_transport() -> None:
    protocol = http_protocol()
    config = uvicorn.Config(lambda *_: None, http=protocol)
    config.load()

    assert config.http_protocol_class is protocol
    assert protocol.__name__.startswith("Coalescing")
    assert http_protocol() is protocol  # one class per parser, not one per call


async def test_the_protocol_hands_its_connection_the_coalescing_transport() -> None:
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.server import ServerState

    config = uvicorn.Config(lambda *_: None, http="h11")
    config.load()
    protocol = coalescing(H11Protocol)(config=config, server_state=ServerState(), app_state={})
    socket = Socket()

    protocol.connection_made(socket)

    assert isinstance(protocol.transport, CoalescingTransport)
    protocol.connection_lost(None)


def test_answers_and_errors_come_whole_through_the_served_protocol(accord: AccordServer) -> None:
    with httpx.Client(base_url=accord.url, timeout=10) as client:
        for _ in range(3):  # one connection, answers one after the other
            answer = client.post("/graphql", json={"query": "{ __typename }"})
            assert answer.json()["data"] == {"__typename": "Query"}
        refused = client.post(
            "/graphql", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert refused.status_code == 400
        assert "errors" in refused.json()
        assert client.post("/graphql", json={"query": "{ __typename }"}).status_code == 200
