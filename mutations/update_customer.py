"""updateCustomer: each field goes to the system that owns it, or nowhere.

The ownership registry routes every input field: name, industry, phone, website and the
billing address to the CRM; credit limit, payment terms, tax id and legal entity to the ERP.
A field the caller's role may not write, or any invalid value, refuses the whole request with
typed problems and nothing is written. When both systems take changes and the second write
fails, the first is put back: the customer is never left half-updated.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from mutations.change_feed import NETSUITE, SALESFORCE, report
from mutations.common import (
    Outcome,
    Problem,
    WriteServices,
    audit_write,
    idempotent,
    refused,
    upstream_problem,
)
from mutations.policies import address_gaps, money_problem, tax_id_problem
from resolvers.context import Caller
from schema.ids import CustomerRef
from schema.ownership import REGISTRY, System
from sources.errors import SourceError
from sources.records import AccountFields, Address, CrmAccount, CustomerFields, ErpCustomer

MAX_NAME = 255


@dataclass(frozen=True)
class CustomerChanges:
    """The fields an updateCustomer request sets (None: not given)."""

    name: str | None = None
    industry: str | None = None
    phone: str | None = None
    website: str | None = None
    billing_address: Address | None = None
    credit_limit: Decimal | None = None
    payment_terms: str | None = None  # the terms' name, e.g. "Net 45"
    tax_id: str | None = None
    legal_entity_id: str | None = None


# input field -> (registry path, GraphQL input name)
ROUTES: dict[str, tuple[str, str]] = {
    "name": ("Customer.name", "name"),
    "industry": ("Customer.industry", "industry"),
    "phone": ("Customer.phone", "phone"),
    "website": ("Customer.website", "website"),
    "billing_address": ("Customer.billingAddress", "billingAddress"),
    "credit_limit": ("CreditSummary.limit", "creditLimit"),
    "payment_terms": ("Customer.paymentTerms", "paymentTerms"),
    "tax_id": ("Customer.taxId", "taxId"),
    "legal_entity_id": ("Customer.legalEntity", "legalEntityId"),
}


def given(changes: CustomerChanges) -> dict[str, Any]:
    return {
        f.name: getattr(changes, f.name)
        for f in fields(changes)
        if getattr(changes, f.name) is not None
    }


async def update_customer(
    services: WriteServices, caller: Caller, key: str, ref: CustomerRef, changes: CustomerChanges
) -> Outcome:
    payload = {"customer": ref, "changes": changes}
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
    changes: CustomerChanges,
) -> Outcome:
    wanted = given(changes)
    if not wanted:
        return refused(Problem("NOTHING_TO_UPDATE", "give at least one field to change"))
    problems: list[Problem] = []
    for name in wanted:
        path, input_name = ROUTES[name]
        if caller.role is None or not REGISTRY.may_write(path, caller.role):
            owner = REGISTRY[path].owner.value
            problems.append(
                Problem(
                    "FIELD_NOT_WRITABLE",
                    f"the {caller.role.value if caller.role else 'anonymous'} role may not change "
                    f"{input_name} (owned by the {owner})",
                    input_name,
                )
            )
    try:
        account, customer = await _load(services, ref)
    except SourceError as error:
        return Outcome(problems=[upstream_problem(error)], transient=True)
    if account is None and customer is None:
        return refused(Problem("CUSTOMER_NOT_FOUND", "no system knows this customer", "id"))

    crm_fields = {n: v for n, v in wanted.items() if REGISTRY[ROUTES[n][0]].owner is System.CRM}
    erp_fields = {n: v for n, v in wanted.items() if REGISTRY[ROUTES[n][0]].owner is System.ERP}
    if crm_fields and account is None:
        problems.append(Problem("CUSTOMER_NOT_IN_CRM", "the customer has no CRM account", "id"))
    if erp_fields and customer is None:
        problems.append(Problem("CUSTOMER_NOT_IN_ERP", "the customer is not in the ERP", "id"))
    problems.extend(await _validate(services, changes, customer))
    if problems:
        return refused(*problems)

    account_fields = AccountFields(**crm_fields)
    customer_fields = await _customer_fields(services, changes)
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
        if crm_fields and account is not None:
            await services.crm.update_account(
                account.salesforce_id, account_fields, idempotency_key=f"{upstream}:crm"
            )
            written_crm = True
            before = _before_account(account, crm_fields)
            await applied(
                "salesforce", "Account", account.salesforce_id, before=before, after=crm_fields
            )
            await report(services.changes, SALESFORCE, "Account", account.salesforce_id, "update")
        if erp_fields and customer is not None:
            await services.erp.update_customer(
                customer.erp_id, customer_fields, idempotency_key=f"{upstream}:erp"
            )
            before = _before_customer(customer, erp_fields)
            await applied("netsuite", "customer", customer.erp_id, before=before, after=erp_fields)
            limit = {"creditLimit": customer.credit_limit} if "credit_limit" in erp_fields else {}
            await report(
                services.changes, NETSUITE, "customer", customer.erp_id, "update", previous=limit
            )
    except SourceError as error:
        if written_crm and account is not None:
            await _restore_account(services, caller, key, upstream, account, crm_fields)
        return Outcome(problems=[upstream_problem(error)], transient=True)
    return Outcome(
        {
            "customer": {
                "key": (account.erp_key if account else None)
                or (customer.erp_key if customer else None),
                "salesforce_id": account.salesforce_id if account else None,
                "erp_id": customer.erp_id if customer else None,
            }
        }
    )


async def _validate(
    services: WriteServices, changes: CustomerChanges, customer: ErpCustomer | None
) -> list[Problem]:
    problems: list[Problem] = []
    if changes.name is not None and (not changes.name.strip() or len(changes.name) > MAX_NAME):
        problems.append(
            Problem("INVALID_VALUE", f"name must have 1 to {MAX_NAME} characters", "name")
        )
    if changes.credit_limit is not None:
        if changes.credit_limit < 0:
            problems.append(
                Problem("INVALID_VALUE", "creditLimit must not be negative", "creditLimit")
            )
        else:
            currency = customer.currency if customer else None
            problem = money_problem(changes.credit_limit, currency, "creditLimit", "creditLimit")
            if problem is not None:
                problems.append(Problem.of(problem))
    if changes.billing_address is not None:
        gaps = address_gaps(changes.billing_address)
        if gaps:
            problems.append(
                Problem(
                    "BILLING_ADDRESS_INCOMPLETE",
                    f"the billing address has no {', '.join(gaps)}",
                    "billingAddress",
                )
            )
    entities = (
        await services.erp.legal_entities() if (changes.legal_entity_id or changes.tax_id) else {}
    )
    entity_id = changes.legal_entity_id or (customer.legal_entity_id if customer else None)
    entity = entities.get(entity_id or "")
    if changes.legal_entity_id is not None:
        if entity is None:
            problems.append(
                Problem(
                    "UNKNOWN_LEGAL_ENTITY",
                    f"no legal entity le:{changes.legal_entity_id}",
                    "legalEntityId",
                )
            )
        elif customer is not None and customer.currency and entity.currency != customer.currency:
            problems.append(
                Problem(
                    "CURRENCY_MISMATCH",
                    f"{entity.name} books in {entity.currency}; the customer is billed in "
                    f"{customer.currency}",
                    "legalEntityId",
                )
            )
    if changes.tax_id is not None:
        problem = tax_id_problem(entity.country if entity else None, changes.tax_id, "taxId")
        if problem is not None:
            problems.append(Problem.of(problem))
    if changes.payment_terms is not None:
        terms = await services.erp.payment_terms()
        if not any(t.name.lower() == changes.payment_terms.lower() for t in terms.values()):
            known = ", ".join(sorted(t.name for t in terms.values()))
            problems.append(
                Problem(
                    "UNKNOWN_PAYMENT_TERMS",
                    f"no payment terms {changes.payment_terms!r} ({known})",
                    "paymentTerms",
                )
            )
    return problems


async def _customer_fields(services: WriteServices, changes: CustomerChanges) -> CustomerFields:
    terms_id = None
    if changes.payment_terms is not None:
        terms = await services.erp.payment_terms()
        terms_id = next(
            t.erp_id for t in terms.values() if t.name.lower() == changes.payment_terms.lower()
        )
    return CustomerFields(
        credit_limit=changes.credit_limit,
        terms_id=terms_id,
        tax_id=changes.tax_id.replace(" ", "").upper() if changes.tax_id else None,
        legal_entity_id=changes.legal_entity_id,
    )


def _before_account(account: CrmAccount, changed: dict[str, Any]) -> dict[str, Any]:
    return {name: getattr(account, name) for name in changed}


def _before_customer(customer: ErpCustomer, changed: dict[str, Any]) -> dict[str, Any]:
    names = {
        "credit_limit": "credit_limit",
        "payment_terms": "terms_id",
        "tax_id": "tax_id",
        "legal_entity_id": "legal_entity_id",
    }
    return {name: getattr(customer, names[name]) for name in changed}


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
        restored = _before_account(account, mine)
        given = {name: value for name, value in restored.items() if not _empty(value)}
        cleared = tuple(sorted(name for name, value in restored.items() if _empty(value)))
        if restored:
            await services.crm.update_account(
                account.salesforce_id,
                AccountFields(**given, cleared=cleared),
                idempotency_key=f"{upstream}:crm-restore",
            )
            await report(services.changes, SALESFORCE, "Account", account.salesforce_id, "update")
        outcome = "compensated"
    except SourceError:
        outcome = "failed"
    await audit_write(
        services,
        caller,
        action="updateCustomer",
        outcome=outcome,
        system="salesforce",
        record_type="Account",
        record_id=account.salesforce_id,
        before=changed,
        after=restored if outcome == "compensated" else _before_account(account, changed),
        idempotency_key=key,
        message="restored after the ERP refused its part"
        if outcome == "compensated"
        else "could not restore after the ERP refused its part: the CRM keeps the new values",
    )


def _empty(value: Any) -> bool:
    if isinstance(value, Address):
        return not any((value.street, value.city, value.state, value.postal_code, value.country))
    return value is None or value == ""
