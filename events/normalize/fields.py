"""The customer fields a CUSTOMER_CREATED / CUSTOMER_UPDATED event compares and carries.

They come from the ownership registry (`domain.ownership`): the bound Customer and
CreditSummary fields the system owns and its adapter reads, so that a change of a field the
other system owns (a copy) is no event, and moving a field to the other owner moves it to the
other system's events. Names are the attributes in camel case (``legal_entity_id`` ->
``legalEntityId``), an address one name per part (``billingStreet``, ...), money as a decimal
string in the record's currency. Each side adds what identifies the record (its name and the
cross-reference key) and the state the registry does not bind (the ERP's credit hold and
inactive flag, the CRM's credit status mirror).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from domain import ownership
from domain.ownership import FieldOwnership, System, ValueKind
from sources.records import Address, CrmAccount, CustomerAttributes, ErpCustomer, to_currency

_ADDRESS_PARTS = ("street", "city", "state", "postal_code", "country")


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _owned(system: System, reads: frozenset[str]) -> Iterator[FieldOwnership]:
    """The bound entries ``system`` owns whose attribute its records carry."""
    registry = ownership.REGISTRY
    for entry in registry.of_type("Customer") + registry.of_type("CreditSummary"):
        if entry.binding is None or entry.owner is not system:
            continue
        # credit figures are part of every ERP customer record, not a mapped attribute
        if entry.binding.attribute in reads or entry.type_name == "CreditSummary":
            yield entry


def _put(values: dict[str, Any], entry: FieldOwnership, record: CustomerAttributes) -> None:
    binding = entry.bound
    value = getattr(record, binding.attribute, None)
    name = camel(binding.attribute)
    if binding.kind is ValueKind.ADDRESS:
        address = value if isinstance(value, Address) else record.billing()
        prefix = name.removesuffix("Address")
        for part in _ADDRESS_PARTS:
            values[prefix + camel(part)[:1].upper() + camel(part)[1:]] = getattr(address, part)
    elif binding.kind is ValueKind.MONEY:
        currency = record.currency
        values[name] = None if value is None else str(to_currency(Decimal(value), currency))
    else:
        values[name] = value


def erp_customer_fields(customer: ErpCustomer, reads: frozenset[str]) -> dict[str, Any]:
    values: dict[str, Any] = {"name": customer.name}
    for entry in _owned(System.ERP, reads):
        _put(values, entry, customer)
    values.update(
        erpKey=customer.erp_key,
        creditHold=customer.credit_hold.value,
        inactive=customer.inactive,
    )
    return values


def account_fields(account: CrmAccount, reads: frozenset[str]) -> dict[str, Any]:
    values: dict[str, Any] = {"name": account.name}
    for entry in _owned(System.CRM, reads):
        _put(values, entry, account)
    values.update(creditStatusMirror=account.credit_status_mirror, erpKey=account.erp_key)
    return values
