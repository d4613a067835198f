"""recordPayment: a customer payment posted in the ERP and applied to its invoices.

The payment must equal what it is applied to; each application pays an open invoice of the
same customer, in the payment's currency, at most its amount due (no overpayment). The ERP
payment's external id is derived from the idempotency key, so a retried request finds the
payment the first one posted instead of posting another, even when the record of the first
result was lost (the state backend went down, or restarted empty, after the payment posted):
the invoices no longer take the payment, and the one found under its external id is the
answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from decimal import Decimal

from domain.caller import Caller
from domain.ids import CustomerRef
from mutations.change_feed import RecordKind, report
from mutations.common import (
    Outcome,
    WriteServices,
    audit_write,
    erp_customer_of,
    idempotent,
    problems_of,
    refused,
    upstream_problem,
)
from mutations.errors import COMMON, CUSTOMER, ErrorCode, Problem, codes
from mutations.policies import PAYMENT_POLICIES, PaymentFacts, evaluate
from mutations.results import CustomerResult, PaymentResult
from sources.errors import SourceError
from sources.records import ErpCustomer, ErpPayment, NewPayment, PaymentApplication

MAX_APPLICATIONS = 100


CODES = codes(
    COMMON,
    CUSTOMER,
    ErrorCode.TOO_MANY_APPLICATIONS,
    ErrorCode.AMOUNT_NOT_POSITIVE,
    ErrorCode.NO_APPLICATIONS,
    ErrorCode.OVERPAYMENT,
    ErrorCode.APPLICATIONS_EXCEED_PAYMENT,
    ErrorCode.CURRENCY_MISMATCH,
    ErrorCode.DUPLICATE_INVOICE,
    ErrorCode.INVOICE_NOT_FOUND,
    ErrorCode.INVOICE_OF_ANOTHER_CUSTOMER,
    ErrorCode.INVOICE_NOT_OPEN,
)
"""The codes recordPayment answers with."""


def payment_external_id(upstream: str) -> str:
    """The ERP payment's external id, from the request's `upstream_key`."""
    return "ACCORD-PAY-" + hashlib.sha256(upstream.encode()).hexdigest()[:24]


async def record_payment(
    services: WriteServices,
    caller: Caller,
    key: str,
    ref: CustomerRef,
    amount: Decimal,
    currency: str,
    payment_date: dt.date | None,
    applications: Sequence[tuple[str, Decimal]],
    memo: str | None,
) -> Outcome[PaymentResult]:
    async def run(upstream: str) -> Outcome[PaymentResult]:
        if len(applications) > MAX_APPLICATIONS:
            return refused(
                Problem(
                    ErrorCode.TOO_MANY_APPLICATIONS,
                    f"apply to at most {MAX_APPLICATIONS} invoices",
                    "applications",
                )
            )
        try:
            customer = await erp_customer_of(services, ref)
            if customer is None:
                return refused(
                    Problem(
                        ErrorCode.CUSTOMER_NOT_IN_ERP, "the ERP has no such customer", "customerId"
                    )
                )
            invoices = await services.erp.invoices_by_ids([i for i, _ in applications])
        except SourceError as error:
            return Outcome(problems=[upstream_problem(error)], transient=True)
        facts = PaymentFacts(
            customer.erp_id, customer.currency, amount, currency, list(applications), invoices
        )
        external_id = payment_external_id(upstream)
        violations = evaluate(PAYMENT_POLICIES, facts)
        if violations:
            # An earlier attempt of this very request may have posted the payment (its answer,
            # or the record of it, lost): the invoices it paid no longer take it. That is this
            # request's result, not a refusal.
            try:
                earlier = (await services.erp.payments_by_external_ids([external_id])).get(
                    external_id
                )
            except SourceError as error:
                return Outcome(problems=[upstream_problem(error)], transient=True)
            if earlier is None:
                return refused(*problems_of(violations))
            return await posted(
                earlier, customer, external_id, found="an earlier attempt of this request"
            )
        payment = NewPayment(
            customer_erp_id=customer.erp_id,
            external_id=external_id,
            amount=amount,
            currency=currency,
            payment_date=payment_date or services.today(),
            applications=tuple(PaymentApplication(i, a) for i, a in applications),
            memo=memo,
        )
        try:
            erp_id = await services.erp.create_payment(payment, idempotency_key=upstream)
            created = (await services.erp.payments_by_ids([erp_id]))[erp_id]
        except SourceError as error:
            return Outcome(problems=[upstream_problem(error)], transient=True)
        return await posted(created, customer, external_id, after=payment)

    async def posted(
        payment: ErpPayment,
        customer: ErpCustomer,
        external_id: str,
        *,
        after: NewPayment | None = None,
        found: str | None = None,
    ) -> Outcome[PaymentResult]:
        """The answer for a payment in the ERP: audited, reported to the event feed."""
        await audit_write(
            services,
            caller,
            action="recordPayment",
            outcome="applied",
            system=services.erp.source,
            record_type="customerPayment",
            record_id=payment.erp_id,
            after=after,
            idempotency_key=key,
            upstream_ids={"externalId": external_id},
            message=f"found the payment {found} posted" if found else None,
        )
        await report(
            services.changes, services.erp.source, RecordKind.PAYMENT, payment.erp_id, "create"
        )
        return Outcome(
            PaymentResult(payment, CustomerResult(key=customer.erp_key, erp_id=customer.erp_id))
        )

    payload = {
        "customer": ref,
        "amount": amount,
        "currency": currency,
        "date": payment_date,
        "applications": list(applications),
        "memo": memo,
    }
    return await idempotent(services, "recordPayment", caller, key, payload, run)
