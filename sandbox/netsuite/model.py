"""The records the NetSuite emulator stores, and NetSuite's fixed lists around them.

Records are plain mutable dataclasses owned by `sandbox.netsuite.store.Store`; handlers build a
new version of a record and hand it to the store, never mutate one in place. Values derived
from other records (an invoice's amount paid, a customer's balance) are not stored: the store
computes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sandbox.world import COUNTRY_NAMES

CENT = Decimal("0.01")

# Transaction type codes as SuiteQL's transaction.type shows them, and the record API names.
SALES_ORDER = "SalesOrd"
INVOICE = "CustInvc"
PAYMENT = "CustPymt"

SALES_ORDER_STATUS = {
    "A": "Pending Approval",
    "B": "Pending Fulfillment",
    "C": "Cancelled",
    "D": "Partially Fulfilled",
    "E": "Pending Billing/Partially Fulfilled",
    "F": "Pending Billing",
    "G": "Billed",
    "H": "Closed",
}
INVOICE_STATUS = {"A": "Open", "B": "Paid In Full"}
PAYMENT_STATUS = {"A": "Unapproved Payment", "B": "Not Deposited", "C": "Deposited"}

# Sales order statuses whose lines are still to be billed (customer.unbilledOrders).
UNBILLED_ORDER_STATUSES = frozenset("ABDEF")

CREDIT_HOLD = {"AUTO": "Auto", "ON": "On", "OFF": "Off"}


@dataclass(frozen=True)
class SubsidiaryRec:
    id: int
    name: str
    country: str
    currency: int


@dataclass(frozen=True)
class CurrencyRec:
    id: int
    symbol: str
    name: str
    precision: int  # decimal places of amounts: 2, or 0 for JPY


@dataclass(frozen=True)
class TermRec:
    id: int
    name: str
    days: int


@dataclass(frozen=True)
class ItemRec:
    id: int
    itemid: str
    displayname: str
    itemtype: str  # SuiteQL item.itemtype: Service, NonInvtPart, InvtPart
    record_type: str  # the record API type the item's links point at
    prices: Mapping[int, Decimal]  # base price by currency id


@dataclass
class AddressRec:
    """One line of a customer's address book; ``id`` is the line's internal id."""

    id: int
    addr1: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str | None
    addressee: str | None = None
    label: str | None = None
    default_billing: bool = False
    default_shipping: bool = False

    def text(self) -> str:
        parts = [self.addressee, self.addr1]
        place = " ".join(p for p in (self.city, self.state, self.zip) if p)
        parts.append(place or None)
        if self.country:
            parts.append(COUNTRY_NAMES.get(self.country, self.country))
        return "\n".join(p for p in parts if p)


@dataclass
class CustomerRec:
    id: int
    entity_id: str
    company_name: str
    subsidiary: int
    currency: int
    date_created: dt.datetime
    last_modified: dt.datetime
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None
    terms: int | None = None
    credit_limit: Decimal | None = None
    credit_hold: str = "AUTO"
    vat_reg_number: str | None = None
    is_inactive: bool = False
    addresses: list[AddressRec] = field(default_factory=list)

    @property
    def ref_name(self) -> str:
        return f"{self.entity_id} {self.company_name}"

    def default_billing(self) -> AddressRec | None:
        return next((a for a in self.addresses if a.default_billing), None)


@dataclass
class LineRec:
    """An item line of a sales order or invoice; ``line`` numbers from 1."""

    line: int
    item: int
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    description: str | None = None


@dataclass
class ApplyRec:
    """A payment's application to one invoice (``doc``)."""

    doc: int
    amount: Decimal
    line: int = 0


@dataclass
class TransactionRec:
    """A sales order, invoice or customer payment (``type`` = SalesOrd, CustInvc, CustPymt).

    ``status`` is stored for sales orders and payments; an invoice's status follows from what
    is left to pay, so the store computes it.
    """

    id: int
    type: str
    tran_id: str
    tran_date: dt.date
    entity: int
    currency: int
    subsidiary: int
    created: dt.datetime
    last_modified: dt.datetime
    status: str = "A"
    external_id: str | None = None
    memo: str | None = None
    other_ref_num: str | None = None
    due_date: dt.date | None = None  # invoices
    created_from: int | None = None  # invoices: the sales order
    lines: list[LineRec] = field(default_factory=list)  # sales orders, invoices
    payment: Decimal | None = None  # payments: the amount received
    applies: list[ApplyRec] = field(default_factory=list)  # payments

    @property
    def total(self) -> Decimal:
        if self.type == PAYMENT:
            return self.payment or Decimal(0)
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def applied(self) -> Decimal:
        return sum((a.amount for a in self.applies), Decimal(0))


def money(value: Decimal, precision: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-precision))
