"""Shared fixtures: one sandbox process for the whole run, its control API, the world it was
seeded from, and clients of it (Accord, the source adapters, the emulators' own APIs).

The sandbox runs as a child process (as it does under ``python server.py``), so every test
speaks real HTTP(S) to the emulators. Tests that count requests or inject faults reset the
emulators' control state before and after themselves through `SandboxControl`.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.clock import parse_instant
from sandbox.deals import Deals
from sandbox.endpoints import Endpoints, TrytonEndpoint
from sandbox.process import SandboxProcess
from sandbox.world import World, build_world
from sources.netsuite import NetSuiteErp
from sources.salesforce import SalesforceCrm
from tests.accord import AccordServer, Emulators
from tests.adapters import make_crm, make_erp
from tests.redis_keys import sweep
from tests.redis_server import RedisServer
from tests.sandbox.test_netsuite_support import NetSuiteHttp

SEED = 42
CUSTOMERS = 300
TRYTON_CUSTOMERS = 60  # Tryton posts every invoice itself, so a smaller world; 60 has every case
TEST_REDIS_URL = os.environ.get("ACCORD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session", autouse=True)
def _leave_redis_as_found() -> Iterator[None]:
    """Set up first, torn down last: after every other fixture (Accord processes included) has
    stopped, delete the keys this run wrote and fail the run if any come back."""
    yield
    left = sweep(TEST_REDIS_URL)
    if left:
        pytest.fail(f"the test run left {len(left)} keys in Redis, e.g. {left[:5]}", pytrace=False)


class SandboxControl:
    """The ``/__sandbox__/`` API of one emulator."""

    def __init__(self, base_url: str, ca_file: str | None) -> None:
        self.base_url = base_url
        verify = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._client = httpx.Client(base_url=base_url, verify=verify, timeout=10.0)

    def stats(self) -> dict[str, Any]:
        response = self._client.get("/__sandbox__/stats")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def count(self, endpoint: str) -> int:
        """Requests seen for one endpoint key, e.g. ``"GET /services/data/v59.0/query"``."""
        return int(self.stats()["by_endpoint"].get(endpoint, 0))

    def reset(self) -> None:
        self._client.post("/__sandbox__/reset").raise_for_status()

    def traceparents(self) -> list[str]:
        """The ``traceparent`` headers of the requests that carried one, oldest first."""
        response = self._client.get("/__sandbox__/traces")
        response.raise_for_status()
        return list(response.json()["traceparents"])

    def requests(self) -> list[dict[str, Any]]:
        """The requests since the last reset, in the order they arrived, each with its
        ``endpoint`` and the monotonic times it ``started`` and ``finished``."""
        response = self._client.get("/__sandbox__/requests")
        response.raise_for_status()
        return list(response.json()["requests"])

    def fault(self, **fault: Any) -> None:
        self._client.post("/__sandbox__/faults", json=fault).raise_for_status()

    def close(self) -> None:
        self._client.close()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Endpoints]:
    """Both emulators, seeded with the default world, for the whole test session."""
    process = SandboxProcess(seed=SEED, customers=CUSTOMERS)
    endpoints = process.start()
    yield endpoints
    process.stop()


@pytest.fixture(scope="session")
def tryton_sandbox() -> Iterator[Endpoints]:
    """The Salesforce emulator and a real Tryton server seeded from the same world, for the
    whole session. A cold start (no prepared database in the cache) activates Tryton's modules
    and seeds over JSON-RPC, about a minute; later runs copy the prepared database."""
    process = SandboxProcess(seed=SEED, customers=TRYTON_CUSTOMERS, erp="tryton")
    endpoints = process.start(timeout=900)
    yield endpoints
    process.stop()


@pytest.fixture(scope="session")
def writable_tryton_sandbox(tryton_sandbox: Endpoints) -> Iterator[Endpoints]:
    """A second Tryton sandbox for tests that write (the contract suite, the adapter's tests,
    Accord on Tryton): a copy of the session's prepared world, started in seconds, so the
    Tryton the seed tests read stays as seeded. Tests write records of their own, or put
    back what they change."""
    info = tryton_sandbox.sandbox
    process = SandboxProcess(seed=info.seed, customers=info.customers, erp="tryton")
    yield process.start(timeout=900)
    process.stop()


@pytest.fixture(scope="session")
def writable_tryton(writable_tryton_sandbox: Endpoints) -> TrytonEndpoint:
    """The Tryton of `writable_tryton_sandbox`."""
    return writable_tryton_sandbox.tryton


@pytest.fixture(scope="session")
def tryton_world(tryton_sandbox: Endpoints) -> World:
    """The world the Tryton sandbox was seeded from, built again in this process."""
    info = tryton_sandbox.sandbox
    return build_world(info.seed, info.customers, now=parse_instant(info.now))


@pytest.fixture(scope="session")
def world(sandbox: Endpoints) -> World:
    """The world the sandbox was seeded from, built again in this process (read-only)."""
    info = sandbox.sandbox
    return build_world(info.seed, info.customers, now=parse_instant(info.now))


@pytest.fixture(scope="session")
def _sf_control(sandbox: Endpoints) -> Iterator[SandboxControl]:
    control = SandboxControl(sandbox.salesforce.instance_url, sandbox.salesforce.ca_file)
    yield control
    control.close()


@pytest.fixture(scope="session")
def _ns_control(sandbox: Endpoints) -> Iterator[SandboxControl]:
    control = SandboxControl(sandbox.netsuite.base_url, sandbox.netsuite.ca_file)
    yield control
    control.close()


@pytest.fixture
def sf_control(_sf_control: SandboxControl) -> Iterator[SandboxControl]:
    """The Salesforce emulator's control API, with stats and faults reset around the test."""
    _sf_control.reset()
    yield _sf_control
    _sf_control.reset()


@pytest.fixture
def ns_control(_ns_control: SandboxControl) -> Iterator[SandboxControl]:
    """The NetSuite emulator's control API, with stats and faults reset around the test."""
    _ns_control.reset()
    yield _ns_control
    _ns_control.reset()


@pytest.fixture(scope="session")
def accord(sandbox: Endpoints) -> Iterator[AccordServer]:
    """Accord over real HTTP on a loopback port, wired to the session's sandbox."""
    with AccordServer(sandbox) as server:
        yield server


@pytest.fixture(scope="session")
def emulators(sandbox: Endpoints) -> Iterator[Emulators]:
    """Direct reads of what the emulators hold."""
    reader = Emulators(sandbox)
    yield reader
    reader.close()


@pytest.fixture
def deals(emulators: Emulators, world: World) -> Deals:
    """Fresh deals and customers in the session's sandbox, each test its own."""
    return Deals(emulators, world)


@pytest.fixture
async def crm(sandbox: Endpoints) -> AsyncIterator[SalesforceCrm]:
    """Accord's Salesforce adapter on the sandbox, started, with the fast test policy."""
    adapter = make_crm(sandbox)
    await adapter.start()
    yield adapter
    await adapter.close()


@pytest.fixture
async def erp(sandbox: Endpoints) -> AsyncIterator[NetSuiteErp]:
    """Accord's NetSuite adapter on the sandbox, started, with the fast test policy."""
    adapter = make_erp(sandbox)
    await adapter.start()
    yield adapter
    await adapter.close()


@pytest.fixture(scope="module")
def ns(sandbox: Endpoints) -> Iterator[NetSuiteHttp]:
    """A bare authenticated client of the NetSuite emulator, one per test module."""
    client = NetSuiteHttp.connect(sandbox)
    yield client
    client.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis that answers, for tests of state shared by replicas; fails the test when none does.

    Read from ``ACCORD_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``). Tests share the
    server: each writes under a key prefix of its own (``test:<uuid>:``) and deletes it after.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from state.redis_backend import redact_url

    url = TEST_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))
    problem: redis.RedisError | None = None
    try:
        client.ping()
    except redis.RedisError as exc:
        problem = exc
    finally:
        client.close()
    if problem is not None:
        pytest.fail(
            f"Redis is not reachable at {redact_url(url)} ({problem}). These tests need a real "
            "Redis 7: start redis-server, or point ACCORD_TEST_REDIS_URL at one.",
            pytrace=False,
        )
    return url


SLOW_GROUPS = ("bench", "fault_matrix", "fuzz", "second_erp")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test of a slow group is also ``slow``, so ``-m 'not slow'`` leaves every group out."""
    for item in items:
        if any(item.get_closest_marker(group) for group in SLOW_GROUPS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of this test's own (never the shared one), to stop, restart or pause."""
    with RedisServer(tmp_path) as server:
        yield server
