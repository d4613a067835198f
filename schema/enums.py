"""Status enums of the canonical schema (the canonical records' own enums, registered)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

import strawberry

from sources import records


def describe_values(enum_type: Any, descriptions: Mapping[str, str]) -> None:
    """Give each value of a registered enum its description (every value needs one)."""
    definition = (
        enum_type.__strawberry_definition__
        if hasattr(enum_type, "__strawberry_definition__")
        else enum_type._enum_definition
    )
    missing = [value.name for value in definition.values if value.name not in descriptions]
    if missing:
        raise ValueError(f"{definition.name}: no description for {missing}")
    definition.values = [
        dataclasses.replace(value, description=descriptions[value.name])
        for value in definition.values
    ]


CreditStatus = records.CreditStatus
CreditHoldSetting = records.CreditHold
OrderStatus = records.OrderStatus
InvoiceStatus = records.InvoiceStatus

strawberry.enum(
    CreditStatus,
    description="Credit standing: ON_HOLD when the ERP holds the account, OVER_LIMIT when the "
    "balance exceeds the credit limit, else GOOD_STANDING.",
)
strawberry.enum(
    CreditHoldSetting,
    name="CreditHoldSetting",
    description="The ERP's credit hold setting: AUTO (by limit), ON or OFF.",
)
strawberry.enum(OrderStatus, description="Status of a sales order.")
strawberry.enum(
    InvoiceStatus,
    description="Payment status of an invoice. OVERDUE: past its due date with an amount due; "
    "PARTIALLY_PAID: some paid, not yet due; OPEN: nothing paid, not yet due.",
)


@strawberry.enum(description="A system Accord fronts, by the role it plays.")
class SourceSystem(enum.Enum):
    CRM = "CRM"
    ERP = "ERP"


describe_values(
    CreditStatus,
    {
        "GOOD_STANDING": "Within the credit limit, or the ERP's hold is set off.",
        "OVER_LIMIT": "The open balance exceeds the credit limit (hold AUTO).",
        "ON_HOLD": "The ERP holds the account: no new orders.",
    },
)
describe_values(
    CreditHoldSetting,
    {
        "AUTO": "The ERP holds the account when its balance exceeds the limit.",
        "ON": "Held, whatever the balance.",
        "OFF": "Never held, whatever the balance.",
    },
)
describe_values(
    OrderStatus,
    {
        "PENDING_APPROVAL": "Posted, awaiting approval in the ERP.",
        "PENDING_FULFILLMENT": "Approved, nothing shipped yet.",
        "PARTIALLY_FULFILLED": "Some lines shipped.",
        "PENDING_BILLING": "Shipped, not yet invoiced in full.",
        "BILLED": "Invoiced in full.",
        "CLOSED": "Closed without further fulfilment or billing.",
        "CANCELLED": "Cancelled.",
    },
)
describe_values(
    InvoiceStatus,
    {
        "OPEN": "Nothing paid, not yet due.",
        "PARTIALLY_PAID": "Some paid, the rest not yet due.",
        "OVERDUE": "Past its due date with an amount due.",
        "PAID": "Paid in full.",
        "VOIDED": "Voided in the ERP: nothing is due.",
    },
)
describe_values(
    SourceSystem,
    {"CRM": "The CRM (Salesforce).", "ERP": "The ERP."},
)
