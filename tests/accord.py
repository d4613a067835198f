"""Test support: Accord served over real HTTP on a loopback port, and direct emulator reads.

`AccordServer` runs the real application (``server.create_app``) under uvicorn in a thread of
the test process, wired to the session's sandbox, so tests speak HTTP to Accord exactly as a
client would. `Emulators` (`sandbox.emulator_client.EmulatorClient`) reads and writes the
emulators' data directly, to check what Accord answers against what the systems hold.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

import httpx
import uvicorn

from api.auth import DEMO_KEYS
from api.serving import http_protocol
from sandbox.emulator_client import EmulatorClient
from sandbox.endpoints import Endpoints
from server import AppOptions, configs_from_endpoints, configs_of_crm, create_app
from sources import erps
from sources.resilience import ResiliencePolicy
from sources.salesforce_client import SalesforceConfig

T = TypeVar("T")

READER = "demo-finance"  # reads every field: what a test reads is the data, not its masking
FAST_POLICY = ResiliencePolicy(
    timeout=3.0, max_attempts=2, backoff_base=0.01, backoff_max=0.05, recovery_time=0.5
)


class AccordServer:
    def __init__(
        self,
        endpoints: Endpoints,
        policy: ResiliencePolicy = FAST_POLICY,
        options: AppOptions | None = None,
        *,
        cache: bool = True,
    ) -> None:
        """``cache=False`` turns the read cache off, for tests that count the upstream calls
        of a cold read."""
        # the sandbox's ERP is the one Accord runs on, configured as its adapter says
        chosen = erps.adapter(endpoints.sandbox.erp)
        salesforce: SalesforceConfig
        erp_config: Any
        if chosen.from_sandbox is not None:
            salesforce = configs_of_crm(endpoints, policy)
            erp_config = chosen.from_sandbox(endpoints, policy)
        else:
            salesforce, erp_config = configs_from_endpoints(endpoints, policy)
        self._socket = socket.socket()
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        options = options or AppOptions(api_keys=DEMO_KEYS)
        options = dataclasses.replace(options, erp=chosen.name)
        if not cache:
            options = dataclasses.replace(
                options, cache=dataclasses.replace(options.cache, enabled=False)
            )
        if options.events.sandbox is not None and options.events.public_url is None:
            # Webhooks from the sandbox are to reach this server, whose address is known now.
            options = dataclasses.replace(
                options, events=dataclasses.replace(options.events, public_url=self.url)
            )
        self.app = create_app(salesforce, erp_config, options)
        self._loop: asyncio.AbstractEventLoop | None = None
        # uvicorn's protocol as `api.serving` serves it (answers written in one piece)
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="on", http=http_protocol()
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="accord-test-server", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._socket])

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``work`` on the server's event loop (where its caches and clients live)."""
        assert self._loop is not None, "the server is not running"
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    def start(self) -> AccordServer:
        self._thread.start()
        wait_until_started(self._server, self._thread, "Accord", timeout=30)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kwargs)

    def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = READER,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """POST a query as the holder of API ``key`` (`READER` unless told; None: anonymous);
        the decoded body (asserting the HTTP status is 200)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        with self.client() as client:
            response = client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers=headers,
                **kwargs,
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def __enter__(self) -> AccordServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def wait_until_started(
    server: uvicorn.Server, thread: threading.Thread, what: str, *, timeout: float
) -> None:
    """Return once ``server``, serving in ``thread``, accepts connections."""
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.02)


# Direct reads and writes of the emulators' data over their own APIs (no Accord code involved).
Emulators = EmulatorClient
