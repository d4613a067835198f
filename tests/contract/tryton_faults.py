"""Fault injection in front of a real Tryton: a loopback HTTP proxy that forwards every
request to the sandbox's trytond as it is, behind the same control API the emulators carry
(``/__sandbox__/faults``, `sandbox.control`). The contract suite points the Tryton adapter at
the proxy, so an outage, a 5xx, garbage or a slow answer reaches it over real HTTP exactly as
they reach the NetSuite adapter from its emulator.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from sandbox.control import ControlMiddleware, ControlState

__all__ = ["TrytonFaultProxy"]

_FORWARDED = ("authorization", "content-type", "accept")


def _error(status: int, message: str) -> Response:
    # what a reverse proxy in front of trytond answers when the server is down or failing
    return PlainTextResponse(message, status_code=status)


class _Forward:
    """The ASGI app that hands each request to trytond and its answer back."""

    def __init__(self, upstream: str, ca_file: str | None) -> None:
        self.upstream = upstream.rstrip("/")
        self.verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_file) if ca_file else True
        )
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        if self._client is None:  # made in the proxy's own event loop
            self._client = httpx.AsyncClient(verify=self.verify, timeout=120.0)
        answer = await self._client.request(
            request.method,
            self.upstream + request.url.path,
            content=await request.body(),
            headers={k: v for k, v in request.headers.items() if k in _FORWARDED},
        )
        response = Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type"),
        )
        await response(scope, receive, send)


class TrytonFaultProxy:
    """``start()`` serves the proxy on a free loopback port (its URL); ``stop()`` ends it."""

    def __init__(self, upstream: str, ca_file: str | None) -> None:
        self.control = ControlState(lambda path: path)
        app = ControlMiddleware(_Forward(upstream, ca_file), self.control, _error)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="tryton-fault-proxy", daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve())

    def start(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Tryton fault proxy did not start")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
