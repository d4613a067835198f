"""Which entries each canonical event drops (pure logic, no I/O). Events are written as
`events.normalize` writes them: canonical ids in ``subject``, ``customer`` and ``data``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from cache.identities import Identities
from cache.invalidation import invalidation_for
from events.model import Event, EventType
from sources.records import ErpInvoice, ErpPayment, InvoiceStatus, PaymentApplication
from tests.cache.test_read_cache import account, customer

NOW = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def event(
    kind: EventType,
    subject: str,
    customer: str | None = None,
    source: str = "netsuite",
    **data: Any,
) -> Event:
    return Event(
        id="evt_1",
        type=kind,
        source=source,
        subject=subject,
        time=NOW,
        data=data,
        customer=customer,
    )


def invoice(erp_id: str, customer_erp_id: str, order: str | None = None) -> ErpInvoice:
    return ErpInvoice(
        erp_id=erp_id,
        number=f"INV{erp_id}",
        customer_erp_id=customer_erp_id,
        order_erp_id=order,
        issue_date=None,
        due_date=None,
        status=InvoiceStatus.OPEN,
        currency="USD",
        total=Decimal(10),
        amount_paid=Decimal(0),
        amount_due=Decimal(10),
    )


@pytest.fixture
def known() -> Identities:
    """A replica that has seen customer 42 (key CUST-42), its account and two invoices."""
    identities = Identities()
    identities.observe(customer("42"))
    identities.observe(account("001A"))  # key CUST-001A
    identities.observe([invoice("501", "42", order="300"), invoice("502", "42")])
    return identities


def test_a_payment_drops_the_customer_its_lists_and_the_paid_invoices(
    known: Identities,
) -> None:
    paid = event(
        EventType.PAYMENT_RECEIVED,
        "pay:900",
        "cus:CUST-42",
        applications=[{"invoiceId": "inv:501", "amount": {"amount": "5.00"}}],
    )

    targets = invalidation_for(paid, known)

    assert targets == [
        ("netsuite", "customer", "42"),
        ("netsuite", "customer_by_key", "CUST-42"),
        ("netsuite", "payment", "900"),
        ("netsuite", "invoices_of_customer", "42"),
        ("netsuite", "payments_of_customer", "42"),
        ("netsuite", "invoice", "501"),
        ("netsuite", "payments_of_invoice", "501"),
        ("netsuite", "invoices_of_order", "300"),
    ]


def test_a_payment_whose_invoices_are_unknown_drops_every_invoice_seen_of_the_customer(
    known: Identities,
) -> None:
    paid = event(EventType.PAYMENT_RECEIVED, "pay:901", "cus:CUST-42")
    targets = invalidation_for(paid, known)
    assert ("netsuite", "invoice", "501") in targets
    assert ("netsuite", "invoice", "502") in targets


def test_a_payment_the_replica_has_seen_drops_the_invoices_it_paid() -> None:
    identities = Identities()
    identities.observe(
        ErpPayment(
            "900",
            "PAY900",
            "42",
            None,
            "USD",
            Decimal(5),
            Decimal(0),
            None,
            (PaymentApplication("777", Decimal(5)),),
        )
    )
    paid = event(EventType.PAYMENT_RECEIVED, "pay:900", "cus:erp:42")
    targets = invalidation_for(paid, identities)
    assert ("netsuite", "invoice", "777") in targets
    assert ("netsuite", "customer", "42") in targets


def test_an_event_naming_the_erp_id_in_data_works_without_identities() -> None:
    paid = event(EventType.PAYMENT_RECEIVED, "pay:900", "cus:CUST-9", customerErpId="9")
    targets = invalidation_for(paid)
    assert ("netsuite", "customer", "9") in targets
    assert ("netsuite", "customer_by_key", "CUST-9") in targets
    assert ("netsuite", "invoices_of_customer", "9") in targets


def test_an_invoice_status_change_drops_the_invoice_and_the_customers_money(
    known: Identities,
) -> None:
    changed = event(EventType.INVOICE_STATUS_CHANGED, "inv:501", "cus:CUST-42")

    targets = invalidation_for(changed, known)

    assert set(targets) == {
        ("netsuite", "customer", "42"),
        ("netsuite", "customer_by_key", "CUST-42"),
        ("netsuite", "invoices_of_customer", "42"),
        ("netsuite", "payments_of_customer", "42"),
        ("netsuite", "invoice", "501"),
        ("netsuite", "payments_of_invoice", "501"),
        ("netsuite", "invoices_of_order", "300"),
        ("netsuite", "transaction_lines", "501"),
    }


def test_a_posted_invoice_also_drops_its_order(known: Identities) -> None:
    posted = event(EventType.INVOICE_POSTED, "inv:503", "cus:CUST-42", orderId="ord:300")
    targets = invalidation_for(posted, known)
    assert ("netsuite", "order", "300") in targets
    assert ("netsuite", "orders_of_customer", "42") in targets
    assert ("netsuite", "invoices_of_order", "300") in targets


@pytest.mark.parametrize(
    "kind",
    [EventType.CUSTOMER_CREATED, EventType.CUSTOMER_UPDATED, EventType.CREDIT_STATUS_CHANGED],
)
def test_customer_events_drop_both_systems_records(kind: EventType, known: Identities) -> None:
    targets = invalidation_for(event(kind, "cus:CUST-001A", "cus:CUST-001A"), known)
    assert ("salesforce", "account", "001A") in targets
    assert ("salesforce", "account_by_key", "CUST-001A") in targets
    assert ("netsuite", "customer_by_key", "CUST-001A") in targets


def test_a_salesforce_account_event_names_the_account_by_its_record_id() -> None:
    updated = event(
        EventType.CUSTOMER_UPDATED,
        "cus:CUST-7",
        "cus:CUST-7",
        source="salesforce",
        recordId="001000000000007AAA",
    )
    assert invalidation_for(updated) == [
        ("salesforce", "account", "001000000000007AAA"),
        ("salesforce", "account_by_key", "CUST-7"),
        ("netsuite", "customer_by_key", "CUST-7"),
    ]


def test_a_customer_known_only_by_erp_id_drops_its_negative_entries() -> None:
    created = event(EventType.CUSTOMER_CREATED, "cus:erp:77", "cus:erp:77")
    assert invalidation_for(created) == [("netsuite", "customer", "77")]


def test_a_booked_order_drops_the_order_lists_and_the_opportunitys_order(
    known: Identities,
) -> None:
    booked = event(
        EventType.ORDER_BOOKED, "ord:300", "cus:CUST-42", opportunityId="006000000000001AAA"
    )
    targets = invalidation_for(booked, known)
    assert {
        ("netsuite", "order", "300"),
        ("netsuite", "orders_of_customer", "42"),
        ("netsuite", "order_by_opportunity", "006000000000001AAA"),
        ("salesforce", "opportunity", "006000000000001AAA"),
    } <= set(targets)


def test_workflow_events_and_malformed_ids_drop_nothing() -> None:
    assert invalidation_for(event(EventType.WORKFLOW_CHANGED, "wf:1")) == []
    odd = event(EventType.CUSTOMER_UPDATED, "cus:", "not-an-id")
    assert invalidation_for(odd) == []


def test_an_erp_customer_whose_key_changed_drops_the_entry_under_its_old_key(
    known: Identities,
) -> None:
    # the ERP customer 42, known under key CUST-42, is now cross-referenced as NEW-42
    rekeyed = event(EventType.CUSTOMER_UPDATED, "cus:NEW-42", "cus:NEW-42", recordId="42")

    targets = invalidation_for(rekeyed, known)

    assert ("netsuite", "customer", "42") in targets
    assert ("netsuite", "customer_by_key", "NEW-42") in targets
    assert ("netsuite", "customer_by_key", "CUST-42") in targets


def test_a_credit_event_names_the_erp_customer_by_its_erp_id() -> None:
    credit = event(EventType.CREDIT_STATUS_CHANGED, "cus:CUST-9", "cus:CUST-9", erpId="9")
    targets = invalidation_for(credit)
    assert ("netsuite", "customer", "9") in targets
    assert ("netsuite", "customer_by_key", "CUST-9") in targets
