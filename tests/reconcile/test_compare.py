"""The comparison on its own (pure logic over records built here): the edges the seeded world
does not show."""

from __future__ import annotations

from decimal import Decimal

from domain import sfid
from reconcile.compare import find_drift
from reconcile.drift import DriftKind, FixAction
from reconcile.sweep import Snapshot
from sources.records import (
    Address,
    CreditHold,
    CrmAccount,
    CrmOpportunity,
    ErpCustomer,
    ErpOrder,
    OrderStatus,
)

A1, A2, A3 = (sfid.make("001", n) for n in (1, 2, 3))
O1, O2, O3 = (sfid.make("006", n) for n in (1, 2, 3))


def account(
    salesforce_id: str, key: str | None, name: str = "Acme Inc.", **more: object
) -> CrmAccount:
    values: dict[str, object] = {
        "credit_status_mirror": "Good Standing",
        "billing_address": Address("1 Main St", None, None, None, "US"),
        **more,
    }
    return CrmAccount(salesforce_id=salesforce_id, erp_key=key, name=name, **values)  # type: ignore[arg-type]


def customer(erp_id: str, key: str | None, name: str = "Acme Inc.", **more: object) -> ErpCustomer:
    values: dict[str, object] = {
        "billing_address": Address("1 Main St", None, None, None, "US"),
        **more,
    }
    return ErpCustomer(erp_id=erp_id, erp_key=key, name=name, **values)  # type: ignore[arg-type]


def won(opportunity_id: str, amount: str | None, currency: str = "USD") -> CrmOpportunity:
    return CrmOpportunity(
        salesforce_id=opportunity_id,
        account_id=A1,
        name="Deal",
        stage="Closed Won",
        close_date=None,
        amount=Decimal(amount) if amount is not None else None,
        currency=currency,
        is_closed=True,
        is_won=True,
        erp_order_number=None,
        erp_order_status=None,
    )


def order(erp_id: str, external_id: str | None, total: str, currency: str = "USD") -> ErpOrder:
    return ErpOrder(
        erp_id=erp_id,
        number=f"SO{erp_id}",
        customer_erp_id="1",
        external_id=external_id,
        order_date=None,
        status=OrderStatus.BILLED,
        currency=currency,
        total=Decimal(total),
    )


def kinds(snapshot: Snapshot) -> list[tuple[str, str]]:
    return [(drift.kind.value, drift.subject) for drift in find_drift(snapshot)]


def test_systems_in_accord_have_no_drift() -> None:
    snapshot = Snapshot(
        accounts=[account(A1, "K1")],
        customers=[customer("1", "K1")],
        won=[won(O1, "100")],
        orders=[order("9", O1, "100.00")],
    )
    assert find_drift(snapshot) == []


def test_a_name_two_accounts_share_is_not_offered_as_a_link() -> None:
    # given two unlinked accounts and one unlinked ERP customer, all "Acme Inc."
    snapshot = Snapshot(
        accounts=[account(A1, None), account(A2, None)],
        customers=[customer("1", "K1", name="ACME  inc.")],
    )

    drifts = find_drift(snapshot)

    # then nothing is offered as a pair: which account it is, a person decides
    assert {drift.fix.action for drift in drifts} == {
        FixAction.SET_UP_IN_ERP,
        FixAction.CREATE_ACCOUNT,
    }


def test_one_account_and_one_customer_of_a_name_are_offered_as_a_pair() -> None:
    snapshot = Snapshot(
        accounts=[account(A1, "GONE")], customers=[customer("1", "K1", name="ACME  inc.")]
    )

    drifts = find_drift(snapshot)

    assert [d.kind for d in drifts] == [DriftKind.LINK_BROKEN, DriftKind.ERP_CUSTOMER_UNLINKED]
    assert {d.fix.action for d in drifts} == {FixAction.LINK_ACCOUNT}
    assert all(d.fix.input == {"salesforceId": A1, "erpId": "1"} for d in drifts)


def test_inactive_erp_customers_nobody_links_to_are_retired_not_drift() -> None:
    snapshot = Snapshot(
        accounts=[account(A1, "K1")],
        customers=[customer("1", "K1", inactive=True), customer("2", "K2", inactive=True)],
    )
    # the account linking to an inactive customer is linked; the other customer is retired
    assert kinds(snapshot) == []


def test_a_linked_account_that_never_had_its_status_mirrored() -> None:
    snapshot = Snapshot(
        accounts=[account(A1, "K1", credit_status_mirror=None)],
        customers=[customer("1", "K1", credit_hold=CreditHold.ON)],
    )
    (drift,) = find_drift(snapshot)
    assert drift.kind is DriftKind.CREDIT_STATUS_MISMATCH
    assert (drift.crm_value, drift.erp_value) == (None, "On Hold")


def test_amounts_compare_exactly_and_in_their_currency() -> None:
    snapshot = Snapshot(
        won=[won(O1, "100"), won(O2, "100", "EUR"), won(O3, None)],
        orders=[order("7", O1, "100.00"), order("8", O2, "100.00"), order("9", O3, "0")],
    )
    assert kinds(snapshot) == [("AMOUNT_MISMATCH", O2)]


def test_an_order_is_orphaned_only_when_its_opportunity_is_gone() -> None:
    # given orders booked from a won deal, a deal reopened since, a deleted one, and an order
    # whose external id is not an opportunity at all
    reopened = won(O2, "5")
    snapshot = Snapshot(
        won=[won(O1, "5")],
        orders=[
            order("7", O1, "5"),
            order("8", O2, "5"),
            order("9", O3, "5"),
            order("10", "LEGACY-42", "5"),
        ],
        other_opportunities={O2: reopened},
    )
    assert kinds(snapshot) == [("OPPORTUNITY_MISSING", "9")]


def test_drifts_come_by_kind_then_subject() -> None:
    snapshot = Snapshot(
        accounts=[account(A3, None, name="C"), account(A2, None, name="B")],
        won=[won(O2, "1"), won(O1, "1")],
    )
    assert kinds(snapshot) == [
        ("LINK_MISSING", A2),
        ("LINK_MISSING", A3),
        ("ORDER_MISSING", O1),
        ("ORDER_MISSING", O2),
    ]
