"""How Accord is served: uvicorn on the fastest loop and parser installed, on a settled heap.

uvloop (a libuv event loop) and httptools (the llhttp parser) make uvicorn's own share of a
small request several times cheaper than asyncio's loop and the pure-Python h11 parser. Both
are dependencies of Accord, but a platform without wheels for them still runs: each falls
back on its own to uvicorn's pure-Python choice.

Before serving, the heap built at start (modules, the schema, clients: some 100,000 objects)
is frozen out of the garbage collector's reach (`gc.freeze`): none of it is ever garbage, and
without this every full collection walks all of it, a pause of tens of milliseconds every
second or so under load.

An answer leaves in one piece: uvicorn writes a response's head and its body to the socket
separately, and each write to a TCP socket is a system call that wakes the client, which then
reads the head alone and waits for the body. `coalescing` gives uvicorn's protocol a
transport that gathers the writes made in one turn of the event loop and sends them as one
(at the end of that turn, or before the connection closes): the head and body of a small
answer go out as one segment, and a stream's events written together go out together.

The benchmark's baseline app is served by the same `serve`, so a comparison between the two
is of the applications alone.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib.util
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal, TypedDict, TypeVar

import uvicorn

logger = logging.getLogger("accord")

LoopName = Literal["uvloop", "asyncio"]
HttpName = Literal["httptools", "h11"]


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def event_loop() -> LoopName:
    return "uvloop" if _installed("uvloop") else "asyncio"


def http_parser() -> HttpName:
    return "httptools" if _installed("httptools") else "h11"


class CoalescingTransport:
    """A stream transport whose writes within one turn of the event loop reach the socket as
    one write; everything else is the wrapped transport's."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending = []
            if not self._transport.is_closing():
                self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()  # what was written before closing still goes out
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


P = TypeVar("P", bound=asyncio.Protocol)


def coalescing(protocol: type[P]) -> type[P]:
    """``protocol`` (one of uvicorn's HTTP protocols) writing through a `CoalescingTransport`;
    a WebSocket upgraded from it inherits the same transport."""

    class Coalescing(protocol):  # type: ignore[valid-type, misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(CoalescingTransport(transport))  # type: ignore[arg-type]

    Coalescing.__name__ = Coalescing.__qualname__ = f"Coalescing{protocol.__name__}"
    return Coalescing


@functools.cache  # one class, whoever asks
def http_protocol() -> type[asyncio.Protocol]:
    """uvicorn's protocol class for `http_parser`'s parser, answering in one write."""
    if http_parser() == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return coalescing(HttpToolsProtocol)
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return coalescing(H11Protocol)


class UvicornOptions(TypedDict):
    loop: LoopName
    http: type[asyncio.Protocol]


def uvicorn_options() -> UvicornOptions:
    """The ``loop`` and ``http`` keyword arguments for ``uvicorn.Config``."""
    return {"loop": event_loop(), "http": http_protocol()}


GRACE = 10.0
"""Seconds a stopping server waits for open requests and streams before it cuts them off."""


def serve(
    app: Any,
    *,
    host: str,
    port: int,
    log_level: str,
    sock: socket.socket | None = None,
    on_started: Callable[[], None] | None = None,
    on_stopping: Callable[[], Awaitable[None]] | None = None,
    **config: Any,
) -> None:
    """Serve ``app`` with uvicorn (one process, no access log) until it is told to stop; on
    ``sock`` when given (bound already), else on ``host``:``port``. ``on_started`` is called
    once the application has started and the socket accepts connections.

    Once told to stop, the server stops accepting connections and awaits ``on_stopping``
    (where the application ends its event streams and WebSockets, `api.departure`); then
    the requests still open get `GRACE` seconds to finish before they are cut off."""
    config.setdefault("timeout_graceful_shutdown", GRACE)
    server = _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            **uvicorn_options(),
            **config,
        )
    )
    gc.collect()
    gc.freeze()
    # on the configured event loop: Server.serve under asyncio.run would not be
    server.on_started = on_started
    server.on_stopping = on_stopping
    server.run(sockets=[sock] if sock is not None else None)


class _Server(uvicorn.Server):
    on_started: Callable[[], None] | None = None
    on_stopping: Callable[[], Awaitable[None]] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_started is not None:
            self.on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn closes every WebSocket at once (1012) and waits for the other connections;
        # first, with no new connection coming in, the application ends its streams itself
        if self.on_stopping is not None and not self.force_exit:
            for server in self.servers:
                server.close()
            for sock in sockets or []:
                sock.close()
            try:
                await self.on_stopping()
            except Exception:  # stopping goes on: uvicorn then closes what is still open
                logger.exception("stopping: ending the open streams failed")
        await super().shutdown(sockets)
