"""linkAccount: ops link a CRM account to the ERP customer that stands for it.

The account's ERP link (``Account.ERP_Customer_Id__c``) is set to the ERP customer's
cross-reference key. Refused when the account already links to a customer the ERP has, when
another account links to that customer, or when the ERP customer has no key; linking an
account to the customer it already links to changes nothing. Every link is audited.
"""

from __future__ import annotations

import asyncio

from domain.caller import Caller
from mutations.common import (
    Outcome,
    WriteServices,
    audit_write,
    idempotent,
    refused,
    upstream_problem,
)
from mutations.errors import COMMON, ErrorCode, Problem, codes
from mutations.results import CustomerResult
from sources.errors import SourceError
from sources.records import AccountFields

CODES = codes(
    COMMON,
    ErrorCode.CUSTOMER_NOT_IN_CRM,
    ErrorCode.CUSTOMER_NOT_IN_ERP,
    ErrorCode.ERP_CUSTOMER_WITHOUT_KEY,
    ErrorCode.ACCOUNT_ALREADY_LINKED,
    ErrorCode.CUSTOMER_ALREADY_LINKED,
)
"""The codes linkAccount answers with."""


async def link_account(
    services: WriteServices, caller: Caller, key: str, salesforce_id: str, erp_id: str
) -> Outcome[CustomerResult]:
    async def run(upstream: str) -> Outcome[CustomerResult]:
        try:
            accounts, customers = await asyncio.gather(
                services.crm.accounts_by_ids([salesforce_id]),
                services.erp.customers_by_ids([erp_id]),
            )
            account, customer = accounts.get(salesforce_id), customers.get(erp_id)
            if account is None:
                return refused(
                    Problem(
                        ErrorCode.CUSTOMER_NOT_IN_CRM, "the CRM has no such account", "salesforceId"
                    )
                )
            if customer is None:
                return refused(
                    Problem(ErrorCode.CUSTOMER_NOT_IN_ERP, "the ERP has no such customer", "erpId")
                )
            link = customer.erp_key
            if not link:
                return refused(
                    Problem(
                        ErrorCode.ERP_CUSTOMER_WITHOUT_KEY,
                        f"ERP customer {erp_id} has no external id to link to",
                        "erpId",
                    )
                )
            result = CustomerResult(key=link)
            if account.erp_key == link:
                # Linked already: by someone else, or by an earlier attempt of this request
                # whose answer was lost. Either way the trail says what the request found.
                await audit_write(
                    services,
                    caller,
                    action="linkAccount",
                    outcome="unchanged",
                    system=services.crm.source,
                    record_type="Account",
                    record_id=salesforce_id,
                    before={"ERP_Customer_Id__c": link},
                    after={"ERP_Customer_Id__c": link},
                    idempotency_key=key,
                    message="the account links to this customer already",
                )
                return Outcome(result)
            if account.erp_key:
                current = await services.erp.customers_by_keys([account.erp_key])
                if account.erp_key in current:
                    return refused(
                        Problem(
                            ErrorCode.ACCOUNT_ALREADY_LINKED,
                            f"the account links to ERP customer {account.erp_key} already",
                            "salesforceId",
                        )
                    )
            others = await services.crm.accounts_by_erp_keys([link])
            if link in others:
                return refused(
                    Problem(
                        ErrorCode.CUSTOMER_ALREADY_LINKED,
                        f"account {others[link].salesforce_id} links to {link} already",
                        "erpId",
                    )
                )
            await services.crm.update_account(
                salesforce_id, AccountFields(erp_key=link), idempotency_key=upstream
            )
        except SourceError as error:
            return Outcome(problems=[upstream_problem(error)], transient=True)
        await audit_write(
            services,
            caller,
            action="linkAccount",
            outcome="applied",
            system=services.crm.source,
            record_type="Account",
            record_id=salesforce_id,
            before={"ERP_Customer_Id__c": account.erp_key},
            after={"ERP_Customer_Id__c": link},
            idempotency_key=key,
            upstream_ids={"erpCustomer": erp_id},
        )
        return Outcome(result)

    payload = {"salesforceId": salesforce_id, "erpId": erp_id}
    return await idempotent(services, "linkAccount", caller, key, payload, run)
