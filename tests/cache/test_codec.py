"""The Redis codec gives back exactly the record it was given, for every record type."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import json
import re
import types
import typing
from decimal import Decimal
from typing import Any

import pytest

from cache.codec import CodecError, decode, decode_list, encode, shape
from sources import records
from sources.netsuite import NetSuiteErp
from sources.ports import CustomerQuery
from sources.records import CreditHold, ErpCustomer, Line
from sources.salesforce import SalesforceCrm

RECORD_TYPES = sorted(
    (
        kind
        for _, kind in inspect.getmembers(records, dataclasses.is_dataclass)
        if isinstance(kind, type) and kind.__module__ == records.__name__
    ),
    key=lambda kind: kind.__name__,
)


def sample(hint: Any, full: bool) -> Any:
    """A value of ``hint``: every optional filled (full) or left empty, with awkward values."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        return sample(inner, full) if full else None
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return (sample(item, full), sample(item, full)) if full else ()
    if hint is str:
        return 'Zürich "quoted" ✓ \\ back'
    if hint is bool:
        return True
    if hint is int:
        return -42
    if hint is Decimal:
        return Decimal("12345.6700") if full else Decimal("1E+3")
    if hint is dt.datetime:
        offset = dt.timezone(dt.timedelta(hours=-5, minutes=-30))
        return dt.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=offset if full else dt.UTC)
    if hint is dt.date:
        return dt.date(2024, 2, 29)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return list(hint)[-1]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return hint(**{f.name: sample(hints[f.name], full) for f in dataclasses.fields(hint)})
    raise AssertionError(f"no sample for {hint!r}")


def round_trip(value: Any) -> Any:
    wire = json.dumps(encode(value))  # what Redis holds
    return decode(type(value), json.loads(wire))


def test_every_record_type_is_covered() -> None:
    names = {kind.__name__ for kind in RECORD_TYPES}
    assert {"ErpCustomer", "CrmAccount", "ErpInvoice", "ErpPayment", "Line"} <= names
    assert len(RECORD_TYPES) >= 15


@pytest.mark.parametrize("kind", RECORD_TYPES, ids=lambda kind: kind.__name__)
@pytest.mark.parametrize("full", [True, False], ids=["filled", "empty"])
def test_every_record_type_round_trips_exactly(kind: type, full: bool) -> None:
    value = sample(kind, full)

    back = round_trip(value)

    assert back == value
    # repr shows what == forgives: a Decimal's exponent, a datetime's offset, tuple vs list
    assert repr(back) == repr(value)


def test_the_json_spelling_is_readable() -> None:
    customer = ErpCustomer(
        erp_id="1042",
        erp_key="CUST-000042",
        name="Acme",
        email=None,
        legal_entity_id="3",
        currency="EUR",
        terms_id=None,
        tax_id=None,
        credit_limit=Decimal("50000.00"),
        balance=Decimal("1234.50"),
        overdue_balance=Decimal(0),
        credit_hold=CreditHold.AUTO,
        inactive=False,
        last_modified=dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC),
    )

    data = encode(customer)

    assert data["credit_limit"] == "50000.00"
    assert data["credit_hold"] == "AUTO"
    assert data["last_modified"] == "2024-03-01T09:30:00+00:00"
    assert data["email"] is None


def test_lists_of_records_round_trip() -> None:
    lines = [sample(Line, True), sample(Line, False)]
    assert decode_list(Line, json.loads(json.dumps(encode(lines)))) == lines


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("balance"), "missing ['balance']"),
        (lambda d: d.update(extra=1), "unexpected ['extra']"),
        (lambda d: d.update(balance=12.5), "expected str"),
        (lambda d: d.update(balance="twelve"), "is not a decimal"),
        (lambda d: d.update(credit_hold="MAYBE"), "is not a CreditHold"),
        (lambda d: d.update(inactive="false"), "expected bool"),
        (lambda d: d.update(last_modified="yesterday"), "is not an ISO datetime"),
        (lambda d: d.update(erp_id=None), "expected str"),
    ],
)
def test_anything_else_is_refused(change: Any, message: str) -> None:
    data = encode(sample(ErpCustomer, True))
    change(data)
    with pytest.raises(CodecError, match=re.escape(message)):
        decode(ErpCustomer, data)


def test_a_date_field_refuses_a_datetime_and_an_int_field_a_bool() -> None:
    order = encode(sample(records.ErpOrder, True))
    order["order_date"] = "2024-02-29T10:00:00"
    with pytest.raises(CodecError):
        decode(records.ErpOrder, order)
    terms = {"erp_id": "1", "name": "Net 30", "days": True}
    with pytest.raises(CodecError, match="expected an integer"):
        decode(records.PaymentTerms, terms)


def test_shape_changes_with_the_fields_and_their_types() -> None:
    @dataclasses.dataclass(frozen=True)
    class Before:
        amount: Decimal
        lines: tuple[Line, ...] = ()

    @dataclasses.dataclass(frozen=True)
    class After:  # same field names, one type changed
        amount: str
        lines: tuple[Line, ...] = ()

    After.__name__ = "Before"

    assert shape(Before) == shape(Before)
    assert shape(Before) != shape(After)
    assert shape(ErpCustomer) != shape(records.CrmAccount)
    assert len(shape(ErpCustomer)) == 8


async def test_records_read_from_the_sandbox_round_trip(
    crm: SalesforceCrm, erp: NetSuiteErp
) -> None:
    page = await erp.customer_page(CustomerQuery(limit=40))
    ids = [customer.erp_id for customer in page.items]
    invoices = await erp.invoices_by_customer_ids(ids)
    payments = await erp.payments_by_customer_ids(ids)
    orders = await erp.orders_by_customer_ids(ids)
    keys = [customer.erp_key for customer in page.items if customer.erp_key]
    accounts = await crm.accounts_by_erp_keys(keys)
    opportunities = await crm.opportunities_by_account_ids(
        [account.salesforce_id for account in accounts.values()]
    )
    some_invoices = [invoice for found in invoices.values() for invoice in found][:20]
    lines = await erp.transaction_lines([invoice.erp_id for invoice in some_invoices])
    found: list[Any] = [
        *page.items,
        *some_invoices,
        *[payment for group in payments.values() for payment in group][:20],
        *[order for group in orders.values() for order in group][:20],
        *accounts.values(),
        *[opportunity for group in opportunities.values() for opportunity in group][:20],
        *[line for group in lines.values() for line in group][:20],
    ]
    kinds = {type(value).__name__ for value in found}
    assert kinds >= {"ErpCustomer", "ErpInvoice", "ErpPayment", "ErpOrder", "CrmAccount", "Line"}
    for value in found:
        assert repr(round_trip(value)) == repr(value)
