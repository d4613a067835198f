"""Validation policies: small named rules, each with a code and a message.

A policy looks at the facts a mutation gathered and answers the ways they break its rule.
Policies are composed per mutation and all of them run before anything is posted, so a
request learns every problem at once. `evaluate` collects the violations; an empty list
means the write may go ahead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

from mutations.errors import ErrorCode
from sources.records import Address, CrmAccount, CrmOpportunity, ErpInvoice, LegalEntity, Line

S = TypeVar("S")


@dataclass(frozen=True)
class Violation:
    code: ErrorCode
    message: str
    field: str | None = None


@dataclass(frozen=True)
class Policy(Generic[S]):
    """A named rule: ``check`` yields the violations of ``code`` it finds in a subject."""

    code: str
    description: str
    check: Callable[[S], Iterable[Violation]]


def evaluate(policies: Sequence[Policy[S]], subject: S) -> list[Violation]:
    return [violation for policy in policies for violation in policy.check(subject)]


# --------------------------------------------------------------------------- money

# ISO 4217 minor units where they are not two decimals.
CURRENCY_DECIMALS: dict[str, int] = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}
MONEY_DIGITS = 15
"""Significant digits an amount may have: the ERP takes amounts as JSON numbers, which keep
15 significant digits exactly (and it refuses anything from 10^15 up)."""


def currency_decimals(currency: str | None) -> int:
    return CURRENCY_DECIMALS.get(currency or "", 2)


def money_problem(
    amount: Decimal, currency: str | None, field: str, what: str = "the amount"
) -> Violation | None:
    """The violation of an amount that the currency cannot hold exactly: finer than its minor
    unit (JPY has none), or too large to reach the ERP exactly."""
    decimals = currency_decimals(currency)
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or not isinstance(exponent, int):
        return Violation(ErrorCode.INVALID_VALUE, f"{what} must be a finite number", field)
    if _finer_than(amount, decimals):
        unit = "whole units" if decimals == 0 else f"at most {decimals} decimals"
        return Violation(
            ErrorCode.INVALID_VALUE, f"{what} in {currency or 'this currency'} takes {unit}", field
        )
    if amount.copy_abs() >= Decimal(10) ** (MONEY_DIGITS - decimals):
        return Violation(
            ErrorCode.INVALID_VALUE,
            f"{what} must be less than 10^{MONEY_DIGITS - decimals} {currency or ''}".rstrip(),
            field,
        )
    return None


def _in_range(amount: Decimal) -> bool:
    return amount.is_finite() and amount.copy_abs() < Decimal(10) ** MONEY_DIGITS


def _finer_than(amount: Decimal, decimals: int) -> bool:
    """Whether a non-zero digit of ``amount`` lies beyond ``decimals`` places (trailing zeros
    do not count: "10.500" EUR is 10.50)."""
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    beyond = -decimals - exponent  # how many of the last digits lie past the minor unit
    return any(digits[-beyond:]) if beyond > 0 else False


# --------------------------------------------------------------------------- tax ids

TAX_ID_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "US": (re.compile(r"\d{2}-\d{7}"), "an EIN: 12-3456789"),
    "GB": (re.compile(r"GB(\d{9}|\d{12}|GD\d{3}|HA\d{3})"), "a VAT number: GB123456789"),
    "DE": (re.compile(r"DE\d{9}"), "a USt-IdNr.: DE123456789"),
    "FR": (re.compile(r"FR[0-9A-HJ-NP-Z]{2}\d{9}"), "a TVA number: FR12345678901"),
    "CA": (re.compile(r"\d{9}RT\d{4}"), "a business number with GST account: 123456789RT0001"),
    "JP": (re.compile(r"T\d{13}"), "a qualified invoice issuer number: T1234567890123"),
    "AU": (re.compile(r"\d{11}"), "an ABN: 11 digits"),
}


def tax_id_problem(country: str | None, tax_id: str | None, field: str) -> Violation | None:
    """The violation of a tax id for a country, or None when it has the country's form."""
    if not tax_id or not tax_id.strip():
        return Violation(ErrorCode.TAX_ID_MISSING, "a tax registration number is required", field)
    if country is None:
        return Violation(ErrorCode.TAX_ID_INVALID, "the tax id's country is unknown", field)
    form = TAX_ID_FORMATS.get(country)
    if form is None:
        return None  # no known form for the country: accepted as given
    pattern, example = form
    if not pattern.fullmatch(tax_id.replace(" ", "").upper()):
        return Violation(
            ErrorCode.TAX_ID_INVALID,
            f"{tax_id!r} is not a valid tax id for {country}: expected {example}",
            field,
        )
    return None


# --------------------------------------------------------------------------- booking facts


@dataclass(frozen=True)
class BookingFacts:
    """What bookOrder checks before posting anything to the ERP."""

    opportunity: CrmOpportunity
    lines: Sequence[Line]
    account: CrmAccount | None
    legal_entity: LegalEntity | None  # the ERP entity for the account's billing country
    erp_currency: str | None  # an existing ERP customer's currency
    tax_id: str | None  # the ERP's, or the CRM's for a customer new to the ERP


def _closed_won(facts: BookingFacts) -> Iterable[Violation]:
    if not facts.opportunity.is_won:
        yield Violation(
            ErrorCode.OPPORTUNITY_NOT_CLOSED_WON,
            f"the opportunity is {facts.opportunity.stage}, not Closed Won",
            "opportunityId",
        )


def _positive_amount(facts: BookingFacts) -> Iterable[Violation]:
    amount = facts.opportunity.amount
    if amount is None or amount <= 0:
        yield Violation(
            ErrorCode.OPPORTUNITY_AMOUNT_NOT_POSITIVE,
            "the opportunity's amount must be positive",
            "opportunityId",
        )


def _priced_lines(facts: BookingFacts) -> Iterable[Violation]:
    if not facts.lines:
        yield Violation(
            ErrorCode.OPPORTUNITY_WITHOUT_LINES, "the opportunity has no products", "opportunityId"
        )
    for line in facts.lines:
        if line.quantity <= 0 or line.unit_price <= 0 or not line.sku:
            yield Violation(
                ErrorCode.LINE_NOT_PRICED,
                f"line {line.number} ({line.sku or 'no product code'}) needs a product code, "
                "a positive quantity and a positive price",
                "opportunityId",
            )


def _account_present(facts: BookingFacts) -> Iterable[Violation]:
    if facts.account is None:
        yield Violation(
            ErrorCode.ACCOUNT_MISSING, "the opportunity has no account", "opportunityId"
        )


def _billing_address(facts: BookingFacts) -> Iterable[Violation]:
    if facts.account is None:
        return
    missing = address_gaps(facts.account.billing())
    if missing:
        yield Violation(
            ErrorCode.BILLING_ADDRESS_INCOMPLETE,
            f"the account's billing address has no {', '.join(missing)}",
            "account.billingAddress",
        )


def address_gaps(address: Address) -> list[str]:
    parts = {
        "street": address.street,
        "city": address.city,
        "postal code": address.postal_code,
        "country": address.country,
    }
    return [name for name, value in parts.items() if not value or not value.strip()]


def _legal_entity(facts: BookingFacts) -> Iterable[Violation]:
    if facts.account is None or not facts.account.billing().country:
        return
    if facts.legal_entity is None:
        yield Violation(
            ErrorCode.NO_LEGAL_ENTITY_FOR_COUNTRY,
            f"no legal entity books customers in {facts.account.billing().country}",
            "account.billingAddress.country",
        )


def _currency(facts: BookingFacts) -> Iterable[Violation]:
    wanted = facts.erp_currency or (facts.legal_entity.currency if facts.legal_entity else None)
    if wanted and facts.opportunity.currency and facts.opportunity.currency != wanted:
        yield Violation(
            ErrorCode.CURRENCY_MISMATCH,
            f"the opportunity is in {facts.opportunity.currency} but the customer is billed "
            f"in {wanted}",
            "opportunityId",
        )


def _tax_id(facts: BookingFacts) -> Iterable[Violation]:
    if facts.account is None:
        return
    country = facts.legal_entity.country if facts.legal_entity else None
    problem = tax_id_problem(
        country or facts.account.billing().country, facts.tax_id, "account.taxId"
    )
    if problem is not None:
        yield problem


BOOKING_POLICIES: list[Policy[BookingFacts]] = [
    Policy("OPPORTUNITY_NOT_CLOSED_WON", "Only Closed Won opportunities are booked.", _closed_won),
    Policy("OPPORTUNITY_AMOUNT_NOT_POSITIVE", "The amount must be positive.", _positive_amount),
    Policy("LINE_NOT_PRICED", "Every line has a product, a quantity and a price.", _priced_lines),
    Policy("ACCOUNT_MISSING", "The opportunity belongs to an account.", _account_present),
    Policy(
        "BILLING_ADDRESS_INCOMPLETE",
        "Street, city, postal code and country are set.",
        _billing_address,
    ),
    Policy(
        "NO_LEGAL_ENTITY_FOR_COUNTRY", "A legal entity books the billing country.", _legal_entity
    ),
    Policy(
        "CURRENCY_MISMATCH", "The deal's currency is the entity's (or the customer's).", _currency
    ),
    Policy("TAX_ID_INVALID", "The tax id has the form of the entity's country.", _tax_id),
]


# --------------------------------------------------------------------------- payments


@dataclass(frozen=True)
class PaymentFacts:
    customer_erp_id: str
    customer_currency: str | None
    amount: Decimal
    currency: str
    applications: Sequence[tuple[str, Decimal]]  # (invoice erp id, amount)
    invoices: dict[str, ErpInvoice]  # the applied invoices that exist


def _payment_amount(facts: PaymentFacts) -> Iterable[Violation]:
    if facts.amount <= 0:
        yield Violation(
            ErrorCode.AMOUNT_NOT_POSITIVE, "the payment amount must be positive", "amount"
        )
    if not facts.applications:
        yield Violation(
            ErrorCode.NO_APPLICATIONS, "apply the payment to at least one invoice", "applications"
        )
    amounts = [facts.amount, *(amount for _, amount in facts.applications)]
    if not all(_in_range(amount) for amount in amounts):
        return  # `_payment_money` reports it; the sum of such amounts is not computed
    applied = sum((amount for _, amount in facts.applications), Decimal(0))
    if facts.applications and applied != facts.amount:
        yield Violation(
            ErrorCode.OVERPAYMENT
            if facts.amount > applied
            else ErrorCode.APPLICATIONS_EXCEED_PAYMENT,
            f"the payment of {facts.amount} is applied for {applied}: they must be equal",
            "amount",
        )


def _payment_currency(facts: PaymentFacts) -> Iterable[Violation]:
    if facts.customer_currency and facts.currency != facts.customer_currency:
        yield Violation(
            ErrorCode.CURRENCY_MISMATCH,
            f"the customer is billed in {facts.customer_currency}, not {facts.currency}",
            "currency",
        )


def _applications(facts: PaymentFacts) -> Iterable[Violation]:
    seen: set[str] = set()
    for position, (invoice_id, amount) in enumerate(facts.applications):
        field = f"applications.{position}"
        if invoice_id in seen:
            yield Violation(ErrorCode.DUPLICATE_INVOICE, "each invoice may be applied once", field)
        seen.add(invoice_id)
        if amount <= 0:
            yield Violation(
                ErrorCode.AMOUNT_NOT_POSITIVE, "an applied amount must be positive", field
            )
        invoice = facts.invoices.get(invoice_id)
        if invoice is None:
            yield Violation(ErrorCode.INVOICE_NOT_FOUND, f"no invoice inv:{invoice_id}", field)
            continue
        if invoice.customer_erp_id != facts.customer_erp_id:
            yield Violation(
                ErrorCode.INVOICE_OF_ANOTHER_CUSTOMER,
                f"{invoice.number} bills another customer",
                field,
            )
        if invoice.currency and invoice.currency != facts.currency:
            yield Violation(
                ErrorCode.CURRENCY_MISMATCH,
                f"{invoice.number} is in {invoice.currency}, not {facts.currency}",
                field,
            )
        if invoice.amount_due <= 0:
            yield Violation(ErrorCode.INVOICE_NOT_OPEN, f"{invoice.number} is paid", field)
        elif amount > invoice.amount_due:
            yield Violation(
                ErrorCode.OVERPAYMENT,
                f"{amount} is more than the {invoice.amount_due} due on {invoice.number}",
                field,
            )


def _payment_money(facts: PaymentFacts) -> Iterable[Violation]:
    problem = money_problem(facts.amount, facts.currency, "amount", "the payment amount")
    if problem is not None:
        yield problem
    for position, (_, amount) in enumerate(facts.applications):
        problem = money_problem(
            amount, facts.currency, f"applications.{position}", "an applied amount"
        )
        if problem is not None:
            yield problem


PAYMENT_POLICIES: list[Policy[PaymentFacts]] = [
    Policy("INVALID_VALUE", "Amounts fit the currency's minor unit and range.", _payment_money),
    Policy("OVERPAYMENT", "The payment equals what it is applied to.", _payment_amount),
    Policy("CURRENCY_MISMATCH", "The payment is in the customer's currency.", _payment_currency),
    Policy(
        "INVOICE_NOT_OPEN",
        "Each application pays an open invoice of the customer, in its "
        "currency, at most its amount due.",
        _applications,
    ),
]
