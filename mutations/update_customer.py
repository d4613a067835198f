"""updateCustomer: each field goes to the system that owns it, or nowhere.

The ownership registry routes every input field (`domain.ownership.REGISTRY.inputs`): the
entry's owner is the system written, its binding's attribute the record attribute, its check
the validation (`mutations.field_checks`). With the default registry, name, industry, phone,
website and the billing address go to the CRM; credit limit, payment terms, tax id and legal
entity to the ERP. A field the caller's role may not write, or any invalid value, refuses the
whole request with typed problems and nothing is written. When both systems take changes and
the second write fails, the first is put back: the customer is never left half-updated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from domain.caller import Caller
from domain.ids import CustomerRef
from domain.ownership import REGISTRY, System
from mutations.change_feed import RecordKind, report
from mutations.common import (
    Outcome,
    WriteServices,
    audit_write,
    idempotent,
    refused,
    upstream_problem,
)
from mutations.errors import COMMON, CUSTOMER, ErrorCode, Problem, codes
from mutations.field_checks import CheckContext, check
from mutations.results import CustomerResult
from sources.errors import SourceError
from sources.records import AccountFields, Address, CrmAccount, CustomerFields, ErpCustomer

CODES = codes(
    COMMON,
    CUSTOMER,
    ErrorCode.NOTHING_TO_UPDATE,
    ErrorCode.FIELD_NOT_WRITABLE,
    ErrorCode.BILLING_ADDRESS_INCOMPLETE,
    ErrorCode.UNKNOWN_LEGAL_ENTITY,
    ErrorCode.CURRENCY_MISMATCH,
    ErrorCode.TAX_ID_INVALID,
    ErrorCode.TAX_ID_MISSING,
    ErrorCode.UNKNOWN_PAYMENT_TERMS,
)
"""The codes updateCustomer answers with."""


async def update_customer(
    services: WriteServices,
    caller: Caller,
    key: str,
    ref: CustomerRef,
    changes: Mapping[str, Any],
) -> Outcome[CustomerResult]:
    """Apply ``changes`` (values by registry path, as `REGISTRY.inputs` lists them)."""
    payload = {"customer": ref, "changes": dict(sorted(changes.items()))}
    return await idempotent(
        services,
        "updateCustomer",
        caller,
        key,
        payload,
        lambda upstream: _update(services, caller, key, upstream, ref, changes),
    )


async def _load(
    services: WriteServices, ref: CustomerRef
) -> tuple[CrmAccount | None, ErpCustomer | None]:
    account = customer = None
    if ref.salesforce_id:
        account = (await services.crm.accounts_by_ids([ref.salesforce_id])).get(ref.salesforce_id)
    if ref.erp_id:
        customer = (await services.erp.customers_by_ids([ref.erp_id])).get(ref.erp_id)
    key = (
        ref.key
        or (account.erp_key if account else None)
        or (customer.erp_key if customer else None)
    )
    if key:
        crm, erp = await asyncio.gather(
            services.crm.accounts_by_erp_keys([key]) if account is None else _nothing(),
            services.erp.customers_by_keys([key]) if customer is None else _nothing(),
        )
        account = account or crm.get(key)
        customer = customer or erp.get(key)
    return account, customer


async def _nothing() -> dict[str, Any]:
    return {}


async def _update(
    services: WriteServices,
    caller: Caller,
    key: str,
    upstream: str,
    ref: CustomerRef,
    changes: Mapping[str, Any],
) -> Outcome[CustomerResult]:
    if not changes:
        return refused(Problem(ErrorCode.NOTHING_TO_UPDATE, "give at least one field to change"))
    problems: list[Problem] = []
    for path in changes:
        entry = REGISTRY[path]
        if caller.role is None or not REGISTRY.may_write(path, caller.role):
            problems.append(
                Problem(
                    ErrorCode.FIELD_NOT_WRITABLE,
                    f"the {caller.role.value if caller.role else 'anonymous'} role may not change "
                    f"{entry.input_name} (owned by the {entry.owner.value})",
                    entry.input_name,
                )
            )
    try:
        account, customer = await _load(services, ref)
    except SourceError as error:
        return Outcome(problems=[upstream_problem(error)], transient=True)
    if account is None and customer is None:
        return refused(Problem(ErrorCode.CUSTOMER_NOT_FOUND, "no system knows this customer", "id"))

    owners = {REGISTRY[path].owner for path in changes}
    if System.CRM in owners and account is None:
        problems.append(
            Problem(ErrorCode.CUSTOMER_NOT_IN_CRM, "the customer has no CRM account", "id")
        )
    if System.ERP in owners and customer is None:
        problems.append(
            Problem(ErrorCode.CUSTOMER_NOT_IN_ERP, "the customer is not in the ERP", "id")
        )
    context = CheckContext(services, customer, changes)
    written: dict[System, dict[str, Any]] = {System.CRM: {}, System.ERP: {}}
    for path, value in changes.items():
        entry = REGISTRY[path]
        checked = await check(context, path, value)
        problems.extend(checked.problems)
        written[entry.owner][entry.bound.attribute] = checked.value
    if problems:
        return refused(*problems)

    crm_part, erp_part = written[System.CRM], written[System.ERP]
    written_crm = False

    async def applied(
        system: str, record_type: str, record_id: str, *, before: Any, after: Any
    ) -> None:
        """The audit entry of this request's change to one record."""
        await audit_write(
            services,
            caller,
            action="updateCustomer",
            outcome="applied",
            system=system,
            record_type=record_type,
            record_id=record_id,
            before=before,
            after=after,
            idempotency_key=key,
        )

    try:
        if crm_part and account is not None:
            await services.crm.update_account(
                account.salesforce_id, AccountFields(**crm_part), idempotency_key=f"{upstream}:crm"
            )
            written_crm = True
            await applied(
                services.crm.source,
                "Account",
                account.salesforce_id,
                before=_before(account, crm_part),
                after=crm_part,
            )
            await report(
                services.changes,
                services.crm.source,
                RecordKind.CUSTOMER,
                account.salesforce_id,
                "update",
            )
        if erp_part and customer is not None:
            await services.erp.update_customer(
                customer.erp_id, CustomerFields(**erp_part), idempotency_key=f"{upstream}:erp"
            )
            await applied(
                services.erp.source,
                "customer",
                customer.erp_id,
                before=_before(customer, erp_part),
                after=erp_part,
            )
            limit = {"credit_limit": customer.credit_limit} if "credit_limit" in erp_part else {}
            await report(
                services.changes,
                services.erp.source,
                RecordKind.CUSTOMER,
                customer.erp_id,
                "update",
                previous=limit,
            )
    except SourceError as error:
        if written_crm and account is not None:
            await _restore_account(services, caller, key, upstream, account, crm_part)
        return Outcome(problems=[upstream_problem(error)], transient=True)
    return Outcome(
        CustomerResult(
            key=(account.erp_key if account else None) or (customer.erp_key if customer else None),
            salesforce_id=account.salesforce_id if account else None,
            erp_id=customer.erp_id if customer else None,
        )
    )


def _before(record: CrmAccount | ErpCustomer, changed: Mapping[str, Any]) -> dict[str, Any]:
    """The values ``record`` held for the attributes a request changes."""
    return {attribute: getattr(record, attribute) for attribute in changed}


async def _restore_account(
    services: WriteServices,
    caller: Caller,
    key: str,
    upstream: str,
    account: CrmAccount,
    changed: dict[str, Any],
) -> None:
    """Put the CRM's fields back after the ERP refused its part: each field that still holds
    what this request wrote gets its value from before (emptied if it was empty); a field
    someone changed since is left to them."""
    restored: dict[str, Any] = {}
    try:
        now = (await services.crm.accounts_by_ids([account.salesforce_id])).get(
            account.salesforce_id
        )
        mine = {
            name: value
            for name, value in changed.items()
            if now is not None and getattr(now, name) == value
        }
        restored = _before(account, mine)
        given = {name: value for name, value in restored.items() if not _empty(value)}
        cleared = tuple(sorted(name for name, value in restored.items() if _empty(value)))
        if restored:
            await services.crm.update_account(
                account.salesforce_id,
                AccountFields(**given, cleared=cleared),
                idempotency_key=f"{upstream}:crm-restore",
            )
            await report(
                services.changes,
                services.crm.source,
                RecordKind.CUSTOMER,
                account.salesforce_id,
                "update",
            )
        outcome = "compensated"
    except SourceError:
        outcome = "failed"
    await audit_write(
        services,
        caller,
        action="updateCustomer",
        outcome=outcome,
        system=services.crm.source,
        record_type="Account",
        record_id=account.salesforce_id,
        before=changed,
        after=restored if outcome == "compensated" else _before(account, changed),
        idempotency_key=key,
        message="restored after the ERP refused its part"
        if outcome == "compensated"
        else "could not restore after the ERP refused its part: the CRM keeps the new values",
    )


def _empty(value: Any) -> bool:
    if isinstance(value, Address):
        return not any((value.street, value.city, value.state, value.postal_code, value.country))
    return value is None or value == ""
