"""recordPayment: its input, payload, errors and resolver."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry

from domain import ids
from mutations import record_payment as logic
from mutations.common import Outcome, authorize
from mutations.results import PaymentResult
from resolvers.errors import BadInputError
from schema.mutations.common import customer_of, customer_ref, error_types, errors_of, services_of
from schema.scalars import CurrencyCode
from schema.types import Customer, Info, Payment

RecordPaymentErrorCode, RecordPaymentError = error_types("RecordPayment", logic.CODES)


@strawberry.input(description="The part of a payment applied to one invoice.")
class PaymentApplicationInput:
    invoice_id: strawberry.ID = strawberry.field(description="The invoice, inv:<ERP id>.")
    amount: Decimal = strawberry.field(description="The amount applied to it.")


@strawberry.input(description="A customer payment to post in the ERP.")
class RecordPaymentInput:
    idempotency_key: str = strawberry.field(description="Repeat it to retry safely.")
    customer_id: strawberry.ID = strawberry.field(description="The paying customer's id.")
    amount: Decimal = strawberry.field(description="The amount received.")
    currency: CurrencyCode = strawberry.field(description="Its currency (the invoices').")
    applications: list[PaymentApplicationInput] = strawberry.field(
        description="How it is applied to the customer's open invoices."
    )
    payment_date: dt.date | None = strawberry.field(default=None, description="Default: today.")
    memo: str | None = strawberry.field(default=None, description="Shown on the payment.")


@strawberry.type(description="What recordPayment did.")
class RecordPaymentPayload:
    outcome: strawberry.Private[Outcome[PaymentResult]]
    errors: list[RecordPaymentError] = strawberry.field(  # type: ignore[valid-type]
        description="Why it refused or failed; empty when the payment was posted."
    )

    @strawberry.field(description="The payment as posted.")  # type: ignore[untyped-decorator]
    def payment(self) -> Payment | None:
        result = self.outcome.result
        return Payment.of(result.payment) if result is not None else None

    @strawberry.field(description="The paying customer, with its balance now.")  # type: ignore[untyped-decorator]
    async def customer(self, info: Info) -> Customer | None:
        result = self.outcome.result
        return await customer_of(info, result.customer if result is not None else None)


async def record_payment(info: Info, input: RecordPaymentInput) -> RecordPaymentPayload:
    caller = info.context.caller
    authorize("recordPayment", caller)
    ref = customer_ref(input.customer_id, "input.customerId")
    erp = info.context.sources.erp
    applications = []
    for position, application in enumerate(input.applications):
        try:
            invoice = ids.parse_erp_object_id(
                "Invoice", application.invoice_id, erp.accepts_id, erp.id_shape
            )
        except ids.InvalidId as exc:
            raise BadInputError(
                str(exc), argument=f"input.applications.{position}.invoiceId"
            ) from None
        applications.append((invoice, application.amount))
    outcome = await logic.record_payment(
        services_of(info),
        caller,
        input.idempotency_key,
        ref,
        input.amount,
        input.currency,
        input.payment_date,
        applications,
        input.memo,
    )
    return RecordPaymentPayload(
        outcome=outcome,
        errors=errors_of(RecordPaymentError, RecordPaymentErrorCode, outcome.problems),
    )


DESCRIPTION = "Post a customer payment in the ERP, applied to its open invoices."
