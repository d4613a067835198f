"""The write path's business errors: one enum of codes, shared by the mutations and the schema.

A mutation reports what stopped it as `Problem`s in its payload, each with an `ErrorCode`.
Every code has its description here, and each mutation declares the codes it can answer with
(the groups below make up those declarations); the schema builds each mutation's error-code
enum from its declaration, with these descriptions, and a problem whose code a mutation did not
declare is a bug, never quietly turned into another code (`tests/mutations/test_error_codes.py`
checks the declarations against the code).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorCode(enum.StrEnum):
    """Each code's value is its name, as the schema's enums show it."""

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[str]) -> str:
        return name

    # the request
    INVALID_IDEMPOTENCY_KEY = enum.auto()
    IDEMPOTENCY_KEY_REUSED = enum.auto()
    INVALID_ID = enum.auto()
    INVALID_VALUE = enum.auto()
    # a source (sources.errors: each SourceError's code)
    SOURCE_UNAVAILABLE = enum.auto()
    SOURCE_TIMEOUT = enum.auto()
    SOURCE_RATE_LIMITED = enum.auto()
    SOURCE_AUTH = enum.auto()
    SOURCE_FORBIDDEN = enum.auto()
    SOURCE_VALIDATION = enum.auto()
    SOURCE_WARNING = enum.auto()
    SOURCE_CONFLICT = enum.auto()
    SOURCE_BAD_RESPONSE = enum.auto()
    SOURCE_ERROR = enum.auto()
    NOT_FOUND = enum.auto()
    NOT_SUPPORTED = enum.auto()
    # the customer
    CUSTOMER_NOT_FOUND = enum.auto()
    CUSTOMER_NOT_IN_CRM = enum.auto()
    CUSTOMER_NOT_IN_ERP = enum.auto()
    # updateCustomer
    NOTHING_TO_UPDATE = enum.auto()
    FIELD_NOT_WRITABLE = enum.auto()
    UNKNOWN_LEGAL_ENTITY = enum.auto()
    UNKNOWN_PAYMENT_TERMS = enum.auto()
    # booking
    OPPORTUNITY_NOT_FOUND = enum.auto()
    ORDER_ALREADY_BOOKED = enum.auto()
    BOOKING_IN_PROGRESS = enum.auto()
    OPPORTUNITY_NOT_CLOSED_WON = enum.auto()
    OPPORTUNITY_AMOUNT_NOT_POSITIVE = enum.auto()
    OPPORTUNITY_WITHOUT_LINES = enum.auto()
    LINE_NOT_PRICED = enum.auto()
    ACCOUNT_MISSING = enum.auto()
    BILLING_ADDRESS_INCOMPLETE = enum.auto()
    NO_LEGAL_ENTITY_FOR_COUNTRY = enum.auto()
    CURRENCY_MISMATCH = enum.auto()
    TAX_ID_MISSING = enum.auto()
    TAX_ID_INVALID = enum.auto()
    POLICY_VIOLATION = enum.auto()
    # recordPayment
    TOO_MANY_APPLICATIONS = enum.auto()
    AMOUNT_NOT_POSITIVE = enum.auto()
    NO_APPLICATIONS = enum.auto()
    OVERPAYMENT = enum.auto()
    APPLICATIONS_EXCEED_PAYMENT = enum.auto()
    DUPLICATE_INVOICE = enum.auto()
    INVOICE_NOT_FOUND = enum.auto()
    INVOICE_OF_ANOTHER_CUSTOMER = enum.auto()
    INVOICE_NOT_OPEN = enum.auto()
    # workflow actions
    WORKFLOW_NOT_FOUND = enum.auto()
    INVALID_STATE = enum.auto()
    # reconciliation
    RECONCILIATION_RUNNING = enum.auto()
    ACCOUNT_ALREADY_LINKED = enum.auto()
    CUSTOMER_ALREADY_LINKED = enum.auto()
    ERP_CUSTOMER_WITHOUT_KEY = enum.auto()
    NO_CREDIT_LIMIT = enum.auto()


DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.INVALID_IDEMPOTENCY_KEY: "The idempotencyKey is empty or too long.",
    ErrorCode.IDEMPOTENCY_KEY_REUSED: (
        "The idempotencyKey was used for a different request; use a new key."
    ),
    ErrorCode.INVALID_ID: "An id is malformed or of another type.",
    ErrorCode.INVALID_VALUE: "A value is out of range or malformed.",
    ErrorCode.SOURCE_UNAVAILABLE: "A source could not be reached or failed; retry later.",
    ErrorCode.SOURCE_TIMEOUT: "A source did not answer in time; retry with the same key.",
    ErrorCode.SOURCE_RATE_LIMITED: "A source refused for its rate limit; retry later.",
    ErrorCode.SOURCE_AUTH: "Accord could not authenticate with a source.",
    ErrorCode.SOURCE_FORBIDDEN: "A source refused Accord's integration user.",
    ErrorCode.SOURCE_VALIDATION: "A source refused the values; see the message.",
    ErrorCode.SOURCE_WARNING: "A source asks for a confirmation before it goes on.",
    ErrorCode.SOURCE_CONFLICT: "A source's record changed meanwhile; retry.",
    ErrorCode.SOURCE_BAD_RESPONSE: "A source answered with something Accord cannot read.",
    ErrorCode.SOURCE_ERROR: "A source failed in another way; see the message.",
    ErrorCode.NOT_FOUND: "A source has no such record.",
    ErrorCode.NOT_SUPPORTED: "The ERP cannot do this at all (docs/erps.md lists what each can).",
    ErrorCode.CUSTOMER_NOT_FOUND: "No system knows this customer.",
    ErrorCode.CUSTOMER_NOT_IN_CRM: "The customer has no CRM account.",
    ErrorCode.CUSTOMER_NOT_IN_ERP: "The customer is not in the ERP.",
    ErrorCode.NOTHING_TO_UPDATE: "No field to change was given.",
    ErrorCode.FIELD_NOT_WRITABLE: "The caller's role may not change this field.",
    ErrorCode.UNKNOWN_LEGAL_ENTITY: "The ERP has no such legal entity.",
    ErrorCode.UNKNOWN_PAYMENT_TERMS: "The ERP has no payment terms of that name.",
    ErrorCode.OPPORTUNITY_NOT_FOUND: "The CRM has no such opportunity.",
    ErrorCode.ORDER_ALREADY_BOOKED: "The opportunity was booked already.",
    ErrorCode.BOOKING_IN_PROGRESS: "Another request is booking the opportunity.",
    ErrorCode.OPPORTUNITY_NOT_CLOSED_WON: "Only a Closed Won opportunity is booked.",
    ErrorCode.OPPORTUNITY_AMOUNT_NOT_POSITIVE: "The opportunity's amount is not positive.",
    ErrorCode.OPPORTUNITY_WITHOUT_LINES: "The opportunity has no product lines.",
    ErrorCode.LINE_NOT_PRICED: "A product line has no price.",
    ErrorCode.ACCOUNT_MISSING: "The opportunity has no account.",
    ErrorCode.BILLING_ADDRESS_INCOMPLETE: "The billing address lacks a part billing needs.",
    ErrorCode.NO_LEGAL_ENTITY_FOR_COUNTRY: "No legal entity books customers of that country.",
    ErrorCode.CURRENCY_MISMATCH: "The currencies of the records involved differ.",
    ErrorCode.TAX_ID_MISSING: "The customer's country requires a tax id.",
    ErrorCode.TAX_ID_INVALID: "The tax id does not have its country's shape.",
    ErrorCode.POLICY_VIOLATION: "A validation policy refused the booking; see the message.",
    ErrorCode.TOO_MANY_APPLICATIONS: "The payment is applied to too many invoices.",
    ErrorCode.AMOUNT_NOT_POSITIVE: "The amount is not positive.",
    ErrorCode.NO_APPLICATIONS: "The payment is applied to no invoice.",
    ErrorCode.OVERPAYMENT: "An application exceeds what the invoice still owes.",
    ErrorCode.APPLICATIONS_EXCEED_PAYMENT: "The applications add up to more than the payment.",
    ErrorCode.DUPLICATE_INVOICE: "An invoice is named twice.",
    ErrorCode.INVOICE_NOT_FOUND: "The ERP has no such invoice.",
    ErrorCode.INVOICE_OF_ANOTHER_CUSTOMER: "An invoice belongs to another customer.",
    ErrorCode.INVOICE_NOT_OPEN: "An invoice is paid or voided.",
    ErrorCode.WORKFLOW_NOT_FOUND: "No such workflow.",
    ErrorCode.INVALID_STATE: "The workflow's status does not allow that action.",
    ErrorCode.RECONCILIATION_RUNNING: "A reconciliation is running already.",
    ErrorCode.ACCOUNT_ALREADY_LINKED: "The account is linked to an ERP customer already.",
    ErrorCode.CUSTOMER_ALREADY_LINKED: "An account links to this ERP customer already.",
    ErrorCode.ERP_CUSTOMER_WITHOUT_KEY: "The ERP customer has no cross-reference key.",
    ErrorCode.NO_CREDIT_LIMIT: "The customer has no credit limit in the ERP.",
}

# The codes every mutation can answer with: the request's and the sources'.
COMMON: tuple[ErrorCode, ...] = (
    ErrorCode.INVALID_IDEMPOTENCY_KEY,
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    ErrorCode.INVALID_ID,
    ErrorCode.INVALID_VALUE,
    ErrorCode.SOURCE_UNAVAILABLE,
    ErrorCode.SOURCE_TIMEOUT,
    ErrorCode.SOURCE_RATE_LIMITED,
    ErrorCode.SOURCE_AUTH,
    ErrorCode.SOURCE_FORBIDDEN,
    ErrorCode.SOURCE_VALIDATION,
    ErrorCode.SOURCE_WARNING,
    ErrorCode.SOURCE_CONFLICT,
    ErrorCode.SOURCE_BAD_RESPONSE,
    ErrorCode.SOURCE_ERROR,
    ErrorCode.NOT_FOUND,
    ErrorCode.NOT_SUPPORTED,
)
CUSTOMER: tuple[ErrorCode, ...] = (
    ErrorCode.CUSTOMER_NOT_FOUND,
    ErrorCode.CUSTOMER_NOT_IN_CRM,
    ErrorCode.CUSTOMER_NOT_IN_ERP,
)
BOOKING: tuple[ErrorCode, ...] = (
    ErrorCode.OPPORTUNITY_NOT_FOUND,
    ErrorCode.ORDER_ALREADY_BOOKED,
    ErrorCode.BOOKING_IN_PROGRESS,
    ErrorCode.OPPORTUNITY_NOT_CLOSED_WON,
    ErrorCode.OPPORTUNITY_AMOUNT_NOT_POSITIVE,
    ErrorCode.OPPORTUNITY_WITHOUT_LINES,
    ErrorCode.LINE_NOT_PRICED,
    ErrorCode.ACCOUNT_MISSING,
    ErrorCode.BILLING_ADDRESS_INCOMPLETE,
    ErrorCode.NO_LEGAL_ENTITY_FOR_COUNTRY,
    ErrorCode.CURRENCY_MISMATCH,
    ErrorCode.TAX_ID_MISSING,
    ErrorCode.TAX_ID_INVALID,
    ErrorCode.POLICY_VIOLATION,
)


def codes(*groups: tuple[ErrorCode, ...] | ErrorCode) -> tuple[ErrorCode, ...]:
    """A mutation's declaration: the groups and codes given, each once, in order."""
    found: dict[ErrorCode, None] = {}
    for group in groups:
        for code in group if isinstance(group, tuple) else (group,):
            found[code] = None
    return tuple(found)


def code_of(value: str) -> ErrorCode:
    """The code named ``value`` (a source's error code, a stored problem's): a `ValueError`
    when there is none, since a code Accord does not know is a bug."""
    return ErrorCode(value)


@dataclass(frozen=True)
class Problem:
    """A business failure reported in a payload's ``errors``."""

    code: ErrorCode
    message: str
    field: str | None = None
