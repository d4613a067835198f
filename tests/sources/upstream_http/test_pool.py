"""The connection pool under the upstream clients (`sources.upstream_http`): real HTTPS to the
sandbox's Salesforce emulator, and small raw servers on loopback for what a well-behaved
emulator never does (chunked or unframed answers, closed connections, garbage, silence).

Every test runs on asyncio's own loop and on uvloop (conftest.py)."""

from __future__ import annotations

import asyncio
import functools
import gzip
import inspect
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import cast

import httpcore
import httpx
import pytest

from sandbox.endpoints import Endpoints
from sources.upstream_http import UpstreamPool, upstream_client


def _pool(client: httpx.AsyncClient) -> UpstreamPool:
    pool = client._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool, UpstreamPool)
    return pool


# ---------------------------------------------------------------------- against the emulator


async def _soql(client: httpx.AsyncClient, sandbox: Endpoints, query: str) -> httpx.Response:
    endpoint = sandbox.salesforce
    return await client.get(
        f"{endpoint.instance_url}/services/data/v59.0/query",
        params={"q": query},
        headers={"Authorization": f"Bearer {endpoint.session_id}"},
    )


@pytest.fixture
async def salesforce(sandbox: Endpoints) -> AsyncIterator[httpx.AsyncClient]:
    context = ssl.create_default_context(cafile=sandbox.salesforce.ca_file)
    async with upstream_client(verify=context, trust_env=False, timeout=10) as client:
        yield client


async def test_calls_to_the_emulator_share_one_tls_connection(
    salesforce: httpx.AsyncClient, sandbox: Endpoints
) -> None:
    for _ in range(5):
        answer = await _soql(salesforce, sandbox, "SELECT Id, Name FROM Account LIMIT 2")
        assert answer.status_code == 200
        assert len(answer.json()["records"]) == 2
        assert answer.http_version == "HTTP/1.1"
    assert _pool(salesforce).opened == 1
    assert _pool(salesforce).connections == 1


async def test_concurrent_calls_open_connections_up_to_the_limit(sandbox: Endpoints) -> None:
    context = ssl.create_default_context(cafile=sandbox.salesforce.ca_file)
    limits = httpx.Limits(max_connections=3, max_keepalive_connections=3)
    async with upstream_client(verify=context, limits=limits, trust_env=False) as client:
        answers = await asyncio.gather(
            *(_soql(client, sandbox, "SELECT Id FROM Account LIMIT 1") for _ in range(12))
        )
        assert [answer.status_code for answer in answers] == [200] * 12
        assert _pool(client).opened <= 3
        assert _pool(client).connections <= 3


async def test_an_upstream_error_answer_is_read_like_any_other(
    salesforce: httpx.AsyncClient, sandbox: Endpoints
) -> None:
    answer = await _soql(salesforce, sandbox, "SELECT Nope FROM Nowhere")
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"]
    again = await _soql(salesforce, sandbox, "SELECT Id FROM Account LIMIT 1")
    assert again.status_code == 200
    assert _pool(salesforce).opened == 1


async def test_a_certificate_the_client_does_not_trust_fails_to_connect(
    sandbox: Endpoints,
) -> None:
    async with upstream_client(verify=True, trust_env=False) as client:  # system CAs only
        with pytest.raises(httpx.ConnectError):
            await _soql(client, sandbox, "SELECT Id FROM Account LIMIT 1")


# ---------------------------------------------------------------------- raw servers

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Reply = Callable[[bytes], bytes]


class RawServer:
    """A loopback server whose every connection runs ``handler`` (or, given a function of a
    request, answers every request with what it returns); counts connections."""

    def __init__(self, handler: Handler | Reply) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if inspect.iscoroutinefunction(self.handler):
                await self.handler(reader, writer)
            else:
                reply = cast(Reply, self.handler)
                while True:
                    writer.write(reply(await self.request(reader)))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def request(self, reader: asyncio.StreamReader) -> bytes:
        """One request, head and body (Content-Length or chunked), as it came."""
        head = await reader.readuntil(b"\r\n\r\n")
        body = b""
        lowered = head.lower()
        if b"content-length:" in lowered:
            length = int(lowered.split(b"content-length:")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
        elif b"transfer-encoding: chunked" in lowered:
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await reader.readexactly(size + 2)
                body += chunk[:-2]
                if size == 0:
                    break
        self.requests.append(head + body)
        return head + body


Serve = Callable[[Handler | Reply], Awaitable[tuple[RawServer, str]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler | Reply) -> tuple[RawServer, str]:
        raw = RawServer(handler)
        server = await asyncio.start_server(raw._serve, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return raw, f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.close()


def _client(**options: object) -> httpx.AsyncClient:
    return upstream_client(trust_env=False, **options)  # type: ignore[arg-type]


def _answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def test_keep_alive_and_request_bodies_as_sent(serve: Serve) -> None:
    raw, url = await serve(lambda request: _answer(request.split(b"\r\n\r\n", 1)[1]))
    async with _client() as client:
        first = await client.post(url + "/a", content=b"hello")
        second = await client.post(url + "/b", json={"n": 1})

        async def parts() -> AsyncIterator[bytes]:
            yield b"chunk-one "
            yield b"chunk-two"

        third = await client.post(url + "/c", content=parts())
        assert (first.content, second.json(), third.content) == (
            b"hello",
            {"n": 1},
            b"chunk-one chunk-two",
        )
        assert raw.connections == 1
        assert b"transfer-encoding: chunked" in raw.requests[2].lower()
        assert raw.requests[0].startswith(b"POST /a HTTP/1.1\r\n")
        assert b"host: 127.0.0.1" in raw.requests[0].lower()


async def test_chunked_and_compressed_answers_are_decoded(serve: Serve) -> None:
    packed = gzip.compress(b'{"ok": true}')

    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await raw.request(reader)
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
            )
            for start in range(0, len(packed), 7):
                part = packed[start : start + 7]
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await writer.drain()
            writer.write(b"0\r\n\r\n")

    raw, url = await serve(chunked)
    async with _client() as client:
        for _ in range(2):
            answer = await client.get(url)
            assert answer.json() == {"ok": True}
        assert raw.connections == 1


async def test_an_answer_read_until_close_is_whole_and_its_connection_not_reused(
    serve: Serve,
) -> None:
    async def unframed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of ")
        await writer.drain()
        writer.write(b"it")
        await writer.drain()

    raw, url = await serve(unframed)
    async with _client() as client:
        assert (await client.get(url)).text == "all of it"
        assert (await client.get(url)).text == "all of it"
        assert raw.connections == 2
        assert _pool(client).connections == 0


async def test_connection_close_and_a_server_that_hangs_up_while_idle(serve: Serve) -> None:
    async def one_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.request(reader)
        close = ("Connection: close",) if raw.connections % 2 else ()
        writer.write(_answer(b"ok", *close))
        await writer.drain()
        # the even connections stay open a moment, then the server closes them idle

    raw, url = await serve(one_each)
    async with _client() as client:
        for _ in range(4):
            assert (await client.get(url)).text == "ok"
            await asyncio.sleep(0.01)  # the server's close reaches the client
        assert raw.connections == 4
        assert _pool(client).connections == 0


async def test_garbage_and_silence_are_protocol_errors_and_nothing_is_kept(serve: Serve) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.request(reader)
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    raw, url = await serve(garbage)
    async with _client() as client:
        with pytest.raises(httpx.RemoteProtocolError, match="malformed HTTP answer"):
            await client.get(url)
        assert _pool(client).connections == 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.request(reader)

    raw, url = await serve(hang_up)
    async with _client() as client:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending an answer"):
            await client.get(url)

    async def half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()

    raw, url = await serve(half)
    async with _client() as client:
        with pytest.raises(httpx.RemoteProtocolError, match="before the answer was complete"):
            await client.get(url)


async def test_an_answer_over_the_size_limit_is_refused(serve: Serve) -> None:
    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.request(reader)
        writer.write(_answer(b"x" * 5000))
        await writer.drain()

    raw, url = await serve(big)
    transport = httpx.AsyncHTTPTransport()
    transport._pool = UpstreamPool(ssl.create_default_context(), max_response_bytes=4096)  # type: ignore[assignment]
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.RemoteProtocolError, match="larger than 4096 bytes"):
            await client.get(url)


async def test_timeouts_map_to_httpx_and_the_connection_is_dropped(serve: Serve) -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            request = await raw.request(reader)
            if b"/slow" in request.split(b"\r\n", 1)[0]:
                await asyncio.sleep(2)
            writer.write(_answer(b"late" if b"/slow" in request else b"ok"))
            await writer.drain()

    raw, url = await serve(slow)
    async with _client(timeout=httpx.Timeout(5, read=0.2)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(url + "/slow")
        assert _pool(client).connections == 0
        assert (await client.get(url + "/fast")).text == "ok"
        assert raw.connections == 2


async def test_a_refused_connection_is_a_connect_error() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with _client() as client:
        with pytest.raises(httpx.ConnectError, match=f"127.0.0.1:{port}"):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_the_connection_limit_queues_and_the_pool_timeout_ends_the_wait(serve: Serve) -> None:
    release = asyncio.Event()

    async def held(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await raw.request(reader)
            await release.wait()
            writer.write(_answer(b"ok"))
            await writer.drain()

    raw, url = await serve(held)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with _client(limits=limits, timeout=httpx.Timeout(5, pool=0.2)) as client:
        first = asyncio.ensure_future(client.get(url))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await client.get(url)
        waiting = asyncio.ensure_future(client.get(url))
        await asyncio.sleep(0.05)
        release.set()
        assert [(await first).text, (await waiting).text] == ["ok", "ok"]
        assert raw.connections == 1


async def test_a_cancelled_call_frees_its_slot_and_drops_its_connection(serve: Serve) -> None:
    async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.request(reader)
        await asyncio.sleep(5)

    raw, url = await serve(never)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with _client(limits=limits) as client:
        call = asyncio.ensure_future(client.get(url))
        await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert _pool(client).connections == 0  # the slot is free again


def test_a_proxy_in_the_environment_keeps_httpx_s_own_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    proxied = upstream_client()
    assert not any(
        isinstance(getattr(transport, "_pool", None), UpstreamPool)
        for transport in [proxied._transport, *proxied._mounts.values()]
    )
    direct = upstream_client(trust_env=False)
    assert isinstance(_pool(direct), UpstreamPool)
    assert not isinstance(_pool(direct), httpcore.AsyncConnectionPool)


async def test_cookies_an_upstream_sets_are_not_sent_back(serve: Serve) -> None:
    raw, url = await serve(lambda _: _answer(b"ok", "Set-Cookie: sid=secret; Path=/"))
    async with _client() as client:
        await client.get(url)
        await client.get(url)
        assert len(raw.requests) == 2
        assert b"cookie:" not in raw.requests[1].lower()
        assert not client.cookies
        with pytest.raises(TypeError):
            client.cookies = {"sid": "x"}


# ---------------------------------------------------------------------- the direct way


def _wire(request: bytes) -> tuple[bytes, list[tuple[bytes, bytes]], bytes]:
    """A request as a server reads it: its request line, its header fields (names lowered,
    sorted) and its body."""
    head, body = request.split(b"\r\n\r\n", 1)
    line, *fields = head.split(b"\r\n")
    pairs = [tuple(part.strip() for part in field.split(b":", 1)) for field in fields]
    return line, sorted((name.lower(), value) for name, value in pairs), body


async def test_a_plain_request_goes_on_the_wire_as_httpx_s_own_way_sends_it(serve: Serve) -> None:
    raw, url = await serve(lambda _: _answer(b'{"ok": true}', "Content-Type: application/json"))
    soql = "SELECT Id FROM Account WHERE Name LIKE '%ab%' AND Owner = 'Zoë + Co & Sons='"
    requests: list[tuple[str, str, dict[str, object]]] = [
        ("GET", "query/", {"params": {"q": soql}}),
        ("GET", "/services/data/v60.0/sobjects/Account/001", {}),
        ("GET", url + "/absolute/path?already=there", {}),
        ("POST", "composite", {"json": {"name": "Zoë", "amount": 12.5, "none": None}}),
        ("PUT", "record/1", {"content": "text body", "headers": {"Accept": "text/plain"}}),
        ("POST", "empty", {"headers": {"Authorization": "Bearer t", "X-Trace": "1"}}),
        ("DELETE", "record/2", {}),
    ]
    base = url + "/services/data/v60.0/"
    async with (
        upstream_client(trust_env=False, base_url=base, headers={"X-Client": "accord"}) as ours,
        httpx.AsyncClient(base_url=base, headers={"X-Client": "accord"}) as httpx_own,
    ):
        for method, target, options in requests:
            direct = await ours.request(method, target, **options)
            assert type(direct).__name__ == "_Response", (method, target)  # the direct way
            assert direct.json() == {"ok": True}
            assert direct.is_closed  # read whole
            assert await direct.aread() == direct.content
            assert direct.request.method == method
            assert str(direct.request.url).startswith(url)
            await httpx_own.request(method, target, **options)  # type: ignore[arg-type]
            sent_directly, sent_by_httpx = raw.requests[-2], raw.requests[-1]
            assert _wire(sent_directly) == _wire(sent_by_httpx), (method, target)


async def test_a_request_with_options_or_beyond_ascii_or_a_wrapped_transport_takes_httpx_s_way(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = await serve(lambda request: _answer(request.split(b"\r\n", 1)[0]))
    async with _client() as client:
        with_option = await client.get(url + "/a", timeout=3)
        beyond_ascii = await client.get(url + "/zoë")
        assert (with_option.text, beyond_ascii.text) == (
            "GET /a HTTP/1.1",
            "GET /zo%C3%AB HTTP/1.1",
        )
        assert type(with_option).__name__ == type(beyond_ascii).__name__ == "Response"

        # something wrapping httpx's transport (as OpenTelemetry's instrumentation does) sees
        # every request
        original = httpx.AsyncHTTPTransport.handle_async_request
        seen: list[str] = []

        @functools.wraps(original)
        async def observed(
            self: httpx.AsyncHTTPTransport, request: httpx.Request
        ) -> httpx.Response:
            seen.append(str(request.url))
            return await original(self, request)

        monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", observed)
        assert (await client.get(url + "/b")).text == "GET /b HTTP/1.1"
        assert seen == [url + "/b"]


async def test_a_header_that_would_end_the_head_early_is_refused_before_anything_is_sent(
    serve: Serve,
) -> None:
    raw, url = await serve(lambda _: _answer(b"ok"))
    async with _client() as client:
        for headers in (
            {"X-Trace": "1\r\nX-Injected: yes"},
            {"X-Trace": "1\nX-Injected: yes"},
            {"X-Bad:Name": "1"},
        ):
            with pytest.raises(httpx.LocalProtocolError, match="cannot be sent"):
                await client.get(url + "/a", headers=headers)
        assert (await client.get(url + "/a", headers={"X-Trace": "1"})).text == "ok"
    assert len(raw.requests) == 1
    assert b"x-injected" not in raw.requests[0].lower()
