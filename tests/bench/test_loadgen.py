"""The benchmarks' load generator counts what it is answered, and never drops an error:
against small loopback servers that answer well, with errors, or break their connections."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bench import loadgen

Answer = Callable[[int], bytes]  # the n-th request's answer, counted over all connections


def answer(status: int, body: bytes, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


GOOD = b'{"data": {"customer": {"name": "Acme"}}}'


Server = Callable[[Answer], Awaitable[int]]


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    servers: list[asyncio.Server] = []
    counter = itertools.count()

    async def start(reply: Answer) -> int:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    await reader.readexactly(length)
                    data = reply(next(counter))
                    if not data:
                        break  # hang up
                    writer.write(data)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        listening = await asyncio.start_server(serve, "127.0.0.1", 0)
        servers.append(listening)
        return int(listening.sockets[0].getsockname()[1])

    yield start
    for listening in servers:
        listening.close()


def requests(port: int) -> list[bytes]:
    return [loadgen.graphql_post("127.0.0.1", port, "{ a }", {"n": n}) for n in range(3)]


async def test_every_answer_is_counted_with_its_latency(server: Server) -> None:
    port = await server(lambda n: answer(200, GOOD))
    result = await loadgen.run_load(
        "127.0.0.1", port, requests(port), concurrency=4, duration=0.3, warmup=0.1
    )
    assert result.errors == 0
    assert result.requests > 0
    assert len(result.latencies) == result.requests
    assert 0.25 < result.seconds < 2


async def test_errors_in_status_or_body_are_counted_and_sampled(server: Server) -> None:
    def reply(n: int) -> bytes:
        if n % 3 == 1:
            return answer(500, b"boom")
        if n % 3 == 2:
            return answer(200, b'{"errors": [{"message": "no"}], "data": null}')
        return answer(200, GOOD)

    port = await server(reply)
    result = await loadgen.run_load("127.0.0.1", port, requests(port), concurrency=1, duration=0.2)
    assert result.errors >= 2 * (result.requests - 1)
    assert any(sample.startswith("HTTP 500: boom") for sample in result.error_samples)
    assert any('"errors"' in sample for sample in result.error_samples)
    assert len(result.error_samples) <= loadgen.MAX_SAMPLES


async def test_a_broken_connection_is_an_error_and_the_load_goes_on(server: Server) -> None:
    port = await server(lambda n: answer(200, GOOD) if n % 2 else b"")
    result = await loadgen.run_load("127.0.0.1", port, requests(port), concurrency=2, duration=0.2)
    assert result.errors > 0
    assert result.requests > 0
    assert any("closed by the server" in sample for sample in result.error_samples)


async def test_garbage_is_not_an_answer(server: Server) -> None:
    port = await server(lambda n: b"SSH-2.0-OpenSSH\r\n\r\n")
    result = await loadgen.run_load("127.0.0.1", port, requests(port), concurrency=1, duration=0.1)
    assert result.requests == 0
    assert any("not an HTTP answer" in sample for sample in result.error_samples)
