"""Test support for webhooks: small ASGI apps served over real HTTP, and a recording receiver.

`serve` runs any ASGI app under uvicorn on a loopback port in a thread of the test process;
`serving` does the same on the test's own event loop.
`Receiver` is a webhook endpoint that records every request and can fail the first ones, to
see an emulator retry. `WebhookTargets` registers and removes targets through an emulator's
``/__sandbox__/webhooks`` control API, so a test leaves the session's sandbox as it found it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

WAIT = 10.0
"""Seconds an expected delivery may take before the test fails: generous, never a target."""


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """``app`` on a loopback port (plain HTTP); yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    )

    def run() -> None:
        asyncio.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, name="test-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """``app`` on a loopback port, served by the running event loop; yields its base URL.

    For apps that share async clients (adapters, state) with the test itself."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        assert not task.done(), "the test server stopped while starting"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered
    at: float = 0.0  # time.monotonic() when it arrived


class Receiver:
    """Records each POST to ``/hook``; answers ``fail_status`` to the first ``fail_first``
    (with ``Retry-After: retry_after`` when given)."""

    def __init__(
        self, fail_first: int = 0, fail_status: int = 503, retry_after: str | None = None
    ) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.retry_after = retry_after
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            status = self.fail_status if len(self.received) < self.fail_first else 200
            self.received.append(Received(dict(request.headers), body, status, time.monotonic()))
        headers = {"Retry-After": self.retry_after} if self.retry_after and status != 200 else {}
        return JSONResponse({"status": status}, status_code=status, headers=headers)

    def wait_for(
        self, accept: Callable[[Received], bool], *, count: int = 1, timeout: float = WAIT
    ) -> list[Received]:
        """The recorded requests ``accept`` takes, once there are ``count`` of them."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [item for item in self.received if accept(item)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


class WebhookTargets:
    """Targets registered on one emulator by a test; `close` switches them all off."""

    def __init__(self, base_url: str, ca_file: str | None) -> None:
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_file) if ca_file else True
        )
        self.client = httpx.Client(base_url=base_url, verify=verify, timeout=10.0)
        self.urls: set[str] = set()

    def post(self, body: Any) -> httpx.Response:
        return self.client.post("/__sandbox__/webhooks", json=body)

    def add(self, url: str, secret: str | list[str]) -> dict[str, Any]:
        response = self.post({"url": url, "secret": secret, "enabled": True})
        assert response.status_code == 200, response.text
        self.urls.add(url)
        answer: dict[str, Any] = response.json()
        return answer

    def disable(self, url: str) -> None:
        response = self.post({"url": url, "enabled": False})
        assert response.status_code == 200, response.text

    def listing(self) -> dict[str, dict[str, Any]]:
        response = self.client.get("/__sandbox__/webhooks")
        assert response.status_code == 200, response.text
        return {target["url"]: target for target in response.json()["targets"]}

    def close(self) -> None:
        for url in self.urls:
            self.disable(url)
        self.client.close()
