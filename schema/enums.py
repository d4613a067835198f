"""Status enums of the canonical schema (the canonical records' own enums, registered)."""

from __future__ import annotations

import enum

import strawberry

from sources import records

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
