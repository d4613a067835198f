"""How Accord is served: uvicorn on the fastest loop and parser installed, on a settled heap.

uvloop (a libuv event loop) and httptools (the llhttp parser) make uvicorn's own share of a
small request several times cheaper than asyncio's loop and the pure-Python h11 parser. Both
are dependencies of Accord, but a platform without wheels for them still runs: each falls
back on its own to uvicorn's pure-Python choice.

Before serving, the heap built at start (modules, the schema, clients: some 100,000 objects)
is frozen out of the garbage collector's reach (`gc.freeze`): none of it is ever garbage, and
without this every full collection walks all of it, a pause of tens of milliseconds every
second or so under load.

The benchmark's baseline app is served by the same `serve`, so a comparison between the two
is of the applications alone.
"""

from __future__ import annotations

import gc
import importlib.util
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypedDict

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


class UvicornOptions(TypedDict):
    loop: LoopName
    http: HttpName


def uvicorn_options() -> UvicornOptions:
    """The ``loop`` and ``http`` keyword arguments for ``uvicorn.Config``."""
    return {"loop": event_loop(), "http": http_parser()}


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
