"""The checks of the fields updateCustomer writes, named by the registry (``Binding.check``).

Each check sees the value given for one field and what it needs of the customer, and answers
the value to write (the attribute's value: payment terms given by name are written as the
ERP's terms id, a tax id without its spaces) and the problems it found. Every check runs before
anything is written, so a request learns every problem at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from domain.ownership import REGISTRY
from mutations.common import WriteServices, problem_of
from mutations.errors import ErrorCode, Problem
from mutations.policies import address_gaps, money_problem, tax_id_problem
from sources.records import Address, ErpCustomer

MAX_NAME = 255


@dataclass(frozen=True)
class CheckContext:
    services: WriteServices
    customer: ErpCustomer | None  # the ERP's record of the customer, when it has one
    changes: Mapping[str, Any]  # every value the request gives, by registry path


@dataclass
class Checked:
    value: Any
    problems: list[Problem] = field(default_factory=list)


FieldCheck = Callable[[CheckContext, Any, str], Awaitable[Checked]]


async def _name(context: CheckContext, value: str, field: str) -> Checked:
    if not value.strip() or len(value) > MAX_NAME:
        return Checked(
            value,
            [
                Problem(
                    ErrorCode.INVALID_VALUE, f"{field} must have 1 to {MAX_NAME} characters", field
                )
            ],
        )
    return Checked(value)


async def _credit_limit(context: CheckContext, value: Decimal, field: str) -> Checked:
    if value < 0:
        return Checked(
            value, [Problem(ErrorCode.INVALID_VALUE, f"{field} must not be negative", field)]
        )
    currency = context.customer.currency if context.customer else None
    problem = money_problem(value, currency, field, field)
    return Checked(value, [problem_of(problem)] if problem is not None else [])


async def _address(context: CheckContext, value: Address, field: str) -> Checked:
    gaps = address_gaps(value)
    if gaps:
        message = f"the billing address has no {', '.join(gaps)}"
        return Checked(value, [Problem(ErrorCode.BILLING_ADDRESS_INCOMPLETE, message, field)])
    return Checked(value)


async def _legal_entity(context: CheckContext, value: str, field: str) -> Checked:
    entity = (await context.services.erp.legal_entities()).get(value)
    customer = context.customer
    if entity is None:
        return Checked(
            value, [Problem(ErrorCode.UNKNOWN_LEGAL_ENTITY, f"no legal entity le:{value}", field)]
        )
    if customer is not None and customer.currency and entity.currency != customer.currency:
        message = (
            f"{entity.name} books in {entity.currency}; the customer is billed in "
            f"{customer.currency}"
        )
        return Checked(value, [Problem(ErrorCode.CURRENCY_MISMATCH, message, field)])
    return Checked(value)


async def _tax_id(context: CheckContext, value: str, field: str) -> Checked:
    entity_id = context.changes.get("Customer.legalEntity") or (
        context.customer.legal_entity_id if context.customer else None
    )
    entities = await context.services.erp.legal_entities()
    entity = entities.get(entity_id or "")
    problem = tax_id_problem(entity.country if entity else None, value, field)
    written = value.replace(" ", "").upper()
    return Checked(written, [problem_of(problem)] if problem is not None else [])


async def _payment_terms(context: CheckContext, value: str, field: str) -> Checked:
    terms = await context.services.erp.payment_terms()
    found = next((t for t in terms.values() if t.name.lower() == value.lower()), None)
    if found is None:
        known = ", ".join(sorted(t.name for t in terms.values()))
        message = f"no payment terms {value!r} ({known})"
        return Checked(value, [Problem(ErrorCode.UNKNOWN_PAYMENT_TERMS, message, field)])
    return Checked(found.erp_id)


FIELD_CHECKS: dict[str, FieldCheck] = {
    "name": _name,
    "credit_limit": _credit_limit,
    "address": _address,
    "legal_entity": _legal_entity,
    "tax_id": _tax_id,
    "payment_terms": _payment_terms,
}


def unknown_checks() -> list[str]:
    """Checks the registry names that no function here implements (none when consistent)."""
    return sorted(
        f"{entry.path}: {entry.binding.check}"
        for entry in REGISTRY.inputs()
        if entry.binding is not None
        and entry.binding.check is not None
        and entry.binding.check not in FIELD_CHECKS
    )


async def check(context: CheckContext, path: str, value: Any) -> Checked:
    """The value to write for ``path`` and its problems."""
    entry = REGISTRY[path]
    name = entry.bound.check
    if name is None:
        return Checked(value)
    return await FIELD_CHECKS[name](context, value, entry.input_name)
