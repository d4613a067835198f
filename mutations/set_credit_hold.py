"""setCreditHold: finance puts a customer on credit hold, takes it off, or back to automatic.

The hold is the ERP's (``creditHoldOverride``); only the finance role may set it, and every
change is audited with its reason.
"""

from __future__ import annotations

from domain.caller import Caller
from domain.ids import CustomerRef
from mutations.change_feed import RecordKind, report
from mutations.common import (
    Outcome,
    WriteServices,
    audit_write,
    erp_customer_of,
    idempotent,
    refused,
    upstream_problem,
)
from mutations.errors import COMMON, CUSTOMER, ErrorCode, Problem, codes
from mutations.results import CustomerResult
from sources.errors import SourceError
from sources.records import CreditHold, CustomerFields

MAX_REASON = 500


CODES = codes(COMMON, CUSTOMER)
"""The codes setCreditHold answers with."""


async def set_credit_hold(
    services: WriteServices,
    caller: Caller,
    key: str,
    ref: CustomerRef,
    hold: CreditHold,
    reason: str,
) -> Outcome[CustomerResult]:
    async def run(upstream: str) -> Outcome[CustomerResult]:
        if not reason.strip() or len(reason) > MAX_REASON:
            return refused(
                Problem(
                    ErrorCode.INVALID_VALUE,
                    f"reason must have 1 to {MAX_REASON} characters",
                    "reason",
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
            await services.erp.update_customer(
                customer.erp_id, CustomerFields(credit_hold=hold), idempotency_key=upstream
            )
        except SourceError as error:
            return Outcome(problems=[upstream_problem(error)], transient=True)
        await audit_write(
            services,
            caller,
            action="setCreditHold",
            outcome="applied",
            system=services.erp.source,
            record_type="customer",
            record_id=customer.erp_id,
            before={"credit_hold": customer.credit_hold.value},
            after={"credit_hold": hold.value},
            idempotency_key=key,
            message=reason,
        )
        await report(
            services.changes,
            services.erp.source,
            RecordKind.CUSTOMER,
            customer.erp_id,
            "update",
            previous={"credit_hold": customer.credit_hold.value},
        )
        return Outcome(CustomerResult(key=customer.erp_key, erp_id=customer.erp_id))

    payload = {"customer": ref, "hold": hold, "reason": reason}
    return await idempotent(services, "setCreditHold", caller, key, payload, run)
