"""Reconciliation in GraphQL: the report (ops and finance), running it now, and the fixes
Accord applies (linkAccount, mirrorCreditStatus; bookOrder is the write path's own).

Each drift's ``fix`` names the mutation that ends it and that mutation's input, so that a
console applies any fix the same way: call ``fix.mutation`` with ``fix.input`` and a fresh
idempotency key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from domain import ids
from mutations import link_account as link_logic
from mutations import mirror_credit_status as mirror_logic
from mutations import run_reconciliation as run_logic
from mutations.common import Outcome, authorize
from mutations.results import CreditMirrorResult, CustomerResult, ReportResult
from reconcile import DRIFT_MEANINGS, Drift, DriftKind, FixAction, Reconciler, Report
from resolvers.errors import BadInputError
from resolvers.paging import cursor_scope, decode_cursor, encode_cursor, page_size
from schema.enums import describe_values
from schema.mutations.common import customer_of, customer_ref, error_types, errors_of, services_of
from schema.types import Connection, Customer, Info, connection

strawberry.enum(DriftKind, description="What the CRM and the ERP disagree on.")
describe_values(DriftKind, {kind.name: meaning for kind, meaning in DRIFT_MEANINGS.items()})
strawberry.enum(FixAction, name="DriftFixAction", description="What ends a drift.")
describe_values(
    FixAction,
    {
        "LINK_ACCOUNT": "Link the account to its ERP customer (linkAccount).",
        "MIRROR_CREDIT_STATUS": "Copy the ERP's credit status to the account (mirrorCreditStatus).",
        "BOOK_ORDER": "Book the won opportunity as an ERP sales order (bookOrder).",
        "SET_UP_IN_ERP": "Set the customer up in the ERP (booking its first order does it).",
        "REPAIR_LINK": "Correct the account's ERP link by hand, in the CRM.",
        "CREATE_ACCOUNT": "Create (or link) the CRM account of an ERP customer.",
        "REVIEW_ORDER": "Restore the deleted opportunity, or cancel its ERP order.",
        "ALIGN_AMOUNTS": "Agree the amount, then amend the order or the opportunity.",
        "CORRECT_ERP_CUSTOMER": "Correct the ERP customer's copy of a value the CRM owns.",
    },
)


@strawberry.type(description="The action that ends a drift.")
class DriftFix:
    action: FixAction = strawberry.field(description="What ends the drift.")
    description: str = strawberry.field(description="The action, in words, with the values.")
    mutation: str | None = strawberry.field(
        description="The mutation that applies it (with `input` and a fresh idempotencyKey); "
        "null when it is done by hand in the system named."
    )
    input: JSON | None = strawberry.field(
        description="That mutation's input, without its idempotencyKey."
    )


@strawberry.type(name="Drift", description="One disagreement between the CRM and the ERP.")
class DriftNode:
    drift: strawberry.Private[Drift]

    @strawberry.field(description="KIND:subject; the same drift has the same id in every run.")  # type: ignore[untyped-decorator]
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.drift.id)

    @strawberry.field(description="What the systems disagree on.")  # type: ignore[untyped-decorator]
    def kind(self) -> DriftKind:
        return self.drift.kind

    @strawberry.field(description="The drift, in words.")  # type: ignore[untyped-decorator]
    def message(self) -> str:
        return self.drift.message

    @strawberry.field(description="The CRM account concerned (Salesforce id).")  # type: ignore[untyped-decorator]
    def salesforce_id(self) -> strawberry.ID | None:
        return _id(self.drift.salesforce_id)

    @strawberry.field(description="The ERP customer concerned (its internal id).")  # type: ignore[untyped-decorator]
    def erp_id(self) -> strawberry.ID | None:
        return _id(self.drift.erp_id)

    @strawberry.field(description="The customer's canonical id, when the systems link it.")  # type: ignore[untyped-decorator]
    def customer_id(self) -> strawberry.ID | None:
        return _id(ids.customer_id(self.drift.key, None, None) if self.drift.key else None)

    @strawberry.field(description="The opportunity concerned (Salesforce id).")  # type: ignore[untyped-decorator]
    def opportunity_id(self) -> strawberry.ID | None:
        return _id(self.drift.opportunity_id)

    @strawberry.field(description="The ERP sales order concerned (canonical id, ord:<id>).")  # type: ignore[untyped-decorator]
    def order_id(self) -> strawberry.ID | None:
        order = self.drift.order_id
        return _id(ids.erp_object_id("Order", order) if order else None)

    @strawberry.field(description="The ERP sales order's number.")  # type: ignore[untyped-decorator]
    def order_number(self) -> str | None:
        return self.drift.order_number

    @strawberry.field(description="What the CRM holds, where the systems disagree on a value.")  # type: ignore[untyped-decorator]
    def crm_value(self) -> str | None:
        return self.drift.crm_value

    @strawberry.field(description="What the ERP holds, where the systems disagree on a value.")  # type: ignore[untyped-decorator]
    def erp_value(self) -> str | None:
        return self.drift.erp_value

    @strawberry.field(description="The action that ends it.")  # type: ignore[untyped-decorator]
    def fix(self) -> DriftFix:
        fix = self.drift.fix
        return DriftFix(
            action=fix.action,
            description=fix.description,
            mutation=fix.mutation,
            input=cast(JSON, fix.input),
        )


def _id(value: str | None) -> strawberry.ID | None:
    return strawberry.ID(value) if value else None


@strawberry.type(description="How many drifts of one kind a run found.")
class DriftCount:
    kind: DriftKind = strawberry.field(description="The kind.")
    count: int = strawberry.field(description="How many.")


@strawberry.type(description="What a run read of each system.")
class ReconciliationScan:
    accounts: int = strawberry.field(description="CRM accounts.")
    won_opportunities: int = strawberry.field(description="Closed Won opportunities.")
    erp_customers: int = strawberry.field(description="ERP customers, inactive ones too.")
    erp_orders: int = strawberry.field(description="ERP sales orders.")


@strawberry.type(description="One reconciliation run: what it read and every drift it found.")
class ReconciliationReport:
    report: strawberry.Private[Report]

    @strawberry.field(description="The run's id, rec:<time>-<n>.")  # type: ignore[untyped-decorator]
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.report.id)

    @strawberry.field(description="When it started reading.")  # type: ignore[untyped-decorator]
    def started_at(self) -> dt.datetime:
        return self.report.started_at

    @strawberry.field(description="When it finished.")  # type: ignore[untyped-decorator]
    def finished_at(self) -> dt.datetime:
        return self.report.finished_at

    @strawberry.field(description="schedule, on demand or command line.")  # type: ignore[untyped-decorator]
    def trigger(self) -> str:
        return self.report.trigger

    @strawberry.field(description="Who asked for it (a caller's name), when someone did.")  # type: ignore[untyped-decorator]
    def requested_by(self) -> str | None:
        return self.report.requested_by

    @strawberry.field(description="What it read.")  # type: ignore[untyped-decorator]
    def scanned(self) -> ReconciliationScan:
        found = self.report.scanned
        return ReconciliationScan(
            accounts=found.get("accounts", 0),
            won_opportunities=found.get("wonOpportunities", 0),
            erp_customers=found.get("erpCustomers", 0),
            erp_orders=found.get("erpOrders", 0),
        )

    @strawberry.field(description="Upstream pages and batches read, by system.")  # type: ignore[untyped-decorator]
    def reads(self) -> JSON:
        return cast(JSON, dict(self.report.reads))

    @strawberry.field(description="Drifts found, by kind (every kind, zero where none).")  # type: ignore[untyped-decorator]
    def counts(self) -> list[DriftCount]:
        return [DriftCount(kind=k, count=n) for k, n in self.report.counts().items()]

    @strawberry.field(description="How many drifts it found.")  # type: ignore[untyped-decorator]
    def total(self) -> int:
        return len(self.report.drifts)

    @strawberry.field(description="The drifts, by kind then subject; of one kind if given.")  # type: ignore[untyped-decorator]
    def drifts(
        self, kind: DriftKind | None = None, first: int | None = 50, after: str | None = None
    ) -> Connection[DriftNode]:
        size = page_size(first)
        chosen = [d for d in self.report.drifts if kind is None or d.kind is kind]
        scope = cursor_scope(self.report.id, kind.value if kind else None)
        decoded = decode_cursor(after, "d", scope)
        start = 0
        if decoded is not None:
            if not decoded[1].isdigit():
                raise BadInputError(f"{after!r} is not a cursor of this list", argument="after")
            start = int(decoded[1]) + 1
        edges = [
            (encode_cursor("d", str(position), scope), DriftNode(drift=drift))
            for position, drift in enumerate(chosen[start : start + size], start=start)
        ]
        return connection(edges, start + size < len(chosen), start > 0, len(chosen))


def _reconciler(info: Info) -> Reconciler:
    reconciler = info.context.reconciler
    if reconciler is None:
        raise RuntimeError("reconciliation is not configured")
    return reconciler


@strawberry.type
class ReconciliationQueries:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="A reconciliation report (ops, finance): the latest, or the one with `id`; "
        "null when there is none (yet, or any more: reports are kept a week)."
    )
    async def reconciliation(
        self, info: Info, id: strawberry.ID | None = None
    ) -> ReconciliationReport | None:
        authorize("readReconciliation", info.context.caller)
        store = _reconciler(info).store
        found = await (store.get(id) if id is not None else store.latest())
        return ReconciliationReport(report=found) if found else None


# --------------------------------------------------------------------------- mutations

RunReconciliationErrorCode, RunReconciliationError = error_types(
    "RunReconciliation", run_logic.CODES
)
LinkAccountErrorCode, LinkAccountError = error_types("LinkAccount", link_logic.CODES)
MirrorCreditStatusErrorCode, MirrorCreditStatusError = error_types(
    "MirrorCreditStatus", mirror_logic.CODES
)


@strawberry.input(description="Run a reconciliation now.")
class RunReconciliationInput:
    idempotency_key: str = strawberry.field(description="Repeat it to retry safely.")


@strawberry.input(description="Link a CRM account to the ERP customer that stands for it.")
class LinkAccountInput:
    idempotency_key: str = strawberry.field(description="Repeat it to retry safely.")
    salesforce_id: strawberry.ID = strawberry.field(description="The account's Salesforce id.")
    erp_id: strawberry.ID = strawberry.field(description="The ERP customer's internal id.")


@strawberry.input(description="Copy the ERP's credit status to the customer's CRM account.")
class MirrorCreditStatusInput:
    idempotency_key: str = strawberry.field(description="Repeat it to retry safely.")
    customer_id: strawberry.ID = strawberry.field(description="The customer's canonical id.")


@strawberry.type(description="What runReconciliation did.")
class RunReconciliationPayload:
    outcome: strawberry.Private[Outcome[ReportResult]]
    errors: list[RunReconciliationError] = strawberry.field(  # type: ignore[valid-type]
        description="Why the run was refused or failed; empty when it ran."
    )

    @strawberry.field(description="The report of the run.")  # type: ignore[untyped-decorator]
    async def report(self, info: Info) -> ReconciliationReport | None:
        result = self.outcome.result
        found = await _reconciler(info).store.get(result.report_id) if result else None
        return ReconciliationReport(report=found) if found else None


@strawberry.type(description="What linkAccount did.")
class LinkAccountPayload:
    outcome: strawberry.Private[Outcome[CustomerResult]]
    errors: list[LinkAccountError] = strawberry.field(  # type: ignore[valid-type]
        description="Why the link was refused or failed; empty when it was written."
    )

    @strawberry.field(description="The customer, as both systems now link it.")  # type: ignore[untyped-decorator]
    async def customer(self, info: Info) -> Customer | None:
        return await customer_of(info, self.outcome.result)


@strawberry.type(description="What mirrorCreditStatus did.")
class MirrorCreditStatusPayload:
    outcome: strawberry.Private[Outcome[CreditMirrorResult]]
    errors: list[MirrorCreditStatusError] = strawberry.field(  # type: ignore[valid-type]
        description="Why the copy was refused or failed; empty when it was written."
    )

    @strawberry.field(description="The credit status the account now shows.")  # type: ignore[untyped-decorator]
    def credit_status(self) -> str | None:
        result = self.outcome.result
        return result.credit_status if result is not None else None

    @strawberry.field(description="The customer.")  # type: ignore[untyped-decorator]
    async def customer(self, info: Info) -> Customer | None:
        result = self.outcome.result
        return await customer_of(info, result.customer if result is not None else None)


def _parsed(parse: Any, value: str, argument: str) -> str:
    try:
        found: str = parse(value)
    except ids.InvalidId as exc:
        raise BadInputError(str(exc), argument=argument) from None
    return found


@strawberry.type
class ReconciliationMutations:
    @strawberry.mutation(  # type: ignore[untyped-decorator]
        description="Compare the CRM and the ERP now (ops); answers with the report."
    )
    async def run_reconciliation(
        self, info: Info, input: RunReconciliationInput
    ) -> RunReconciliationPayload:
        caller = info.context.caller
        authorize("runReconciliation", caller)
        outcome = await run_logic.run_reconciliation(
            services_of(info), _reconciler(info), caller, input.idempotency_key
        )
        return RunReconciliationPayload(
            outcome=outcome,
            errors=errors_of(RunReconciliationError, RunReconciliationErrorCode, outcome.problems),
        )

    @strawberry.mutation(  # type: ignore[untyped-decorator]
        description="Link a CRM account to its ERP customer: the account's ERP link takes the "
        "customer's key (ops)."
    )
    async def link_account(self, info: Info, input: LinkAccountInput) -> LinkAccountPayload:
        caller = info.context.caller
        authorize("linkAccount", caller)
        erp = info.context.sources.erp
        account = _parsed(
            lambda v: ids.parse_salesforce_id(v, "Account"),
            input.salesforce_id,
            "input.salesforceId",
        )
        customer = _parsed(
            lambda v: ids.parse_erp_id(v, "Customer", erp.accepts_id, erp.id_shape),
            input.erp_id,
            "input.erpId",
        )
        outcome = await link_logic.link_account(
            services_of(info), caller, input.idempotency_key, account, customer
        )
        return LinkAccountPayload(
            outcome=outcome,
            errors=errors_of(LinkAccountError, LinkAccountErrorCode, outcome.problems),
        )

    @strawberry.mutation(  # type: ignore[untyped-decorator]
        description="Write the ERP's credit status to the customer's CRM account now "
        "(Credit_Status__c), where propagation missed it (finance, ops)."
    )
    async def mirror_credit_status(
        self, info: Info, input: MirrorCreditStatusInput
    ) -> MirrorCreditStatusPayload:
        caller = info.context.caller
        authorize("mirrorCreditStatus", caller)
        ref = customer_ref(input.customer_id, "input.customerId")
        outcome = await mirror_logic.mirror_credit_status(
            services_of(info), caller, input.idempotency_key, ref
        )
        return MirrorCreditStatusPayload(
            outcome=outcome,
            errors=errors_of(
                MirrorCreditStatusError, MirrorCreditStatusErrorCode, outcome.problems
            ),
        )
