"""Write-path test support: fresh CRM data to book (`sandbox.deals`), and a client per role.

Each test creates what it writes to (an account, an opportunity and its lines) through the
Salesforce emulator's own API, so tests never depend on one another's writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.deals import Deal as Deal  # re-exported: the tests import them from here
from sandbox.deals import Deals as Deals
from sandbox.endpoints import Endpoints
from tests.accord import AccordServer, Emulators

BOOK = """mutation($input: BookOrderInput!) { bookOrder(input: $input) {
  errors { field message code }
  workflow { id status generation deadLettered
    steps { name status attempts error }
    failure { step code message source upstreamCode retryable problems { code field message } }
    pendingApproval { code message details }
    order { id number status total { amount currency } }
  } } }"""
ACT = """mutation($input: WorkflowActionInput!) { %s(input: $input) {
  errors { field message code }
  workflow { id status generation deadLettered failure { step code message } order { number } }
} }"""


def key() -> str:
    return f"test-{uuid.uuid4()}"


def erp_orders_for(emulators: Emulators, opportunity_id: str) -> list[dict[str, Any]]:
    return emulators.suiteql(
        f"SELECT id, tranid, entity FROM transaction WHERE type = 'SalesOrd' "
        f"AND externalid = '{opportunity_id}'"
    )


def book(
    accord: AccordServer, opportunity_id: str, idem: str, role: str = "sales"
) -> dict[str, Any]:
    body = accord.graphql(
        BOOK,
        {"input": {"idempotencyKey": idem, "opportunityId": opportunity_id}},
        key=f"demo-{role}",
    )
    assert "errors" not in body, body["errors"]
    payload: dict[str, Any] = body["data"]["bookOrder"]
    return payload


def awaiting_approval(server: AccordServer, deals: Deals) -> tuple[str, Deal, dict[str, Any]]:
    """A new account's euro deal, booked: its workflow waits for finance, a customer new to
    the ERP having no credit limit. The account id, the deal, and the workflow."""
    account = deals.new_account()
    deal = deals.deal(account, currency="EUR")
    return account, deal, book(server, deal.opportunity_id, key())["workflow"]


def act(
    accord: AccordServer, action: str, workflow_id: str, role: str = "finance"
) -> dict[str, Any]:
    body = accord.graphql(
        ACT % action,
        {"input": {"idempotencyKey": key(), "id": workflow_id}},
        key=f"demo-{role}",
    )
    assert "errors" not in body, body["errors"]
    payload: dict[str, Any] = body["data"][action]
    return payload


def accord_for_faults(sandbox: Endpoints, timeout: float) -> AccordServer:
    """An Accord of its own for write tests that break things: ``timeout`` per upstream
    request, two tries, a breaker that does not open, and steps that give up after their
    three attempts (no retry window)."""
    from api.auth import DEMO_KEYS
    from mutations.workflow import EngineSettings
    from server import AppOptions
    from sources.resilience import ResiliencePolicy

    policy = ResiliencePolicy(
        timeout=timeout, max_attempts=2, backoff_base=0.01, backoff_max=0.02, failure_threshold=1000
    )
    options = AppOptions(
        api_keys=DEMO_KEYS,
        engine=EngineSettings(step_backoff=0.01, step_backoff_max=0.02, retry_for=0.0),
    )
    return AccordServer(sandbox, policy, options)


@pytest.fixture
def writer(sandbox: Endpoints) -> Iterator[AccordServer]:
    """An Accord of its own for write tests that break things (faults, breakers)."""
    with accord_for_faults(sandbox, 2.0) as server:
        yield server


LATE_MS = 450  # an answer that comes after the client gave up on it, though the write landed


@pytest.fixture
def impatient(sandbox: Endpoints) -> Iterator[AccordServer]:
    """An Accord that gives each upstream request 0.25 s."""
    with accord_for_faults(sandbox, 0.25) as server:
        yield server


def customers_keyed(emulators: Emulators, erp_key: str) -> list[dict[str, object]]:
    """The ERP customers whose external id is ``erp_key``."""
    return emulators.suiteql(f"SELECT id FROM customer WHERE externalid = '{erp_key}'")
