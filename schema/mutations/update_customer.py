"""updateCustomer: its input (made from the registry), payload, errors and resolver."""

from __future__ import annotations

from typing import Any

import strawberry

from domain import ids
from domain.ownership import REGISTRY, FieldOwnership, ValueKind
from mutations import update_customer as logic
from mutations.common import Outcome, authorize
from mutations.results import CustomerResult
from resolvers.errors import BadInputError
from schema.bound import snake, update_inputs
from schema.mutations.common import customer_of, customer_ref, error_types, errors_of, services_of
from schema.types import Customer, Info

UpdateCustomerErrorCode, UpdateCustomerError = error_types("UpdateCustomer", logic.CODES)


@strawberry.input(description="Fields to change, each routed to the system that owns it.")
@update_inputs
class UpdateCustomerInput:
    """The fixed fields; `schema.bound.update_inputs` adds one per writable registry entry."""

    idempotency_key: str = strawberry.field(description="Repeat it to retry safely.")
    id: strawberry.ID = strawberry.field(description="The customer's canonical id.")


@strawberry.type(description="What updateCustomer did.")
class UpdateCustomerPayload:
    outcome: strawberry.Private[Outcome[CustomerResult]]
    errors: list[UpdateCustomerError] = strawberry.field(  # type: ignore[valid-type]
        description="Why it refused or failed; empty when every field was written."
    )

    @strawberry.field(description="The customer as its owners now hold it.")  # type: ignore[untyped-decorator]
    async def customer(self, info: Info) -> Customer | None:
        return await customer_of(info, self.outcome.result)


def _input_value(entry: FieldOwnership, value: Any) -> Any:
    """An input value as the write path takes it: an address as a record, a reference by its
    canonical id (``le:3``) as the ERP's id."""
    kind = entry.bound.written_as
    if kind is ValueKind.ADDRESS:
        return value.record()
    if kind is ValueKind.ID:
        referenced = entry.field_name[:1].upper() + entry.field_name[1:]
        try:
            return ids.parse_erp_object_id(referenced, value)
        except ids.InvalidId as exc:
            raise BadInputError(str(exc), argument=f"input.{entry.input_name}") from None
    return value


async def update_customer(info: Info, input: UpdateCustomerInput) -> UpdateCustomerPayload:
    caller = info.context.caller
    authorize("updateCustomer", caller)
    ref = customer_ref(input.id, "input.id")
    changes = {
        entry.path: _input_value(entry, value)
        for entry in REGISTRY.inputs()
        if (value := getattr(input, snake(entry.input_name))) is not None
    }
    outcome = await logic.update_customer(
        services_of(info), caller, input.idempotency_key, ref, changes
    )
    return UpdateCustomerPayload(
        outcome=outcome,
        errors=errors_of(UpdateCustomerError, UpdateCustomerErrorCode, outcome.problems),
    )


DESCRIPTION = (
    "Change a customer: each field goes to the system that owns it; a field the caller's "
    "role may not write refuses the whole request."
)
