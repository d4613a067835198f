"""A booking that meets a short outage completes by itself; no operator needed.

A step failing with a retryable source error keeps trying (with backoff and jitter) for a
bounded time before the workflow rests in EXCEPTION. A request waits for its workflow for a
bounded time too: past it, it answers with the workflow RUNNING, which goes on by itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from api.auth import DEMO_KEYS
from mutations.workflow import EngineSettings
from sandbox.endpoints import Endpoints
from server import AppOptions
from sources.resilience import ResiliencePolicy
from tests.accord import AccordServer, Emulators
from tests.conftest import SandboxControl
from tests.mutations.conftest import Deals, book, erp_orders_for, key

ORDERS = "/services/rest/record/v1/salesOrder*"


@pytest.fixture
def patient(sandbox: Endpoints) -> Iterator[AccordServer]:
    """An Accord whose steps keep retrying a failing source for 20 s, whose requests wait
    for their workflow 2 s, and whose breakers open after two failures for 0.5 s."""
    policy = ResiliencePolicy(
        timeout=2.0,
        max_attempts=1,
        failure_threshold=2,
        recovery_time=0.5,
        recovery_max=2.0,
    )
    engine = EngineSettings(step_backoff=0.1, step_backoff_max=0.5, retry_for=20.0, reply_within=2)
    with AccordServer(sandbox, policy, AppOptions(api_keys=DEMO_KEYS, engine=engine)) as server:
        yield server


def order_step_error(server: AccordServer, workflow_id: str) -> str | None:
    body = server.graphql(
        "query($id: ID!) { workflow(id: $id) { steps { name error } } }",
        {"id": workflow_id},
        key="demo-ops",
    )
    steps = body["data"]["workflow"]["steps"]
    error = next(s for s in steps if s["name"] == "create_sales_order")["error"]
    return str(error) if error is not None else None


def workflow_status(server: AccordServer, workflow_id: str) -> str:
    body = server.graphql(
        "query($id: ID!) { workflow(id: $id) { status } }", {"id": workflow_id}, key="demo-ops"
    )
    return str(body["data"]["workflow"]["status"])


def test_a_booking_that_meets_a_short_outage_completes_by_itself(
    patient: AccordServer, deals: Deals, emulators: Emulators, ns_control: SandboxControl
) -> None:
    # given an ERP that refuses sales orders for a second and a half
    deal = deals.on_existing_customer()
    ns_control.fault(pattern=ORDERS, outage=True)

    # when the deal is booked meanwhile
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(book, patient, deal.opportunity_id, key())
        time.sleep(1.5)
        ns_control.fault(clear=True)
        workflow = answer.result(timeout=30)["workflow"]

    # then the booking completed without anyone retrying it, with exactly one order
    assert workflow["status"] == "COMPLETED", workflow
    step = next(s for s in workflow["steps"] if s["name"] == "create_sales_order")
    assert step["attempts"] > 1
    assert len(erp_orders_for(emulators, deal.opportunity_id)) == 1


def test_a_booking_still_retrying_answers_running_and_then_completes(
    patient: AccordServer, deals: Deals, emulators: Emulators, ns_control: SandboxControl
) -> None:
    # given an ERP that refuses sales orders for longer than a request waits
    deal = deals.on_existing_customer()
    ns_control.fault(pattern=ORDERS, outage=True)
    idem = key()

    # when the deal is booked, the answer comes within the wait, with the workflow running
    started = time.monotonic()
    first = book(patient, deal.opportunity_id, idem)
    # well under the 20 s the steps keep retrying, which is what waiting them out would take
    assert time.monotonic() - started < 15
    assert first["errors"] == []
    assert first["workflow"]["status"] == "RUNNING"
    # and the order step is retrying, with the ERP's error (on a slow machine the answer may
    # come before the step's first failure, so it is read until the failure shows)
    deadline = time.monotonic() + 15
    while "netsuite" not in (order_step_error(patient, first["workflow"]["id"]) or ""):
        assert time.monotonic() < deadline, "the order step never showed the ERP's error"
        time.sleep(0.1)
    assert workflow_status(patient, first["workflow"]["id"]) == "RUNNING"

    # then, once the ERP is back, the workflow completes by itself
    ns_control.fault(clear=True)
    deadline = time.monotonic() + 20
    while workflow_status(patient, first["workflow"]["id"]) != "COMPLETED":
        assert time.monotonic() < deadline, "the booking never completed by itself"
        time.sleep(0.2)
    assert len(erp_orders_for(emulators, deal.opportunity_id)) == 1
    # and the request sent again with its key answers with the workflow as it is now
    again = book(patient, deal.opportunity_id, idem)
    assert again["workflow"]["status"] == "COMPLETED"
