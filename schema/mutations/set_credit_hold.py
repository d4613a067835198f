"""setCreditHold: its input, payload, errors and resolver."""

from __future__ import annotations

import strawberry

from mutations import set_credit_hold as logic
from mutations.common import Outcome, authorize
from mutations.results import CustomerResult
from schema.enums import CreditHoldSetting
from schema.mutations.common import customer_of, customer_ref, error_types, errors_of, services_of
from schema.types import Customer, Info

SetCreditHoldErrorCode, SetCreditHoldError = error_types("SetCreditHold", logic.CODES)


@strawberry.input(description="The ERP credit hold to set on a customer.")
class SetCreditHoldInput:
    idempotency_key: str = strawberry.field(description="Repeat it to retry safely.")
    customer_id: strawberry.ID = strawberry.field(description="The customer's canonical id.")
    hold: CreditHoldSetting = strawberry.field(description="The hold setting to apply.")
    reason: str = strawberry.field(description="Why, for the audit trail.")


@strawberry.type(description="What setCreditHold did.")
class SetCreditHoldPayload:
    outcome: strawberry.Private[Outcome[CustomerResult]]
    errors: list[SetCreditHoldError] = strawberry.field(  # type: ignore[valid-type]
        description="Why it refused or failed; empty when the hold was set."
    )

    @strawberry.field(description="The customer, with its credit standing now.")  # type: ignore[untyped-decorator]
    async def customer(self, info: Info) -> Customer | None:
        return await customer_of(info, self.outcome.result)


async def set_credit_hold(info: Info, input: SetCreditHoldInput) -> SetCreditHoldPayload:
    caller = info.context.caller
    authorize("setCreditHold", caller)
    ref = customer_ref(input.customer_id, "input.customerId")
    outcome = await logic.set_credit_hold(
        services_of(info), caller, input.idempotency_key, ref, input.hold, input.reason
    )
    return SetCreditHoldPayload(
        outcome=outcome,
        errors=errors_of(SetCreditHoldError, SetCreditHoldErrorCode, outcome.problems),
    )


DESCRIPTION = "Set the ERP credit hold (finance)."
