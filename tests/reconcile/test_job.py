"""The reconciliation job against the sandbox as seeded: it finds exactly the drift the world
holds, by kind, each with its fix, reading each system in a handful of pages."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator

import pytest

from reconcile import Drift, DriftKind, FixAction, Reconciler, ReconciliationBusy, Report
from reconcile.job import LEASE
from sandbox.endpoints import Endpoints
from sandbox.world import World
from sources.errors import SourceError
from state.backend import StateBackend, open_backend
from tests.adapters import make_crm, make_erp
from tests.conftest import SandboxControl
from tests.redis_keys import unique_prefix

SF_QUERY = "GET /services/data/v59.0/query"
NS_SUITEQL = "POST /services/rest/query/v1/suiteql"


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[StateBackend]:
    """The state a replica keeps reports and the run's lease in: its own memory, or a Redis
    shared by replicas."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    state = open_backend(url, prefix=unique_prefix())
    yield state
    await state.close()


@pytest.fixture
async def reconciler(pristine: Endpoints, backend: StateBackend) -> AsyncIterator[Reconciler]:
    crm, erp = make_crm(pristine), make_erp(pristine)
    await crm.start()
    await erp.start()
    yield Reconciler(crm, erp, backend)
    await crm.close()
    await erp.close()


def by_kind(drifts: list[Drift]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for drift in drifts:
        found[drift.kind.value].append(drift.subject)
    return {kind.value: sorted(found[kind.value]) for kind in DriftKind}


async def test_the_report_finds_exactly_the_seeded_drift(
    reconciler: Reconciler, pristine_world: World
) -> None:
    # given the sandbox as seeded, whose world says what drifted
    expected = pristine_world.drift()
    assert all(expected.values()), "the world seeds every kind of drift"

    # when a reconciliation runs
    report = await reconciler.run("test")

    # then it lists that drift, all of it and nothing else, each drift once
    assert report is not None
    assert by_kind(report.drifts) == expected
    assert len({drift.id for drift in report.drifts}) == len(report.drifts)
    assert report.scanned == {
        "accounts": sum(1 for c in pristine_world.customers if c.sf_account_id),
        "wonOpportunities": sum(
            1 for c in pristine_world.customers for o in c.opportunities if o.stage == "Closed Won"
        ),
        "erpCustomers": sum(1 for c in pristine_world.customers if c.ns_id),
        "erpOrders": sum(len(c.sales_orders) for c in pristine_world.customers),
    }


async def test_it_reads_each_system_in_pages_never_record_by_record(
    reconciler: Reconciler, pristine_controls: tuple[SandboxControl, SandboxControl]
) -> None:
    # given fresh request counts on both emulators (the adapters have signed in)
    sf, ns = pristine_controls
    sf.reset()
    ns.reset()

    # when a reconciliation runs over some 300 customers and their deals
    report = await reconciler.run("test")

    # then Salesforce answered three queries (accounts, won opportunities, the opportunities
    # orders name that are not won) and NetSuite two (customers, orders): nothing per record
    assert report is not None
    assert report.reads == {"salesforce": 3, "netsuite": 2}
    assert sf.count(SF_QUERY) == 3
    assert ns.count(NS_SUITEQL) == 2
    assert sf.stats()["total"] == 3
    assert ns.stats()["total"] == 2


def fixes_of(report: Report, kind: DriftKind) -> list[Drift]:
    return [drift for drift in report.drifts if drift.kind is kind]


async def test_each_drift_names_the_action_that_fixes_it(
    reconciler: Reconciler, pristine_world: World
) -> None:
    report = await reconciler.run("test")
    assert report is not None

    # an account and an ERP customer that stand for one company but are not linked: link them
    unlinked = [c for c in pristine_world.customers if c.account_unlinked]
    assert unlinked
    links = {
        (d.fix.input or {}).get("salesforceId"): (d.fix.input or {}).get("erpId")
        for d in report.drifts
        if d.fix.action is FixAction.LINK_ACCOUNT
    }
    assert links == {c.sf_account_id: str(c.ns_id) for c in unlinked}
    for drift in fixes_of(report, DriftKind.LINK_MISSING) + fixes_of(
        report, DriftKind.ERP_CUSTOMER_UNLINKED
    ):
        paired = drift.fix.action is FixAction.LINK_ACCOUNT
        assert drift.fix.mutation == ("linkAccount" if paired else None)

    # a stale credit mirror: mirror it again, for the customer by its key
    for drift in fixes_of(report, DriftKind.CREDIT_STATUS_MISMATCH):
        assert drift.fix.mutation == "mirrorCreditStatus"
        assert drift.fix.input == {"customerId": f"cus:{drift.key}"}
        assert drift.crm_value != drift.erp_value

    # a won deal without an order: book it
    for drift in fixes_of(report, DriftKind.ORDER_MISSING):
        assert drift.fix.mutation == "bookOrder"
        assert drift.fix.input == {"opportunityId": drift.subject}

    # the rest is done by hand, and says how
    manual = {
        DriftKind.LINK_BROKEN: FixAction.REPAIR_LINK,
        DriftKind.OPPORTUNITY_MISSING: FixAction.REVIEW_ORDER,
        DriftKind.AMOUNT_MISMATCH: FixAction.ALIGN_AMOUNTS,
        DriftKind.NAME_MISMATCH: FixAction.CORRECT_ERP_CUSTOMER,
        DriftKind.BILLING_STREET_MISMATCH: FixAction.CORRECT_ERP_CUSTOMER,
    }
    for kind, action in manual.items():
        for drift in fixes_of(report, kind):
            assert drift.fix.action is action
            assert drift.fix.mutation is None
            assert drift.fix.description


async def test_the_report_is_kept_and_reads_back_whole(reconciler: Reconciler) -> None:
    report = await reconciler.run("test", "someone")

    assert report is not None
    assert await reconciler.store.latest() == report
    assert await reconciler.store.get(report.id) == report
    assert Report.from_json(report.to_json()) == report
    (run,) = await reconciler.store.runs()
    assert run["id"] == report.id
    assert run["counts"]["ORDER_MISSING"] == len(fixes_of(report, DriftKind.ORDER_MISSING))


async def test_one_run_at_a_time(reconciler: Reconciler, backend: StateBackend) -> None:
    # given another replica's run in progress
    other = Reconciler(reconciler.crm, reconciler.erp, backend)
    assert await backend.lease(LEASE, other.owner, 30)

    # then a second run is refused, and none was kept
    with pytest.raises(ReconciliationBusy):
        await reconciler.run("test")
    assert await reconciler.store.latest() is None

    # and once the other run is done, it runs, and the other replica reads its report
    await backend.release(LEASE, other.owner)
    report = await reconciler.run("test")
    assert report is not None
    assert await other.store.latest() == report


async def test_a_recent_report_is_enough_for_the_schedule(reconciler: Reconciler) -> None:
    first = await reconciler.run("schedule")
    assert first is not None
    assert await reconciler.run("schedule", unless_newer=3600) is None
    assert await reconciler.store.latest() == first


async def test_a_system_down_fails_the_run_and_keeps_the_last_report(
    reconciler: Reconciler, pristine_controls: tuple[SandboxControl, SandboxControl]
) -> None:
    # given a report, then the ERP down
    kept = await reconciler.run("test")
    _, ns = pristine_controls
    ns.fault(pattern="/services/rest/*", outage=True)

    # then the next run fails with the source's error, and the last report stays the latest
    with pytest.raises(SourceError) as failure:
        await reconciler.run("test")
    assert failure.value.code == "SOURCE_UNAVAILABLE"
    assert await reconciler.store.latest() == kept
