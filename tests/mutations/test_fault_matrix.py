"""The fault matrix: every step of the booking workflow and every mutation, under each kind of
fault of each system it talks to, then recovery and a retry.

A fault is put on the system the moment the workflow starts the step (the test watches the
engine's changes), or for the whole call of a mutation, and taken off once the call has
answered. After each case:

- nothing is half-posted: a booking resting in EXCEPTION has no ERP order, no customer it
  created, no order number on the opportunity and no link on a new account, unless its undo
  could not be done, and then it is on the dead-letter list (an operator sees it);
- it rests where an operator can act (COMPLETED, or EXCEPTION to retry), never RUNNING;
- after recovery a retry (of the workflow, or of the mutation with its key) completes, and
  nothing is posted twice: one order, one customer, one payment;
- the audit trail tells the failure as well as what was applied.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from api.auth import DEMO_KEYS
from mutations.workflow import EngineSettings, StepStatus, Workflow
from sandbox.deals import Deal, Deals
from sandbox.endpoints import Endpoints
from server import AppOptions, EventOptions
from sources.resilience import ResiliencePolicy
from tests.accord import AccordServer, Emulators
from tests.conftest import SandboxControl
from tests.mutations.conftest import ACT, BOOK, erp_orders_for, key
from tests.mutations.test_customer_writes import HOLD, PAY, UPDATE, customer_pair, erp_row

LINK = """mutation($input: LinkAccountInput!) { linkAccount(input: $input) {
  errors { code field message } customer { erpId } } }"""
MIRROR = """mutation($input: MirrorCreditStatusInput!) { mirrorCreditStatus(input: $input) {
  errors { code field message } creditStatus } }"""
RECONCILE = """mutation($input: RunReconciliationInput!) { runReconciliation(input: $input) {
  errors { code field message } report { id } } }"""

pytestmark = pytest.mark.fault_matrix

TIMEOUT = 0.4
LATE_MS = 900  # past the timeout
KINDS: dict[str, dict[str, Any]] = {
    "outage": {"outage": True},
    "5xx": {"error_rate": 1.0, "error_status": 500},
    "latency": {"latency_ms": LATE_MS},
    "lost-answer": {"latency_ms": LATE_MS, "late_answer": True},
}
EVERYTHING = {"netsuite": "/services/rest/*", "salesforce": "/services/data/*"}


@dataclass(frozen=True)
class Case:
    operation: str  # a mutation of the schema
    system: str
    step: str | None = None  # the workflow step the fault starts with (bookOrder)
    deal: str = "existing"  # bookOrder: a customer both systems know, or one new to the ERP
    write: str | None = None  # the path of the write, where a lost answer is put

    def pattern(self, kind: str) -> str:
        # A lost answer is the write's (it landed, the answer did not come); any other
        # fault is the whole system's.
        if kind == "lost-answer" and self.write is not None:
            return self.write
        return EVERYTHING[self.system]


ORDERS = "/services/rest/record/v1/salesOrder*"
CUSTOMERS = "/services/rest/record/v1/customer/*"
COMPOSITE = "/services/data/v59.0/composite/*"
ACCOUNTS = "/services/data/v59.0/sobjects/Account/*"
CASES = [
    Case("bookOrder", "salesforce", step="validate"),
    Case("bookOrder", "netsuite", step="validate"),
    Case("bookOrder", "netsuite", step="credit_check"),
    Case("bookOrder", "netsuite", step="upsert_customer", deal="new", write=CUSTOMERS),
    Case("bookOrder", "netsuite", step="create_sales_order", write=ORDERS),
    Case("bookOrder", "salesforce", step="write_back", write=COMPOSITE),
    Case("bookOrder", "salesforce", step="write_back", deal="new", write=COMPOSITE),
    Case("recordPayment", "netsuite", write="/services/rest/record/v1/customerPayment*"),
    Case("setCreditHold", "netsuite", write=CUSTOMERS),
    Case("updateCustomer", "salesforce", write=ACCOUNTS),
    Case("updateCustomer", "netsuite", write=CUSTOMERS),
    Case("linkAccount", "salesforce", write=ACCOUNTS),
    Case("linkAccount", "netsuite"),
    Case("mirrorCreditStatus", "salesforce", write=ACCOUNTS),
    Case("mirrorCreditStatus", "netsuite"),
    Case("runReconciliation", "salesforce"),
    Case("runReconciliation", "netsuite"),
]


def case_id(case: Case) -> str:
    return "-".join(p for p in (case.operation, case.step, case.deal, case.system) if p)


class StepFaults:
    """Puts a fault on a system when a booking's workflow starts a given step."""

    def __init__(self, server: AccordServer, controls: dict[str, SandboxControl]) -> None:
        self.controls = controls
        self.armed: tuple[str, str, str, dict[str, Any]] | None = None
        self.fired = False
        engine = server.app.state.services.engine
        forward = engine.on_change

        async def watch(workflow: Workflow) -> None:
            armed = self.armed
            if armed is not None and not self.fired:
                opportunity, step, system, fault = armed
                record = workflow.step(step)
                if (
                    workflow.input.get("opportunityId") == opportunity
                    and record.status is StepStatus.RUNNING
                ):
                    self.fired = True
                    await asyncio.to_thread(self.controls[system].fault, **fault)
            if forward is not None:
                await forward(workflow)

        engine.on_change = watch

    def arm(self, opportunity: str, step: str, system: str, fault: dict[str, Any]) -> None:
        self.armed, self.fired = (opportunity, step, system, fault), False

    def disarm(self) -> bool:
        fired, self.armed = self.fired, None
        return fired


@pytest.fixture(scope="module")
def shaky(sandbox: Endpoints) -> Iterator[AccordServer]:
    """An Accord that waits 0.4 s for an answer, tries twice, and retries a workflow step for
    a moment only: each case rests within seconds."""
    policy = ResiliencePolicy(
        timeout=TIMEOUT,
        max_attempts=2,
        backoff_base=0.01,
        backoff_max=0.02,
        failure_threshold=10_000,
    )
    engine = EngineSettings(
        step_backoff=0.02, step_backoff_max=0.05, retry_for=0.2, reply_within=30.0
    )
    options = AppOptions(api_keys=DEMO_KEYS, engine=engine, events=EventOptions(enabled=False))
    with AccordServer(sandbox, policy, options) as server:
        yield server


@pytest.fixture(scope="module")
def hook_controls(sandbox: Endpoints) -> Iterator[dict[str, SandboxControl]]:
    """Control clients of the server's own (the hook runs on the server's thread)."""
    controls = {
        "salesforce": SandboxControl(sandbox.salesforce.instance_url, sandbox.salesforce.ca_file),
        "netsuite": SandboxControl(sandbox.netsuite.base_url, sandbox.netsuite.ca_file),
    }
    yield controls
    for control in controls.values():
        control.close()


@pytest.fixture(scope="module")
def step_faults(shaky: AccordServer, hook_controls: dict[str, SandboxControl]) -> StepFaults:
    return StepFaults(shaky, hook_controls)


@pytest.fixture
def controls(sf_control: SandboxControl, ns_control: SandboxControl) -> dict[str, SandboxControl]:
    return {"salesforce": sf_control, "netsuite": ns_control}


def recover(controls: dict[str, SandboxControl], kind: str) -> None:
    for control in controls.values():
        control.fault(clear=True)
    if kind in ("latency", "lost-answer"):
        time.sleep(LATE_MS / 1000 + 0.3)  # answers still on their way come in


def call(server: AccordServer, query: str, variables: dict[str, Any], role: str) -> Any:
    body = server.graphql(query, variables, key=f"demo-{role}")
    assert "errors" not in body, body
    return body["data"]


def audit(server: AccordServer, **filters: str) -> list[dict[str, Any]]:
    """The newest entries of the audit trail (those of a workflow, with ``workflowId``)."""
    arguments = "".join(f', {name}: "{value}"' for name, value in filters.items())
    query = (
        f"{{ auditTrail(first: 100{arguments}) "
        "{ nodes { action outcome message idempotencyKey } } }"
    )
    nodes: list[dict[str, Any]] = call(server, query, {}, "ops")["auditTrail"]["nodes"]
    return nodes


# --------------------------------------------------------------------------- bookings


def nothing_half_posted(
    emulators: Emulators, deal: Deal, workflow: dict[str, Any], new_customer: bool
) -> None:
    undo_failed = any("compensation failed" in (s["error"] or "") for s in workflow["steps"])
    if undo_failed:
        assert workflow["deadLettered"] is True, workflow  # the operator is told
        return
    assert erp_orders_for(emulators, deal.opportunity_id) == [], workflow
    assert emulators.sf_get("Opportunity", deal.opportunity_id)["ERP_Order_Id__c"] is None
    if new_customer:
        key_ = f"SF-{deal.account_id}"
        assert emulators.suiteql(f"SELECT id FROM customer WHERE externalid = '{key_}'") == []
        assert emulators.sf_get("Account", deal.account_id)["ERP_Customer_Id__c"] is None


def booked_once(emulators: Emulators, deal: Deal, new_customer: bool) -> None:
    orders = erp_orders_for(emulators, deal.opportunity_id)
    assert len(orders) == 1, orders
    opportunity = emulators.sf_get("Opportunity", deal.opportunity_id)
    assert opportunity["ERP_Order_Id__c"] == orders[0]["tranid"]
    if new_customer:
        key_ = f"SF-{deal.account_id}"
        customers = emulators.suiteql(f"SELECT id FROM customer WHERE externalid = '{key_}'")
        assert [c["id"] for c in customers] == [orders[0]["entity"]]
        assert emulators.sf_get("Account", deal.account_id)["ERP_Customer_Id__c"] == key_


def run_booking(
    case: Case,
    kind: str,
    server: AccordServer,
    step_faults: StepFaults,
    controls: dict[str, SandboxControl],
    deals: Deals,
    emulators: Emulators,
) -> None:
    assert case.step is not None
    new = case.deal == "new"
    if new:
        deal = deals.deal(deals.new_account(), currency="EUR")
        request = {"input": {"idempotencyKey": key(), "opportunityId": deal.opportunity_id}}
        waiting = call(server, BOOK, request, "sales")["bookOrder"]["workflow"]
        assert waiting["status"] == "PENDING_APPROVAL"
    else:
        deal = deals.on_existing_customer()
    fault = {"pattern": case.pattern(kind), **KINDS[kind]}

    # when the fault comes as the workflow starts the step
    step_faults.arm(deal.opportunity_id, case.step, case.system, fault)
    try:
        if new:
            action = {"input": {"idempotencyKey": key(), "id": waiting["id"]}}
            answer = call(server, ACT % "approveWorkflow", action, "finance")["approveWorkflow"]
            workflow_id = waiting["id"]
        else:
            request = {"input": {"idempotencyKey": key(), "opportunityId": deal.opportunity_id}}
            answer = call(server, BOOK, request, "sales")["bookOrder"]
            workflow_id = answer["workflow"]["id"]
    finally:
        fired = step_faults.disarm()
        recover(controls, kind)
    assert fired, "the workflow never started the step"
    workflow = call(
        server,
        """query($id: ID!) { workflow(id: $id) { id status deadLettered
             steps { name status error } failure { step code } } }""",
        {"id": workflow_id},
        "ops",
    )["workflow"]

    # then it rests where an operator can act, with nothing half-posted
    assert workflow["status"] in ("COMPLETED", "EXCEPTION"), workflow
    if workflow["status"] == "EXCEPTION":
        nothing_half_posted(emulators, deal, workflow, new)
        failed = [e for e in audit(server, workflowId=workflow_id) if e["outcome"] == "failed"]
        assert failed, "the audit trail does not tell the failure"
        # and once the system is back, a retry completes it
        retried = call(
            server,
            ACT % "retryWorkflow",
            {"input": {"idempotencyKey": key(), "id": workflow_id}},
            "ops",
        )["retryWorkflow"]
        assert retried["workflow"]["status"] == "COMPLETED", retried
    booked_once(emulators, deal, new)
    trail = audit(server, workflowId=workflow_id)
    assert any(e["action"].endswith("write_back") and e["outcome"] == "applied" for e in trail)


# --------------------------------------------------------------------------- mutations


def run_mutation(
    case: Case,
    kind: str,
    server: AccordServer,
    controls: dict[str, SandboxControl],
    deals: Deals,
    emulators: Emulators,
) -> None:
    customer_id, account_id, erp_id = customer_pair(deals)
    idem = key()
    if case.operation == "recordPayment":
        invoice = emulators.ns_create(
            "invoice",
            {
                "entity": {"id": erp_id},
                "item": {"items": [{"item": {"id": "106"}, "quantity": 1, "rate": 500}]},
            },
        )
        query, role, name = PAY, "finance", "recordPayment"
        inputs: dict[str, Any] = {
            "idempotencyKey": idem,
            "customerId": customer_id,
            "amount": "500.00",
            "currency": "EUR",
            "applications": [{"invoiceId": f"inv:{invoice}", "amount": "500.00"}],
        }
    elif case.operation == "setCreditHold":
        query, role, name = HOLD, "finance", "setCreditHold"
        inputs = {"idempotencyKey": idem, "customerId": customer_id, "hold": "ON", "reason": "t"}
    elif case.operation == "linkAccount":
        # an account and an ERP customer with a key, not linked yet
        erp_key = f"LINK-{idem[-12:]}"
        linked_id = emulators.ns_create(
            "customer",
            {
                "companyName": f"Unlinked {erp_key} GmbH",
                "externalId": erp_key,
                "subsidiary": {"id": "3"},
            },
        )
        account_id = deals.new_account()
        query, role, name = LINK, "ops", "linkAccount"
        inputs = {"idempotencyKey": idem, "salesforceId": account_id, "erpId": str(linked_id)}
    elif case.operation == "mirrorCreditStatus":
        # the ERP put the customer on hold; the account does not show it yet
        emulators.ns_update("customer", erp_id, {"creditHoldOverride": {"id": "ON"}})
        query, role, name = MIRROR, "finance", "mirrorCreditStatus"
        inputs = {"idempotencyKey": idem, "customerId": customer_id}
    elif case.operation == "runReconciliation":
        query, role, name = RECONCILE, "ops", "runReconciliation"
        inputs = {"idempotencyKey": idem}
    elif case.system == "salesforce":
        query, role, name = UPDATE, "sales", "updateCustomer"
        inputs = {"idempotencyKey": idem, "id": customer_id, "industry": f"Retail {idem[-4:]}"}
    else:
        query, role, name = UPDATE, "finance", "updateCustomer"
        inputs = {"idempotencyKey": idem, "id": customer_id, "creditLimit": "77000.00"}

    # when the call meets the fault
    controls[case.system].fault(pattern=case.pattern(kind), **KINDS[kind])
    try:
        first = call(server, query, {"input": inputs}, role)[name]
    finally:
        recover(controls, kind)
    codes = [e["code"] for e in first["errors"]]
    assert all(code.startswith("SOURCE_") for code in codes), first
    if codes:  # the trail tells it failed
        told = [(e["action"], e["outcome"]) for e in audit(server) if e["idempotencyKey"] == idem]
        assert (name, "failed") in told, told

    # then, sent again with its key once the system is back, it is done, and done once
    again = call(server, query, {"input": inputs}, role)[name]
    assert again["errors"] == [], again
    if case.operation == "recordPayment":
        payments = emulators.suiteql(
            f"SELECT id FROM transaction WHERE type = 'CustPymt' AND entity = {erp_id}"
        )
        assert len(payments) == 1, payments
        assert again["payment"]["applications"][0]["invoice"]["amountDue"]["amount"] == "0.00"
    elif case.operation == "setCreditHold":
        assert erp_row(emulators, erp_id)["creditholdoverride"] == "ON"
    elif case.operation == "linkAccount":
        assert emulators.sf_get("Account", account_id)["ERP_Customer_Id__c"] == erp_key
        assert again["customer"]["erpId"] == str(linked_id)
    elif case.operation == "mirrorCreditStatus":
        assert again["creditStatus"] == "On Hold"
        assert emulators.sf_get("Account", account_id)["Credit_Status__c"] == "On Hold"
    elif case.operation == "runReconciliation":
        assert again["report"]["id"], again
    elif case.system == "salesforce":
        assert emulators.sf_get("Account", account_id)["Industry"] == inputs["industry"]
    else:
        assert Decimal(erp_row(emulators, erp_id)["creditlimit"]) == Decimal("77000.00")
    told = [(e["action"], e["outcome"]) for e in audit(server) if e["idempotencyKey"] == idem]
    # (a link or a mirror whose lost answer had landed finds it in place, and says so)
    done = (
        {"applied", "unchanged"} if name in ("linkAccount", "mirrorCreditStatus") else {"applied"}
    )
    assert any(action == name and outcome in done for action, outcome in told), told


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_fault_at_each_step_leaves_nothing_half_posted_and_a_retry_completes_once(
    case: Case,
    kind: str,
    shaky: AccordServer,
    step_faults: StepFaults,
    controls: dict[str, SandboxControl],
    deals: Deals,
    emulators: Emulators,
) -> None:
    if case.operation == "bookOrder":
        run_booking(case, kind, shaky, step_faults, controls, deals, emulators)
    else:
        run_mutation(case, kind, shaky, controls, deals, emulators)


def test_the_matrix_covers_every_step_and_every_mutation() -> None:
    from mutations.booking_steps import BOOK_ORDER_STEPS
    from schema.build import build_schema

    steps = {case.step for case in CASES if case.step}
    assert steps == {step.name for step in BOOK_ORDER_STEPS}
    # every mutation of the schema, but the workflow actions: retryWorkflow is how each
    # booking case recovers, and approving or cancelling run the same steps and undo
    mutation = build_schema()._schema.mutation_type
    assert mutation is not None
    actions = {"retryWorkflow", "approveWorkflow", "cancelWorkflow"}
    assert {case.operation for case in CASES} == set(mutation.fields) - actions
