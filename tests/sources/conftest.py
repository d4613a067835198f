"""Adapters wired to the session's sandbox, and the world the sandbox was seeded from."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from sandbox.endpoints import Endpoints
from sandbox.world import World, build_world
from server import configs_from_endpoints
from sources.netsuite import NetSuiteErp
from sources.resilience import ResiliencePolicy
from sources.salesforce import SalesforceCrm
from tests.conftest import CUSTOMERS, SEED

# Fast enough to keep fault tests short, generous enough for a loaded CI machine.
TEST_POLICY = ResiliencePolicy(
    timeout=5.0,
    max_attempts=3,
    backoff_base=0.01,
    backoff_max=0.05,
    failure_threshold=5,
    recovery_time=0.5,
)


@pytest.fixture(scope="session")
def world(sandbox: Endpoints) -> World:
    return build_world(SEED, CUSTOMERS, as_of=dt.date.fromisoformat(sandbox.sandbox.as_of))


def make_crm(sandbox: Endpoints, policy: ResiliencePolicy = TEST_POLICY) -> SalesforceCrm:
    config, _ = configs_from_endpoints(sandbox, policy)
    return SalesforceCrm(config)


def make_erp(sandbox: Endpoints, policy: ResiliencePolicy = TEST_POLICY) -> NetSuiteErp:
    _, config = configs_from_endpoints(sandbox, policy)
    return NetSuiteErp(config, today=lambda: dt.date.fromisoformat(sandbox.sandbox.as_of))


@pytest.fixture
async def crm(sandbox: Endpoints) -> AsyncIterator[SalesforceCrm]:
    adapter = make_crm(sandbox)
    await adapter.start()
    yield adapter
    await adapter.close()


@pytest.fixture
async def erp(sandbox: Endpoints) -> AsyncIterator[NetSuiteErp]:
    adapter = make_erp(sandbox)
    await adapter.start()
    yield adapter
    await adapter.close()
