"""Reconciliation test support: sandboxes of their own, as seeded.

The session's sandbox gathers the writes of every other test (new accounts, bookings), which
are drift too; a reconciliation is checked against the seeded world only on a sandbox no other
test writes to. `pristine` is never written to; tests that apply fixes start their own with
`own_sandbox`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.clock import parse_instant
from sandbox.endpoints import Endpoints
from sandbox.process import SandboxProcess
from sandbox.world import World, build_world
from tests.conftest import CUSTOMERS, SEED, SandboxControl


def own_sandbox() -> tuple[SandboxProcess, Endpoints]:
    process = SandboxProcess(seed=SEED, customers=CUSTOMERS)
    return process, process.start()


def world_of(endpoints: Endpoints) -> World:
    info = endpoints.sandbox
    return build_world(info.seed, info.customers, now=parse_instant(info.now))


@pytest.fixture(scope="package")
def pristine() -> Iterator[Endpoints]:
    """A sandbox as seeded, for the whole package; no test writes to it."""
    process, endpoints = own_sandbox()
    yield endpoints
    process.stop()


@pytest.fixture(scope="package")
def pristine_world(pristine: Endpoints) -> World:
    return world_of(pristine)


@pytest.fixture
def pristine_controls(pristine: Endpoints) -> Iterator[tuple[SandboxControl, SandboxControl]]:
    """The pristine sandbox's Salesforce and NetSuite control APIs, reset around the test."""
    sf = SandboxControl(pristine.salesforce.instance_url, pristine.salesforce.ca_file)
    ns = SandboxControl(pristine.netsuite.base_url, pristine.netsuite.ca_file)
    for control in (sf, ns):
        control.reset()
    yield sf, ns
    for control in (sf, ns):
        control.reset()
        control.close()
