"""The Mutation root: inputs, payloads with typed errors, and the workflow queries.

Every input carries ``idempotencyKey``; every payload has ``errors: [<Name>Error!]!`` with
``field``, ``message`` and ``code`` from the mutation's own enum. Business failures come back
there; a caller without the role is a top-level UNAUTHENTICATED or FORBIDDEN error.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import strawberry

from domain import ids
from domain.ownership import REGISTRY, FieldOwnership, ValueKind
from mutations.book_order import book_order
from mutations.common import AccessDenied, Outcome, Problem, WriteServices, authorize
from mutations.record_payment import record_payment
from mutations.set_credit_hold import set_credit_hold
from mutations.update_customer import update_customer
from mutations.workflow import WorkflowKind, WorkflowStatus
from mutations.workflow_actions import act_on_workflow
from resolvers.customers import load_customer
from resolvers.errors import BadInputError
from resolvers.paging import decode_cursor, encode_cursor, page_size
from schema.bound import snake, update_inputs
from schema.enums import CreditHoldSetting
from schema.scalars import CurrencyCode
from schema.types import Connection, Customer, Info, Payment, connection
from schema.workflows import AuditEntry, DeadLetter, Workflow
from sources import records

_COMMON = [
    "INVALID_IDEMPOTENCY_KEY",
    "IDEMPOTENCY_KEY_REUSED",
    "INVALID_ID",
    "INVALID_VALUE",
    "SOURCE_UNAVAILABLE",
    "SOURCE_TIMEOUT",
    "SOURCE_RATE_LIMITED",
    "SOURCE_AUTH",
    "SOURCE_FORBIDDEN",
    "SOURCE_VALIDATION",
    "SOURCE_CONFLICT",
    "SOURCE_BAD_RESPONSE",
    "SOURCE_ERROR",
    "NOT_FOUND",
]
_CUSTOMER = ["CUSTOMER_NOT_FOUND", "CUSTOMER_NOT_IN_CRM", "CUSTOMER_NOT_IN_ERP"]
_BOOKING = [
    "OPPORTUNITY_NOT_FOUND",
    "ORDER_ALREADY_BOOKED",
    "BOOKING_IN_PROGRESS",
    "OPPORTUNITY_NOT_CLOSED_WON",
    "OPPORTUNITY_AMOUNT_NOT_POSITIVE",
    "OPPORTUNITY_WITHOUT_LINES",
    "LINE_NOT_PRICED",
    "ACCOUNT_MISSING",
    "BILLING_ADDRESS_INCOMPLETE",
    "NO_LEGAL_ENTITY_FOR_COUNTRY",
    "CURRENCY_MISMATCH",
    "TAX_ID_MISSING",
    "TAX_ID_INVALID",
    "POLICY_VIOLATION",
]


def _codes(name: str, codes: list[str], description: str) -> Any:
    """A mutation's error-code enum, each value named as itself (repeats kept once)."""
    code_enum = enum.Enum(name, [(c, c) for c in dict.fromkeys(codes)])  # type: ignore[misc]
    return strawberry.enum(code_enum, description=description)


UpdateCustomerErrorCode = _codes(
    "UpdateCustomerErrorCode",
    _COMMON
    + _CUSTOMER
    + [
        "NOTHING_TO_UPDATE",
        "FIELD_NOT_WRITABLE",
        "BILLING_ADDRESS_INCOMPLETE",
        "UNKNOWN_LEGAL_ENTITY",
        "CURRENCY_MISMATCH",
        "TAX_ID_INVALID",
        "TAX_ID_MISSING",
        "UNKNOWN_PAYMENT_TERMS",
    ],
    "Why updateCustomer refused or failed.",
)
SetCreditHoldErrorCode = _codes(
    "SetCreditHoldErrorCode", _COMMON + _CUSTOMER, "Why setCreditHold refused or failed."
)
RecordPaymentErrorCode = _codes(
    "RecordPaymentErrorCode",
    _COMMON
    + _CUSTOMER
    + [
        "TOO_MANY_APPLICATIONS",
        "AMOUNT_NOT_POSITIVE",
        "NO_APPLICATIONS",
        "OVERPAYMENT",
        "APPLICATIONS_EXCEED_PAYMENT",
        "CURRENCY_MISMATCH",
        "DUPLICATE_INVOICE",
        "INVOICE_NOT_FOUND",
        "INVOICE_OF_ANOTHER_CUSTOMER",
        "INVOICE_NOT_OPEN",
    ],
    "Why recordPayment refused or failed.",
)
BookOrderErrorCode = _codes(
    "BookOrderErrorCode", _COMMON + _BOOKING, "Why bookOrder refused or failed."
)
WorkflowErrorCode = _codes(
    "WorkflowErrorCode",
    _COMMON + _BOOKING + ["WORKFLOW_NOT_FOUND", "INVALID_STATE"],
    "Why a workflow action refused or failed.",
)


def _error_type(name: str, codes: Any) -> Any:
    @strawberry.type(name=name, description=f"A business error of {name[:-5]}.")
    class MutationError:
        field: str | None = strawberry.field(description="The input field at fault, if one is.")
        message: str = strawberry.field(description="What went wrong, in words.")
        code: Any = strawberry.field(graphql_type=codes, description="What went wrong.")

    return MutationError


UpdateCustomerError = _error_type("UpdateCustomerError", UpdateCustomerErrorCode)
SetCreditHoldError = _error_type("SetCreditHoldError", SetCreditHoldErrorCode)
RecordPaymentError = _error_type("RecordPaymentError", RecordPaymentErrorCode)
BookOrderError = _error_type("BookOrderError", BookOrderErrorCode)
WorkflowError = _error_type("WorkflowError", WorkflowErrorCode)


def _errors(error_type: Any, codes: Any, problems: list[Problem]) -> list[Any]:
    found = []
    for problem in problems:
        code = problem.code if problem.code in codes.__members__ else "SOURCE_ERROR"
        found.append(error_type(field=problem.field, message=problem.message, code=codes[code]))
    return found


# --------------------------------------------------------------------------- inputs


@strawberry.input(description="Fields to change, each routed to the system that owns it.")
@update_inputs
class UpdateCustomerInput:
    """The fixed fields; `schema.bound.update_inputs` adds one per writable registry entry."""

    idempotency_key: str = strawberry.field(description="Repeat it to retry safely.")
    id: strawberry.ID = strawberry.field(description="The customer's canonical id.")


@strawberry.input
class SetCreditHoldInput:
    idempotency_key: str
    customer_id: strawberry.ID
    hold: CreditHoldSetting
    reason: str = strawberry.field(description="Why, for the audit trail.")


@strawberry.input
class PaymentApplicationInput:
    invoice_id: strawberry.ID = strawberry.field(description="inv:<id>")
    amount: Decimal


@strawberry.input
class RecordPaymentInput:
    idempotency_key: str
    customer_id: strawberry.ID
    amount: Decimal
    currency: CurrencyCode
    applications: list[PaymentApplicationInput]
    payment_date: dt.date | None = strawberry.field(default=None, description="Default: today.")
    memo: str | None = None


@strawberry.input
class BookOrderInput:
    idempotency_key: str
    opportunity_id: strawberry.ID = strawberry.field(
        description="The Closed Won opportunity: opp:<id> or its Salesforce id."
    )


@strawberry.input
class WorkflowActionInput:
    idempotency_key: str
    id: strawberry.ID = strawberry.field(description="The workflow's id, wf:<uuid>.")
    reason: str | None = strawberry.field(default=None, description="For the audit trail.")


# --------------------------------------------------------------------------- payloads


async def _customer(info: Info, data: dict[str, Any] | None) -> Customer | None:
    if not data:
        return None
    ref = ids.CustomerRef(
        key=data.get("key"), salesforce_id=data.get("salesforce_id"), erp_id=data.get("erp_id")
    )
    if not (ref.key or ref.salesforce_id or ref.erp_id):
        return None
    from resolvers import lookahead

    loaded = await load_customer(info.context, ref, lookahead.selected(info))
    return Customer(data=loaded)


@strawberry.type
class UpdateCustomerPayload:
    outcome: strawberry.Private[Outcome]
    errors: list[UpdateCustomerError]  # type: ignore[valid-type]

    @strawberry.field(description="The customer as its owners now hold it.")  # type: ignore[untyped-decorator]
    async def customer(self, info: Info) -> Customer | None:
        return await _customer(info, self.outcome.data.get("customer"))


@strawberry.type
class SetCreditHoldPayload:
    outcome: strawberry.Private[Outcome]
    errors: list[SetCreditHoldError]  # type: ignore[valid-type]

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        return await _customer(info, self.outcome.data.get("customer"))


@strawberry.type
class RecordPaymentPayload:
    outcome: strawberry.Private[Outcome]
    errors: list[RecordPaymentError]  # type: ignore[valid-type]

    @strawberry.field(description="The payment as posted.")  # type: ignore[untyped-decorator]
    def payment(self) -> Payment | None:
        data = self.outcome.data.get("payment")
        return Payment.of(_payment_record(data)) if data else None

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        return await _customer(info, self.outcome.data.get("customer"))


def _payment_record(data: dict[str, Any]) -> records.ErpPayment:
    return records.ErpPayment(
        erp_id=data["erp_id"],
        number=data["number"],
        customer_erp_id=data["customer_erp_id"],
        payment_date=dt.date.fromisoformat(data["payment_date"])
        if data.get("payment_date")
        else None,
        currency=data.get("currency"),
        amount=Decimal(data["amount"]),
        unapplied=Decimal(data["unapplied"]),
        memo=data.get("memo"),
        applications=tuple(
            records.PaymentApplication(a["invoice_erp_id"], Decimal(a["amount"]))
            for a in data.get("applications", [])
        ),
    )


@strawberry.type
class BookOrderPayload:
    outcome: strawberry.Private[Outcome]
    errors: list[BookOrderError]  # type: ignore[valid-type]

    @strawberry.field(description="The booking workflow, as it rests.")  # type: ignore[untyped-decorator]
    def workflow(self) -> Workflow | None:
        data = self.outcome.data.get("workflow")
        return Workflow(data=data) if data else None


@strawberry.type
class WorkflowPayload:
    outcome: strawberry.Private[Outcome]
    errors: list[WorkflowError]  # type: ignore[valid-type]

    @strawberry.field
    def workflow(self) -> Workflow | None:
        data = self.outcome.data.get("workflow")
        return Workflow(data=data) if data else None


# --------------------------------------------------------------------------- roots


def _services(info: Info) -> WriteServices:
    services = info.context.services
    if services is None:
        raise RuntimeError("the write path is not configured")
    assert isinstance(services, WriteServices)
    return services


def _input_value(entry: FieldOwnership, value: Any) -> Any:
    """An updateCustomer input value as the write path takes it: an address as a record, a
    reference by its canonical id (``le:3``) as the ERP's id."""
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


def _customer_ref(value: str, argument: str) -> ids.CustomerRef:
    try:
        return ids.parse_customer_id(value)
    except ids.InvalidId as exc:
        raise BadInputError(str(exc), argument=argument) from None


@strawberry.type(description="Writes, each routed to the system that owns it.")
class Mutation:
    @strawberry.mutation(  # type: ignore[untyped-decorator]
        description="Change a customer: CRM-owned fields in Salesforce, ERP-owned fields in the "
        "ERP; a field the caller's role may not write refuses the whole request."
    )
    async def update_customer(
        self, info: Info, input: UpdateCustomerInput
    ) -> UpdateCustomerPayload:
        caller = info.context.caller
        authorize("updateCustomer", caller)
        ref = _customer_ref(input.id, "input.id")
        changes = {
            entry.path: _input_value(entry, value)
            for entry in REGISTRY.inputs()
            if (value := getattr(input, snake(entry.input_name))) is not None
        }
        outcome = await update_customer(
            _services(info), caller, input.idempotency_key, ref, changes
        )
        return UpdateCustomerPayload(
            outcome=outcome,
            errors=_errors(UpdateCustomerError, UpdateCustomerErrorCode, outcome.problems),
        )

    @strawberry.mutation(description="Set the ERP credit hold (finance).")  # type: ignore[untyped-decorator]
    async def set_credit_hold(self, info: Info, input: SetCreditHoldInput) -> SetCreditHoldPayload:
        caller = info.context.caller
        authorize("setCreditHold", caller)
        ref = _customer_ref(input.customer_id, "input.customerId")
        outcome = await set_credit_hold(
            _services(info), caller, input.idempotency_key, ref, input.hold, input.reason
        )
        return SetCreditHoldPayload(
            outcome=outcome,
            errors=_errors(SetCreditHoldError, SetCreditHoldErrorCode, outcome.problems),
        )

    @strawberry.mutation(  # type: ignore[untyped-decorator]
        description="Post a customer payment in the ERP, applied to its open invoices."
    )
    async def record_payment(self, info: Info, input: RecordPaymentInput) -> RecordPaymentPayload:
        caller = info.context.caller
        authorize("recordPayment", caller)
        ref = _customer_ref(input.customer_id, "input.customerId")
        erp = info.context.sources.erp
        applications = []
        for position, application in enumerate(input.applications):
            try:
                invoice = ids.parse_erp_object_id(
                    "Invoice", application.invoice_id, erp.accepts_id, erp.id_shape
                )
            except ids.InvalidId as exc:
                raise BadInputError(
                    str(exc), argument=f"input.applications.{position}.invoiceId"
                ) from None
            applications.append((invoice, application.amount))
        outcome = await record_payment(
            _services(info),
            caller,
            input.idempotency_key,
            ref,
            input.amount,
            input.currency,
            input.payment_date,
            applications,
            input.memo,
        )
        return RecordPaymentPayload(
            outcome=outcome,
            errors=_errors(RecordPaymentError, RecordPaymentErrorCode, outcome.problems),
        )

    @strawberry.mutation(  # type: ignore[untyped-decorator]
        description="Quote-to-cash: book a Closed Won opportunity as an ERP sales order."
    )
    async def book_order(self, info: Info, input: BookOrderInput) -> BookOrderPayload:
        caller = info.context.caller
        authorize("bookOrder", caller)
        raw = input.opportunity_id
        try:
            opportunity = (
                ids.parse_opportunity_id(raw)
                if raw.startswith("opp:")
                else ids.parse_salesforce_id(raw, "Opportunity")
            )
        except ids.InvalidId as exc:
            raise BadInputError(str(exc), argument="input.opportunityId") from None
        outcome = await book_order(_services(info), caller, input.idempotency_key, opportunity)
        return BookOrderPayload(
            outcome=outcome, errors=_errors(BookOrderError, BookOrderErrorCode, outcome.problems)
        )

    @strawberry.mutation(description="Run an EXCEPTION workflow again from its failed step.")  # type: ignore[untyped-decorator]
    async def retry_workflow(self, info: Info, input: WorkflowActionInput) -> WorkflowPayload:
        return await _act(info, "retryWorkflow", input)

    @strawberry.mutation(description="Approve a PENDING_APPROVAL workflow (finance).")  # type: ignore[untyped-decorator]
    async def approve_workflow(self, info: Info, input: WorkflowActionInput) -> WorkflowPayload:
        return await _act(info, "approveWorkflow", input)

    @strawberry.mutation(description="Cancel a PENDING_APPROVAL or EXCEPTION workflow.")  # type: ignore[untyped-decorator]
    async def cancel_workflow(self, info: Info, input: WorkflowActionInput) -> WorkflowPayload:
        return await _act(info, "cancelWorkflow", input)


async def _act(info: Info, action: str, input: WorkflowActionInput) -> WorkflowPayload:
    caller = info.context.caller
    authorize(action, caller)
    outcome = await act_on_workflow(
        _services(info), caller, action, input.idempotency_key, input.id, input.reason
    )
    return WorkflowPayload(
        outcome=outcome, errors=_errors(WorkflowError, WorkflowErrorCode, outcome.problems)
    )


def _score_cursor(after: str | None) -> tuple[float, str] | None:
    decoded = decode_cursor(after, "w")
    if decoded is None:
        return None
    score, _, member = decoded[1].partition("|")
    try:
        return float(score), member
    except ValueError:
        raise BadInputError(f"{after!r} is not a cursor of this list", argument="after") from None


@strawberry.type
class WorkflowQueries:
    @strawberry.field(description="One workflow by id.")  # type: ignore[untyped-decorator]
    async def workflow(self, info: Info, id: strawberry.ID) -> Workflow | None:
        authorize("readWorkflows", info.context.caller)
        found = await _services(info).workflows.get(id)
        return Workflow(data=found.to_json()) if found else None

    @strawberry.field(description="Workflows, newest first, by status and kind.")  # type: ignore[untyped-decorator]
    async def workflows(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        status: WorkflowStatus | None = None,
        kind: WorkflowKind | None = None,
    ) -> Connection[Workflow]:
        authorize("readWorkflows", info.context.caller)
        size = page_size(first)
        found, more = await _services(info).workflows.page(
            status=status, kind=kind, after=_score_cursor(after), limit=size
        )
        edges = [
            (
                encode_cursor("w", f"{dt.datetime.fromisoformat(w.created_at).timestamp()}|{w.id}"),
                Workflow(data=w.to_json()),
            )
            for w in found
        ]
        return connection(edges, more, after is not None, None)

    @strawberry.field(description="Workflows whose step ran out of retries (finance, ops).")  # type: ignore[untyped-decorator]
    async def dead_letters(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[DeadLetter]:
        authorize("readDeadLetters", info.context.caller)
        found, more = await _services(info).workflows.dead_letters(
            after=_score_cursor(after), limit=page_size(first)
        )
        edges = [
            (
                encode_cursor("w", f"{score}|{workflow.id}"),
                DeadLetter(
                    workflow=Workflow(data=workflow.to_json()),
                    dead_lettered_at=dt.datetime.fromtimestamp(score, dt.UTC),
                ),
            )
            for workflow, score in found
        ]
        return connection(edges, more, after is not None, None)

    @strawberry.field(description="The audit trail, newest first (ops).")  # type: ignore[untyped-decorator]
    async def audit_trail(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        workflow_id: strawberry.ID | None = None,
        record_id: str | None = None,
    ) -> Connection[AuditEntry]:
        authorize("readAudit", info.context.caller)
        decoded = decode_cursor(after, "a")
        found, more = await _services(info).audit.read(
            after=decoded[1] if decoded else None,
            limit=page_size(first),
            workflow_id=workflow_id,
            record_id=record_id,
        )
        edges = [
            (encode_cursor("a", entry_id), AuditEntry.of(entry_id, entry))
            for entry_id, entry in found
        ]
        return connection(edges, more, after is not None, None)


__all__ = ["AccessDenied", "Mutation", "WorkflowQueries"]
