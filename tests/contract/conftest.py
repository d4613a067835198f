"""The port contract suites: one set of tests that every adapter of a port must pass.

Each adapter joins through a *harness*: the adapter, started against a system seeded from a
sandbox `World`, plus the few things a test cannot do through the port itself (inject a
fault, invoice an order to have something to pay). Reads are checked against the world; ERP
ids are never assumed: a test finds a customer by its cross-reference key (which every ERP
holds) and follows the ids the adapter hands back, as opaque strings.

Add an ERP by adding a harness to `ERP_HARNESSES`; the ``erp_harness`` fixture runs every
test once per entry, and nothing in the tests changes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import httpx
import pytest

from sandbox.endpoints import Endpoints, TrytonEndpoint
from sandbox.world import World
from sources.netsuite import NetSuiteErp
from sources.ports import CrmPort, ErpPort
from sources.resilience import ResiliencePolicy
from sources.tryton.adapter import TrytonErp
from sources.tryton.rpc import TrytonConfig, TrytonRpc
from tests.accord import Emulators
from tests.adapters import make_crm, make_erp
from tests.conftest import SandboxControl
from tests.contract.tryton_faults import TrytonFaultProxy
from tests.events.http_support import Receiver, WebhookTargets, serve
from tests.sandbox.test_netsuite_support import NetSuiteHttp
from tests.sandbox.tryton_support import rpc_for

# Fails fast, retries little: a contract test waits for nothing it does not need.
CONTRACT_POLICY = ResiliencePolicy(
    timeout=2.0,
    max_attempts=2,
    backoff_base=0.01,
    backoff_max=0.02,
    failure_threshold=1000,
    recovery_time=0.5,
)


class Faults(Protocol):
    """Fault injection in front of one system: every request answered as the fault says."""

    def outage(self) -> contextlib.AbstractContextManager[None]: ...

    def errors(self, status: int) -> contextlib.AbstractContextManager[None]: ...

    def garbage(self) -> contextlib.AbstractContextManager[None]: ...

    def latency(self, seconds: float) -> contextlib.AbstractContextManager[None]: ...


@dataclass
class ErpHarness:
    name: str
    erp: ErpPort
    world: World
    faults: Faults

    def today(self) -> dt.date:
        """The ERP's own date (overdue is judged by it)."""
        return self.erp.today()

    async def invoice_order(self, customer_erp_id: str, order_erp_id: str) -> str:
        """Bill a sales order in full (set-up for payment tests); the invoice's id."""
        raise NotImplementedError

    async def close(self) -> None:
        await self.erp.close()  # type: ignore[attr-defined]

    def notifications(self) -> contextlib.AbstractContextManager[Receiver | None]:
        """While open, the notifications the system pushes, as it sends them (None: it pushes
        none; the adapter's ``webhooks`` says the same)."""
        return contextlib.nullcontext()


@dataclass
class CrmHarness:
    name: str
    crm: CrmPort
    world: World
    faults: Faults
    new_account: Callable[[str], str]  # an account of this name, created in the CRM: its id


class ControlFaults:
    """`Faults` through a sandbox emulator's control API (``/__sandbox__/faults``)."""

    def __init__(self, control: SandboxControl, pattern: str = "/*") -> None:
        self.control = control
        self.pattern = pattern

    @contextlib.contextmanager
    def _fault(self, **fault: object) -> Iterator[None]:
        self.control.fault(pattern=self.pattern, **fault)
        try:
            yield
        finally:
            self.control.fault(clear=True)

    def outage(self) -> contextlib.AbstractContextManager[None]:
        return self._fault(outage=True)

    def errors(self, status: int) -> contextlib.AbstractContextManager[None]:
        return self._fault(error_rate=1.0, error_status=status)

    def garbage(self) -> contextlib.AbstractContextManager[None]:
        return self._fault(garbage=True)

    def latency(self, seconds: float) -> contextlib.AbstractContextManager[None]:
        return self._fault(latency_ms=int(seconds * 1000))


class NetSuiteHarness(ErpHarness):
    def __init__(
        self,
        erp: NetSuiteErp,
        world: World,
        control: SandboxControl,
        ns: NetSuiteHttp,
        sandbox: Endpoints,
    ):
        super().__init__("netsuite", erp, world, ControlFaults(control, "/services/rest/*"))
        self.ns = ns
        self.sandbox = sandbox

    @contextlib.contextmanager
    def notifications(self) -> Iterator[Receiver | None]:
        receiver = Receiver()
        targets = WebhookTargets(self.sandbox.netsuite.base_url, self.sandbox.netsuite.ca_file)
        with serve(receiver.app) as url:
            targets.add(f"{url}/hook", "contract-suite-secret")
            try:
                yield receiver
            finally:
                targets.close()

    async def invoice_order(self, customer_erp_id: str, order_erp_id: str) -> str:
        return self.ns.create(
            "/invoice", {"entity": {"id": customer_erp_id}, "createdFrom": {"id": order_erp_id}}
        )


class TrytonHarness(ErpHarness):
    """Tryton through a fault proxy (`tests.contract.tryton_faults`); set-up work goes
    straight to trytond over a JSON-RPC client of its own, with time to post."""

    def __init__(self, erp: TrytonErp, world: World, control: SandboxControl, rpc: TrytonRpc):
        super().__init__("tryton", erp, world, ControlFaults(control, "/*"))
        self.rpc = rpc

    async def close(self) -> None:
        await self.rpc.close()
        await super().close()

    async def invoice_order(self, customer_erp_id: str, order_erp_id: str) -> str:
        rpc = self.rpc
        sale = int(order_erp_id.removeprefix("S"))
        (row,) = await rpc.search_read("sale.sale", [["id", "=", sale]], ["invoices", "company"])
        context = {"company": row["company"]}
        if not row["invoices"]:  # a sale invoiced on request
            await rpc.call("sale.sale", "manual_invoice", [sale], context=context)
            (row,) = await rpc.search_read("sale.sale", [["id", "=", sale]], ["invoices"])
        (invoice,) = row["invoices"]
        await rpc.call("account.invoice", "post", [invoice], context=context)
        return f"I{invoice}"


@pytest.fixture(scope="session")
def tryton_proxy(writable_tryton: TrytonEndpoint) -> Iterator[TrytonFaultProxy]:
    """The writable Tryton behind a fault-injecting proxy."""
    proxy = TrytonFaultProxy(writable_tryton.url, writable_tryton.ca_file)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def tryton_session(tryton_proxy: TrytonFaultProxy, writable_tryton: TrytonEndpoint) -> str:
    """One session of the integration user for the whole run (``user_id:token``): each test's
    adapter adopts it instead of logging in, which costs Tryton a password hash each time."""
    answer = httpx.post(
        f"{tryton_proxy.url}/{writable_tryton.database}/rpc/",
        json={
            "id": 1,
            "method": "common.db.login",
            "params": [writable_tryton.user, {"password": writable_tryton.password}, "en"],
        },
        timeout=60.0,
    )
    answer.raise_for_status()
    user_id, token = answer.json()["result"][:2]
    return f"{user_id}:{token}"


@pytest.fixture
def tryton_control(tryton_proxy: TrytonFaultProxy) -> Iterator[SandboxControl]:
    control = SandboxControl(tryton_proxy.url, None)
    control.reset()
    yield control
    control.reset()
    control.close()


async def _netsuite(request: pytest.FixtureRequest) -> ErpHarness:
    sandbox: Endpoints = request.getfixturevalue("sandbox")
    adapter = make_erp(sandbox, CONTRACT_POLICY)
    await adapter.start()
    return NetSuiteHarness(
        adapter,
        request.getfixturevalue("world"),
        request.getfixturevalue("ns_control"),
        request.getfixturevalue("ns"),
        sandbox,
    )


async def _tryton(request: pytest.FixtureRequest) -> ErpHarness:
    endpoint: TrytonEndpoint = request.getfixturevalue("writable_tryton")
    proxy: TrytonFaultProxy = request.getfixturevalue("tryton_proxy")
    config = TrytonConfig(
        url=proxy.url,
        database=endpoint.database,
        user=endpoint.user,
        password=endpoint.password,
        session=request.getfixturevalue("tryton_session"),
        policy=CONTRACT_POLICY,
    )
    adapter = TrytonErp(config)
    await adapter.start()
    return TrytonHarness(
        adapter,
        request.getfixturevalue("tryton_world"),
        request.getfixturevalue("tryton_control"),
        rpc_for(endpoint),
    )


ERP_HARNESSES = {"netsuite": _netsuite, "tryton": _tryton}


@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.second_erp] if name != "netsuite" else [])
        for name in ERP_HARNESSES
    ]
)
async def erp_harness(request: pytest.FixtureRequest) -> AsyncIterator[ErpHarness]:
    """Each ERP adapter, started against its system seeded from its sandbox's world (the
    systems start once per session, the first time a test asks for them)."""
    harness = await ERP_HARNESSES[request.param](request)
    try:
        yield harness
    finally:
        await harness.close()


@pytest.fixture(params=["salesforce"])
async def crm_harness(
    request: pytest.FixtureRequest,
    sandbox: Endpoints,
    world: World,
    sf_control: SandboxControl,
    emulators: Emulators,
) -> AsyncIterator[CrmHarness]:
    """Each CRM adapter, started against its system seeded from the session's world."""
    adapter = make_crm(sandbox, CONTRACT_POLICY)
    await adapter.start()

    def new_account(name: str) -> str:
        return emulators.sf_create("Account", {"Name": name})

    try:
        yield CrmHarness(
            "salesforce", adapter, world, ControlFaults(sf_control, "/services/*"), new_account
        )
    finally:
        await adapter.close()
