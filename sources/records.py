"""Canonical records: what the adapters hand to the rest of Accord.

Each record is one system's view of a finance object, already in canonical terms (finance
words, `Decimal` money with an ISO currency, ISO country codes, `datetime.date`). A Customer
is assembled from a `CrmAccount` (the fields Salesforce owns) and an `ErpCustomer` (the fields
the ERP owns), joined on the cross-reference ``erp_key``.

Nothing here knows GraphQL, HTTP or a vendor's field names.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from decimal import Decimal

# ISO 4217 minor units where they are not 2.
_MINOR_UNITS = {
    "BHD": 3,
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "RWF": 0,
    "TND": 3,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
}


def minor_units(currency: str | None) -> int:
    """Decimal places of an ISO 4217 currency's amounts (2 unless the standard says else)."""
    return _MINOR_UNITS.get(currency or "", 2)


def to_currency(amount: Decimal, currency: str | None) -> Decimal:
    """``amount`` written with at least its currency's decimal places: 68000 USD is 68000.00;
    a unit price of 12.3456 keeps its four places."""
    exponent = amount.as_tuple().exponent
    places = minor_units(currency)
    if isinstance(exponent, int) and -exponent > places:
        return amount
    return amount.quantize(Decimal(1).scaleb(-places))


@dataclass(frozen=True, slots=True)
class Address:
    street: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None  # ISO 3166-1 alpha-2


NO_ADDRESS = Address(None, None, None, None, None)


class CreditHold(enum.Enum):
    """The ERP's credit hold setting: automatic (by limit), forced on, forced off."""

    AUTO = "AUTO"
    ON = "ON"
    OFF = "OFF"


class CreditStatus(enum.Enum):
    GOOD_STANDING = "GOOD_STANDING"
    OVER_LIMIT = "OVER_LIMIT"
    ON_HOLD = "ON_HOLD"


class OrderStatus(enum.Enum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    PENDING_FULFILLMENT = "PENDING_FULFILLMENT"
    PARTIALLY_FULFILLED = "PARTIALLY_FULFILLED"
    PENDING_BILLING = "PENDING_BILLING"
    BILLED = "BILLED"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


class InvoiceStatus(enum.Enum):
    OPEN = "OPEN"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    OVERDUE = "OVERDUE"
    PAID = "PAID"
    VOIDED = "VOIDED"


@dataclass(frozen=True, slots=True)
class LegalEntity:
    """The ERP subsidiary that books a customer's transactions."""

    erp_id: str
    name: str
    country: str | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    erp_id: str
    name: str
    days: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerAttributes:
    """The plain attributes of a customer, as either system may hold them.

    The ownership registry binds each plain canonical field to one of these
    (`domain.ownership.Binding`) and names the system whose value counts; each adapter fills
    the attributes its mapping covers and leaves the others None. A field moves to the other
    system when the registry says so and that system's adapter maps the attribute.
    """

    name: str | None = None
    account_number: str | None = None
    industry: str | None = None
    owner: str | None = None
    phone: str | None = None
    website: str | None = None
    email: str | None = None
    billing_address: Address | None = None
    legal_entity_id: str | None = None
    currency: str | None = None
    terms_id: str | None = None
    tax_id: str | None = None

    def billing(self) -> Address:
        """The billing address, every part None when the system holds none."""
        return self.billing_address or NO_ADDRESS


@dataclass(frozen=True, slots=True, kw_only=True)
class CrmAccount(CustomerAttributes):
    """A Salesforce Account, in canonical terms."""

    salesforce_id: str
    erp_key: str | None
    credit_status_mirror: str | None = None  # Salesforce's copy of the ERP credit status
    last_modified: dt.datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErpCustomer(CustomerAttributes):
    """An ERP customer, in canonical terms."""

    erp_id: str
    erp_key: str | None
    credit_limit: Decimal | None = None
    balance: Decimal = Decimal(0)
    overdue_balance: Decimal = Decimal(0)
    credit_hold: CreditHold = CreditHold.AUTO
    inactive: bool = False
    last_modified: dt.datetime | None = None

    @property
    def credit_status(self) -> CreditStatus:
        if self.credit_hold is CreditHold.ON:
            return CreditStatus.ON_HOLD
        if self.credit_hold is CreditHold.OFF:
            return CreditStatus.GOOD_STANDING
        if self.credit_limit is not None and self.balance > self.credit_limit:
            return CreditStatus.OVER_LIMIT
        return CreditStatus.GOOD_STANDING


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    sku: str | None
    description: str | None
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class ErpOrder:
    erp_id: str
    number: str
    customer_erp_id: str
    external_id: str | None  # the Salesforce opportunity id when booked from one
    order_date: dt.date | None
    status: OrderStatus
    currency: str | None
    total: Decimal
    memo: str | None = None
    lines: tuple[Line, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ErpInvoice:
    erp_id: str
    number: str
    customer_erp_id: str
    order_erp_id: str | None
    issue_date: dt.date | None
    due_date: dt.date | None
    status: InvoiceStatus
    currency: str | None
    total: Decimal
    amount_paid: Decimal
    amount_due: Decimal
    lines: tuple[Line, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class PaymentApplication:
    invoice_erp_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class ErpPayment:
    erp_id: str
    number: str
    customer_erp_id: str
    payment_date: dt.date | None
    currency: str | None
    amount: Decimal
    unapplied: Decimal
    memo: str | None
    applications: tuple[PaymentApplication, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class CrmOpportunity:
    salesforce_id: str
    account_id: str | None
    name: str
    stage: str
    close_date: dt.date | None
    amount: Decimal | None
    currency: str | None
    is_closed: bool
    is_won: bool
    erp_order_number: str | None
    erp_order_status: str | None
    lines: tuple[Line, ...] = field(default=())


# --------------------------------------------------------------------------- write commands
# None in a field means "leave unchanged".


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributeChanges:
    """Changes to a customer's plain attributes (see `CustomerAttributes`); None: unchanged."""

    name: str | None = None
    account_number: str | None = None
    industry: str | None = None
    owner: str | None = None
    phone: str | None = None
    website: str | None = None
    email: str | None = None
    billing_address: Address | None = None
    legal_entity_id: str | None = None
    currency: str | None = None
    terms_id: str | None = None
    tax_id: str | None = None
    cleared: tuple[str, ...] = ()  # attributes to empty (how an undo restores a blank)

    def given(self) -> dict[str, object]:
        """The attributes these changes set, by name (``cleared`` ones as None)."""
        found: dict[str, object] = {
            name: getattr(self, name) for name in _ATTRIBUTES if getattr(self, name) is not None
        }
        found.update(dict.fromkeys(self.cleared))
        return found


_ATTRIBUTES = tuple(name for name in CustomerAttributes.__dataclass_fields__)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountFields(AttributeChanges):
    """Changes to a CRM account, in canonical terms."""

    erp_key: str | None = None
    credit_status_mirror: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerFields(AttributeChanges):
    """Changes to (or the values of a new) ERP customer, in canonical terms."""

    credit_limit: Decimal | None = None
    credit_hold: CreditHold | None = None


@dataclass(frozen=True, slots=True)
class OrderLineInput:
    sku: str
    quantity: Decimal
    unit_price: Decimal
    description: str | None = None


@dataclass(frozen=True, slots=True)
class NewSalesOrder:
    customer_erp_id: str
    external_id: str  # the opportunity the order is booked from: it can never be booked twice
    order_date: dt.date
    currency: str
    lines: tuple[OrderLineInput, ...]
    memo: str | None = None
    reference: str | None = None  # shown on the order as the customer's reference
    # Finance approved the order in Accord: an ERP whose own credit check asks for a
    # confirmation (`sources.ports.ErpCapability.CREDIT_CHECK_APPROVAL`) is given it.
    approved: bool = False


@dataclass(frozen=True, slots=True)
class NewPayment:
    customer_erp_id: str
    external_id: str  # derived from the idempotency key: a retried payment is found, not re-posted
    amount: Decimal
    currency: str
    payment_date: dt.date
    applications: tuple[PaymentApplication, ...]
    memo: str | None = None
