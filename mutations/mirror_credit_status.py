"""mirrorCreditStatus: write the ERP's credit status to the CRM account's copy, now.

Propagation (`events.propagation`) keeps ``Credit_Status__c`` in step as changes arrive; this
mends an account whose copy drifted anyway (a change missed while propagation was off, an
edit by hand). The value written is the ERP's status as read at that moment; an account
already in step is left as it is. Every write is audited.
"""

from __future__ import annotations

from domain.caller import Caller
from domain.ids import CustomerRef
from events.propagation import MIRROR_VALUES
from mutations.common import (
    Outcome,
    WriteServices,
    audit_write,
    erp_customer_of,
    idempotent,
    refused,
    upstream_problem,
)
from mutations.errors import COMMON, ErrorCode, Problem, codes
from mutations.results import CreditMirrorResult, CustomerResult
from sources.errors import SourceError
from sources.records import AccountFields

CODES = codes(COMMON, ErrorCode.CUSTOMER_NOT_IN_CRM, ErrorCode.CUSTOMER_NOT_IN_ERP)
"""The codes mirrorCreditStatus answers with."""


async def mirror_credit_status(
    services: WriteServices, caller: Caller, key: str, ref: CustomerRef
) -> Outcome[CreditMirrorResult]:
    async def run(upstream: str) -> Outcome[CreditMirrorResult]:
        try:
            customer = await erp_customer_of(services, ref)
            if customer is None:
                return refused(
                    Problem(
                        ErrorCode.CUSTOMER_NOT_IN_ERP, "the ERP has no such customer", "customerId"
                    )
                )
            link = customer.erp_key
            accounts = await services.crm.accounts_by_erp_keys([link]) if link else {}
            account = accounts.get(link or "")
            if account is None:
                return refused(
                    Problem(
                        ErrorCode.CUSTOMER_NOT_IN_CRM,
                        "no CRM account links to the customer",
                        "customerId",
                    )
                )
            value = MIRROR_VALUES[customer.credit_status]
            result = CreditMirrorResult(CustomerResult(key=link), value)
            if account.credit_status_mirror == value:
                # Shown already: by propagation, or by an earlier attempt of this request whose
                # answer was lost. Either way the trail says what the request found.
                await audit_write(
                    services,
                    caller,
                    action="mirrorCreditStatus",
                    outcome="unchanged",
                    system=services.crm.source,
                    record_type="Account",
                    record_id=account.salesforce_id,
                    before={"Credit_Status__c": value},
                    after={"Credit_Status__c": value},
                    idempotency_key=key,
                    message="the account shows the ERP's credit status already",
                )
                return Outcome(result)
            await services.crm.update_account(
                account.salesforce_id,
                AccountFields(credit_status_mirror=value),
                idempotency_key=upstream,
            )
        except SourceError as error:
            return Outcome(problems=[upstream_problem(error)], transient=True)
        await audit_write(
            services,
            caller,
            action="mirrorCreditStatus",
            outcome="applied",
            system=services.crm.source,
            record_type="Account",
            record_id=account.salesforce_id,
            before={"Credit_Status__c": account.credit_status_mirror},
            after={"Credit_Status__c": value},
            idempotency_key=key,
            upstream_ids={"erpCustomer": customer.erp_id},
        )
        return Outcome(result)

    return await idempotent(services, "mirrorCreditStatus", caller, key, {"customer": ref}, run)
