"""The HTTP/1.1 connections under Accord's upstream clients: httpx's API over the event
loop's own sockets and TLS, with responses parsed by httptools.

httpx's default async transport moves bytes through httpcore on AnyIO, whose TLS drives
OpenSSL through a memory BIO from Python code, with a cancel scope around every read and
write; on the read path that was most of Accord's own CPU time per upstream call.
`UpstreamPool` takes httpcore's place inside `httpx.AsyncHTTPTransport`, so the transport
still turns errors into httpx's exceptions and OpenTelemetry's httpx instrumentation still
wraps it. Its connections are asyncio protocols on the running loop (uvloop's sockets and TLS,
written in C, when it runs) and responses are parsed by httptools, the parser uvicorn uses.

What it does: HTTP/1.1 over TCP or TLS; keep-alive connections per origin, at most
``max_connections`` open in all (a request beyond waits for one, up to the pool timeout) and
at most ``max_keepalive`` of them idle; a connection that the server closed while idle is not
reused; request bodies with a Content-Length or chunked; responses with a Content-Length,
chunked, or read until the server closes; the connect, write, read and pool timeouts that
httpx passes with each request (the read timeout bounds the wait for the whole answer, not
each read); answers read whole, at most ``max_response_bytes`` of body.

What it does not: HTTP/2, proxies, Unix sockets or streamed answers. `upstream_client` keeps
httpx's own transport when the environment configures a proxy; every answer Accord reads
upstream is one JSON (or XML) document, read whole anyway.
"""

from __future__ import annotations

import asyncio
import collections
import json as _json
import re
import ssl
from collections.abc import AsyncIterable, Callable, Iterable
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit

import httpcore
import httptools
import httpx

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""The largest answer body an upstream may send (an ERP query page of 1,000 wide rows is a few
MB); beyond it the connection is dropped and the call fails as a protocol error."""

Origin = tuple[bytes, bytes, int]  # scheme, host, port


class _Answer:
    """What the parser has read of one response."""

    __slots__ = ("body", "framed", "headers", "keep_alive", "reason", "size", "status")

    def __init__(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.size = 0
        self.framed = False  # a Content-Length or chunked body, not one read until close
        self.keep_alive = False  # as the parser says at the end of the answer


class _Connection(asyncio.Protocol):
    """One keep-alive connection to an origin; one request at a time."""

    def __init__(self, max_response_bytes: int, lost: Callable[[_Connection], None]) -> None:
        self._lost = lost
        self.max_response_bytes = max_response_bytes
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._answer = _Answer()
        self._done: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._head_only = False

    # ------------------------------------------------------------------ asyncio protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's own classes

    def data_received(self, data: bytes) -> None:
        if self._done is None:  # bytes nobody asked for: the connection cannot be trusted
            self._fail(httpcore.RemoteProtocolError("the server sent data between answers"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            self._fail(exc.__context__ or httpcore.RemoteProtocolError(str(exc)))
        except httptools.HttpParserError as exc:
            self._fail(httpcore.RemoteProtocolError(f"malformed HTTP answer: {exc}"))

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._lost(self)
        answer = self._answer
        if self._done is not None and not self._done.done():
            if answer.status and not answer.framed and not self._head_only:
                self._done.set_result(None)  # a body delimited by the end of the connection
            else:
                self._done.set_exception(
                    httpcore.RemoteProtocolError(
                        "the server closed the connection before the answer was complete"
                        if answer.status
                        else "the server disconnected without sending an answer"
                    )
                )
        if self._writable is not None and not self._writable.done():
            self._writable.set_exception(httpcore.WriteError("the connection was closed"))

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    # ------------------------------------------------------------------ httptools callbacks

    def on_status(self, reason: bytes) -> None:
        self._answer.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._answer.headers.append((name, value))

    def on_headers_complete(self) -> None:
        answer = self._answer
        answer.status = self._parser.get_status_code()
        for name, value in answer.headers:
            lowered = name.lower()
            if lowered == b"content-length" or (
                lowered == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                answer.framed = True
        if answer.status in (204, 304) or answer.status < 200:
            answer.framed = True
        if self._head_only:
            self._finish()

    def on_body(self, body: bytes) -> None:
        answer = self._answer
        answer.size += len(body)
        if answer.size > self.max_response_bytes:
            raise httpcore.RemoteProtocolError(
                f"the answer is larger than {self.max_response_bytes} bytes"
            )
        answer.body.append(body)

    def on_message_complete(self) -> None:
        if self._answer.status < 200:  # 1xx: the real answer follows on the same connection
            self._answer = _Answer()
            return
        self._finish()

    # ------------------------------------------------------------------ requests

    def _finish(self) -> None:
        self._answer.keep_alive = self._parser.should_keep_alive()
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    @property
    def reusable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    async def exchange(
        self, head: bytes, body: list[bytes], timeouts: dict[str, float | None], head_only: bool
    ) -> tuple[_Answer, bool]:
        """Send one request and read its answer; the answer and whether the connection may
        carry another request."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self._answer = _Answer()
        self._head_only = head_only
        self._done = done = loop.create_future()
        try:
            self.transport.write(b"".join((head, *body)))  # one segment for small requests
            if self._writable is not None and not self._writable.done():
                try:
                    async with asyncio.timeout(timeouts.get("write")):
                        await self._writable
                except TimeoutError:
                    raise httpcore.WriteTimeout("timed out sending the request") from None
            try:
                async with asyncio.timeout(timeouts.get("read")):
                    await done
            except TimeoutError:
                raise httpcore.ReadTimeout("timed out waiting for the answer") from None
        except BaseException:
            self.close()  # an answer half read (or cancelled) leaves the stream unusable
            raise
        finally:
            self._done = None
        answer = self._answer
        return answer, not head_only and answer.framed and answer.keep_alive and self.reusable


class UpstreamPool:
    """httpcore's connection-pool interface, as `httpx.AsyncHTTPTransport` calls it."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        *,
        max_connections: int | None = 100,
        max_keepalive: int | None = 20,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.ssl_context = ssl_context
        self.max_connections = max_connections or 1_000_000
        self.max_keepalive = self.max_connections if max_keepalive is None else max_keepalive
        self.max_response_bytes = max_response_bytes
        self._idle: collections.OrderedDict[_Connection, Origin] = collections.OrderedDict()
        self._active = 0
        self.opened = 0  # connections opened over the pool's life
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False

    @property
    def connections(self) -> int:
        """Connections open: carrying a request or idle."""
        return self._active + len(self._idle)

    async def __aenter__(self) -> UpstreamPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        for connection in list(self._idle):
            connection.close()
        self._idle.clear()

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        url = request.url
        scheme = url.scheme.lower()
        if scheme not in (b"http", b"https"):
            raise httpcore.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        port = url.port or (443 if scheme == b"https" else 80)
        head, body = await _encode(request)
        answer = await self.exchange(
            (scheme, url.host, port),
            head,
            body,
            request.extensions.get("timeout", {}),
            head_only=request.method.upper() == b"HEAD",
        )
        return httpcore.Response(
            answer.status,
            headers=answer.headers,
            content=b"".join(answer.body),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason},
        )

    async def exchange(
        self,
        origin: Origin,
        head: bytes,
        body: list[bytes],
        timeouts: dict[str, float | None],
        *,
        head_only: bool = False,
    ) -> _Answer:
        """One request, its head and body as they go on the wire, on a connection to
        ``origin``: its answer, read whole. Failures are httpcore's exceptions."""
        if self._closed:
            raise RuntimeError("the upstream connection pool is closed")
        await self._acquire(timeouts.get("pool"))
        try:
            connection = self._idle_for(origin) or await self._connect(origin, timeouts)
            answer, keep = await connection.exchange(head, body, timeouts, head_only)
        finally:
            self._release()
        if keep and not self._closed and len(self._idle) < self.max_keepalive:
            self._idle[connection] = origin
        else:
            connection.close()
        return answer

    # ------------------------------------------------------------------ connections

    async def _acquire(self, wait: float | None) -> None:
        """Take one of the ``max_connections`` slots, waiting up to ``wait`` seconds."""
        if self._active < self.max_connections:
            self._active += 1
            return
        slot = asyncio.get_running_loop().create_future()
        self._waiting.append(slot)
        try:
            async with asyncio.timeout(wait):
                await slot  # handed over by `_release`, still counted as active
        except BaseException as exc:
            handed = slot.done() and not slot.cancelled()
            if slot in self._waiting:
                self._waiting.remove(slot)
            if isinstance(exc, TimeoutError):
                if handed:
                    return  # the slot came just as the wait ran out: take it
                raise httpcore.PoolTimeout("timed out waiting for an upstream connection") from None
            if handed:
                self._release()  # handed over as this waiter was cancelled: pass it on
            raise

    def _release(self) -> None:
        while self._waiting:
            slot = self._waiting.popleft()
            if not slot.done():
                slot.set_result(None)
                return
        self._active -= 1

    def _forget(self, connection: _Connection) -> None:
        """A connection closed (by either side): it no longer counts, if it was idle."""
        self._idle.pop(connection, None)

    def _idle_for(self, origin: Origin) -> _Connection | None:
        for connection, its_origin in reversed(self._idle.items()):  # the most recent first
            if its_origin != origin:
                continue
            del self._idle[connection]
            if connection.reusable:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin, timeouts: dict[str, float | None]) -> _Connection:
        while self._idle and self.connections >= self.max_connections:
            oldest, _ = self._idle.popitem(last=False)  # another origin's idle connection
            oldest.close()
        scheme, host, port = origin
        hostname = host.decode("ascii")
        self.opened += 1
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self.max_response_bytes, self._forget),
                    hostname,
                    port,
                    ssl=self.ssl_context if scheme == b"https" else None,
                    server_hostname=hostname if scheme == b"https" else None,
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"timed out connecting to {hostname}:{port}") from None
        except OSError as exc:  # refused, unreachable, name not known, TLS handshake failed
            raise httpcore.ConnectError(f"cannot connect to {hostname}:{port}: {exc}") from exc
        return connection


async def _encode(request: httpcore.Request) -> tuple[bytes, list[bytes]]:
    """The request's head, and its body as it goes on the wire."""
    chunked = any(
        name.lower() == b"transfer-encoding" and b"chunked" in value.lower()
        for name, value in request.headers
    )
    head = _head(b"%s %s HTTP/1.1" % (request.method, request.url.target), request.headers)
    parts = await _read(request.stream)
    if chunked:
        parts = [b"%x\r\n%s\r\n" % (len(part), part) for part in parts if part] + [b"0\r\n\r\n"]
    return head, parts


def _head(request_line: bytes, fields: Iterable[tuple[bytes, bytes]]) -> bytes:
    """A request's head: its request line and header fields; a field that would end its line
    or the head early (a line break, a colon in its name) is refused before anything is sent."""
    lines = [request_line]
    for name, value in fields:
        if _BREAKS.search(name) or _BREAKS.search(value) or b":" in name:
            raise httpcore.LocalProtocolError(f"the request header {name!r} cannot be sent")
        lines.append(b"%s: %s" % (name, value))
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _read(stream: Iterable[bytes] | AsyncIterable[bytes]) -> list[bytes]:
    if isinstance(stream, httpx.ByteStream):  # the usual case: content already in memory
        return [bytes(part) for part in stream]
    if isinstance(stream, AsyncIterable):
        return [bytes(part) async for part in stream]
    return [bytes(part) for part in stream]


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_TRANSPORT_ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
}
"""httpcore's failures as httpx raises them (`httpx.AsyncHTTPTransport` maps them the same)."""

_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))
_BREAKS = re.compile(rb"[\r\n\0]")  # in a header field, they would end it or the head early


class _Direct(NamedTuple):
    """A request as `UpstreamClient` sends it past httpx's layers."""

    method: str
    url: str
    origin: Origin
    head: bytes
    body: bytes


class _Response(httpx.Response):
    """An answer read by `UpstreamClient` on its direct way: its `request` is built only if
    someone asks for it."""

    _asked: tuple[str, str] = ("GET", "")

    @property
    def request(self) -> httpx.Request:
        if self._request is None:
            self._request = httpx.Request(*self._asked)
        return self._request

    @request.setter
    def request(self, value: httpx.Request) -> None:
        self._request = value


class UpstreamClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` that keeps no cookies: the upstream APIs authenticate every call
    with a header, and a cookie that one of them sets must not ride along with later calls.
    (It also spares each answer httpx's cookie extraction through `http.cookiejar`.)

    On `UpstreamPool`, a plain request (a URL as text, headers, a query of text parameters, a
    body of bytes, text or JSON; no per-call options) goes straight to the pool: its head is
    written here and its answer becomes an `httpx.Response`, without httpx's request model,
    auth, redirect and transport layers, which cost as much CPU as the exchange itself. Any
    other request, and every request while something wraps httpx's transport (OpenTelemetry's
    instrumentation, when tracing is on), takes httpx's own way."""

    _pool: UpstreamPool | None = None  # set by `upstream_client` when its pool serves

    @property
    def cookies(self) -> httpx.Cookies:
        return _NoCookies()

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("an upstream client keeps no cookies")

    async def request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        params: Any = None,
        content: Any = None,
        json: Any = None,
        headers: Any = None,
        **options: Any,
    ) -> httpx.Response:
        pool = self._pool
        direct = (
            None
            if options or pool is None
            else self._direct(method.upper(), url, params, content, json, headers)
        )
        if pool is None or direct is None:
            return await super().request(
                method, url, params=params, content=content, json=json, headers=headers, **options
            )
        try:
            answer = await pool.exchange(
                direct.origin,
                direct.head,
                [direct.body] if direct.body else [],
                self.timeout.as_dict(),
                head_only=direct.method == "HEAD",
            )
        except tuple(_TRANSPORT_ERRORS) as exc:
            raise next(
                theirs for ours, theirs in _TRANSPORT_ERRORS.items() if isinstance(exc, ours)
            )(str(exc)) from exc
        # as a transport hands its answer to httpx, read: a body sent as it is becomes the
        # content at once, an encoded one goes through httpx's decoders
        body = b"".join(answer.body)
        response = _Response(
            answer.status,
            headers=answer.headers,
            stream=httpx.ByteStream(body),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason},
            default_encoding=self._default_encoding,
        )
        response._asked = (direct.method, direct.url)
        if any(name.lower() == b"content-encoding" for name, _ in answer.headers):
            response.read()
        else:
            response._content = body
            response.is_stream_consumed = response.is_closed = True
        return response

    def _direct(
        self, method: str, url: Any, params: Any, content: Any, json: Any, headers: Any
    ) -> _Direct | None:
        """The request as it goes on the wire, or None when it needs httpx's own way."""
        if (
            not isinstance(url, str)
            or self._auth is not None
            or self.params
            or any(self._event_hooks.values())
            or _transport_wrapped()
        ):
            return None
        if "://" not in url:
            base = str(self.base_url)
            if not base:
                return None
            url = base.rstrip("/") + "/" + url.lstrip("/")  # a base URL ends in "/" (httpx)
        if not url.isascii() or not url.isprintable() or any(c in url for c in " #@\\"):
            return None  # needs escaping or carries credentials: httpx knows how
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            return None
        target = parts.path or "/"
        if params:
            if parts.query or not isinstance(params, dict):
                return None
            if not all(isinstance(v, str) for v in params.values()):
                return None
            target += "?" + urlencode(params)
        elif parts.query:
            target += "?" + parts.query
        if json is not None:
            if content is not None:
                return None
            body = _json.dumps(
                json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode()
        elif content is None:
            body = b""
        elif isinstance(content, bytes):
            body = content
        elif isinstance(content, str):
            body = content.encode()
        else:
            return None  # a stream or an iterator
        fields: dict[str, tuple[str, str]] = {}
        for name, value in self.headers.multi_items():
            fields[name] = (name, value)
        if headers:
            if not isinstance(headers, dict):
                return None
            for name, value in headers.items():
                if not isinstance(name, str) or not isinstance(value, str):
                    return None
                fields[name.lower()] = (name, value)
        if json is not None:
            fields.setdefault("content-type", ("Content-Type", "application/json"))
        if body or method in _BODY_METHODS:
            fields["content-length"] = ("Content-Length", str(len(body)))
        sent = [("Host", parts.netloc), *(f for key, f in fields.items() if key != "host")]
        try:
            head = _head(
                f"{method} {target} HTTP/1.1".encode("ascii"),
                [(n.encode("ascii"), v.encode("ascii")) for n, v in sent],
            )
        except (UnicodeEncodeError, httpcore.LocalProtocolError):
            return None  # beyond ASCII, or a field to refuse: httpx's way encodes or refuses it
        port = parts.port or (443 if scheme == "https" else 80)
        origin: Origin = (scheme.encode(), parts.hostname.encode(), port)
        return _Direct(method, url, origin, head, body)


def _transport_wrapped() -> bool:
    """Whether something (OpenTelemetry's httpx instrumentation) wraps httpx's transport,
    and so must see every request."""
    return hasattr(httpx.AsyncHTTPTransport.handle_async_request, "__wrapped__")


def _environment_proxies() -> bool:
    from httpx._utils import get_environment_proxies

    return bool(get_environment_proxies())


def upstream_client(
    *,
    verify: ssl.SSLContext | bool = True,
    limits: httpx.Limits | None = None,
    trust_env: bool = True,
    **options: Any,
) -> UpstreamClient:
    """A client for calls to an upstream system, on `UpstreamPool`; with httpx's own
    transport instead when ``trust_env`` and the environment names a proxy."""
    limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
    if trust_env and _environment_proxies():
        return UpstreamClient(verify=verify, limits=limits, trust_env=True, **options)
    context = (
        verify
        if isinstance(verify, ssl.SSLContext)
        else httpx.create_ssl_context(verify=verify, trust_env=trust_env)
    )
    transport = httpx.AsyncHTTPTransport(verify=context, limits=limits, trust_env=trust_env)
    transport._pool = UpstreamPool(  # type: ignore[assignment]
        context,
        max_connections=limits.max_connections,
        max_keepalive=limits.max_keepalive_connections,
    )
    client = UpstreamClient(transport=transport, trust_env=trust_env, **options)
    client._pool = transport._pool  # type: ignore[assignment]
    return client
