"""Money in writes: amounts fit the currency's minor unit and the ERP's range, or are refused
before anything reaches the ERP (the ERP would round them, or refuse them in its own words)."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

from tests.accord import AccordServer, Emulators
from tests.mutations.conftest import Deals, key
from tests.mutations.test_customer_writes import PAY, UPDATE, customer_pair, erp_row, update


def yen_customer(emulators: Emulators) -> tuple[str, str]:
    """(canonical id, ERP internal id) of a new customer of the Japanese entity, in JPY."""
    erp_key = f"TEST-JP-{uuid.uuid4().hex[:10]}"
    erp_id = emulators.ns_create(
        "customer",
        {
            "companyName": f"Kabushiki {erp_key}",
            "externalId": erp_key,
            "subsidiary": {"id": "6"},
            "currency": {"id": "5"},
            "creditLimit": 1_000_000,
        },
    )
    return f"cus:{erp_key}", erp_id


def invoice_of(emulators: Emulators, erp_id: str, rate: int) -> str:
    return emulators.ns_create(
        "invoice",
        {
            "entity": {"id": erp_id},
            "item": {"items": [{"item": {"id": "106"}, "quantity": 1, "rate": rate}]},
        },
    )


def pay(
    accord: AccordServer, customer_id: str, amount: str, currency: str, applied: list[Any]
) -> dict[str, Any]:
    body = accord.graphql(
        PAY,
        {
            "input": {
                "idempotencyKey": key(),
                "customerId": customer_id,
                "amount": amount,
                "currency": currency,
                "applications": [{"invoiceId": f"inv:{i}", "amount": a} for i, a in applied],
            }
        },
        key="demo-finance",
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["recordPayment"]
    return payload


def payments_of(emulators: Emulators, erp_id: str) -> list[dict[str, Any]]:
    return emulators.suiteql(
        f"SELECT id FROM transaction WHERE type = 'CustPymt' AND entity = {erp_id}"
    )


def test_a_credit_limit_finer_than_the_currency_is_refused(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    customer_id, _, erp_id = customer_pair(deals)  # EUR: two decimals
    before = erp_row(emulators, erp_id)

    payload = update(
        accord, "finance", idempotencyKey=key(), id=customer_id, creditLimit="1000.555"
    )

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID_VALUE", "creditLimit")
    ]
    assert erp_row(emulators, erp_id) == before


def test_a_yen_credit_limit_has_no_decimals(accord: AccordServer, emulators: Emulators) -> None:
    customer_id, erp_id = yen_customer(emulators)

    fractional = update(
        accord, "finance", idempotencyKey=key(), id=customer_id, creditLimit="2500000.5"
    )
    whole = update(accord, "finance", idempotencyKey=key(), id=customer_id, creditLimit="2500000")

    assert [e["code"] for e in fractional["errors"]] == ["INVALID_VALUE"]
    assert whole["errors"] == []
    assert Decimal(erp_row(emulators, erp_id)["creditlimit"]) == Decimal(2_500_000)


def test_huge_credit_limits_are_refused_by_accord_not_the_erp(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    customer_id, _, erp_id = customer_pair(deals)
    before = erp_row(emulators, erp_id)

    started = time.monotonic()
    answers = [
        update(accord, "finance", idempotencyKey=key(), id=customer_id, creditLimit=limit)
        for limit in ("99999999999999.99", "9" * 40, "-" + "9" * 39)
    ]
    # exponents are not plain decimals: refused as the input is read, before anything runs
    written = [
        accord.graphql(
            UPDATE,
            {"input": {"idempotencyKey": key(), "id": customer_id, "creditLimit": limit}},
            key="demo-finance",
        )
        for limit in ("1e20", "1e999999999")
    ]

    assert [[e["code"] for e in a["errors"]] for a in answers] == [["INVALID_VALUE"]] * 3
    for refused in written:
        assert "data" not in refused
        assert "not a plain decimal number" in refused["errors"][0]["message"]
    # bounds a hang only (1e999999999 written out in full is a billion digits)
    assert time.monotonic() - started < 60
    assert erp_row(emulators, erp_id) == before


def test_a_payment_finer_than_the_currency_is_refused(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    customer_id, _, erp_id = customer_pair(deals)
    invoice = invoice_of(emulators, erp_id, 1000)

    # the ERP would round each application to the cent: 50.005 + 50.005 applied as 100.00,
    # leaving a cent unapplied of a payment that was to equal what it pays
    split = pay(
        accord,
        customer_id,
        "100.01",
        "EUR",
        [(invoice, "50.005"), (invoice_of(emulators, erp_id, 1000), "50.005")],
    )
    finer = pay(accord, customer_id, "400.004", "EUR", [(invoice, "400.004")])

    assert sorted((e["code"], e["field"]) for e in split["errors"]) == [
        ("INVALID_VALUE", "applications.0"),
        ("INVALID_VALUE", "applications.1"),
    ]
    assert sorted((e["code"], e["field"]) for e in finer["errors"]) == [
        ("INVALID_VALUE", "amount"),
        ("INVALID_VALUE", "applications.0"),
    ]
    assert payments_of(emulators, erp_id) == []


def test_huge_payments_are_refused_by_accord(
    accord: AccordServer, deals: Deals, emulators: Emulators
) -> None:
    customer_id, _, erp_id = customer_pair(deals)
    invoice = invoice_of(emulators, erp_id, 1000)

    started = time.monotonic()
    huge = pay(accord, customer_id, "9" * 40, "EUR", [(invoice, "9" * 40)])
    negative = pay(accord, customer_id, "-" + "9" * 39, "EUR", [(invoice, "1")])

    assert time.monotonic() - started < 60  # bounds a hang only
    assert ("INVALID_VALUE", "amount") in [(e["code"], e["field"]) for e in huge["errors"]]
    assert ("INVALID_VALUE", "amount") in [(e["code"], e["field"]) for e in negative["errors"]]
    assert payments_of(emulators, erp_id) == []


def test_a_yen_payment_has_no_decimals(accord: AccordServer, emulators: Emulators) -> None:
    customer_id, erp_id = yen_customer(emulators)
    invoice = invoice_of(emulators, erp_id, 150000)

    fractional = pay(accord, customer_id, "1000.5", "JPY", [(invoice, "1000.5")])
    whole = pay(accord, customer_id, "1000", "JPY", [(invoice, "1000")])

    assert "INVALID_VALUE" in [e["code"] for e in fractional["errors"]]
    assert whole["errors"] == []
    assert whole["payment"]["amount"] == {"amount": "1000", "currency": "JPY"}
    assert len(payments_of(emulators, erp_id)) == 1
