"""Write-path test support: fresh CRM data to book, and a client per role.

Each test creates what it writes to (an account, an opportunity and its lines) through the
Salesforce emulator's own API, so tests never depend on one another's writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from sandbox.endpoints import Endpoints
from sandbox.world import World
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


@dataclass
class Deal:
    account_id: str
    opportunity_id: str
    erp_key: str | None
    total: Decimal
    currency: str


class Deals:
    """Creates Closed Won deals in the Salesforce emulator."""

    def __init__(self, emulators: Emulators, world: World) -> None:
        self.emulators = emulators
        self.world = world

    def new_account(self, country: str = "DE", **overrides: Any) -> str:
        fields = {
            "Name": f"Fresh Prospect {uuid.uuid4().hex[:8]} GmbH",
            "BillingStreet": "1 Hauptstrasse",
            "BillingCity": "Berlin",
            "BillingPostalCode": "10115",
            "BillingCountryCode": country,
            "Tax_Id__c": "DE123456789",
            "Industry": "Manufacturing",
            **overrides,
        }
        return self.emulators.sf_create("Account", fields)

    def deal(
        self,
        account_id: str,
        *,
        currency: str,
        stage: str = "Closed Won",
        lines: list[tuple[str, int]] | None = None,
        erp_key: str | None = None,
    ) -> Deal:
        opportunity_id = self.emulators.sf_create(
            "Opportunity",
            {
                "Name": f"Test deal {uuid.uuid4().hex[:6]}",
                "AccountId": account_id,
                "StageName": stage,
                "CloseDate": self.world.as_of.isoformat(),
                "CurrencyIsoCode": currency,
            },
        )
        total = Decimal(0)
        for sku, quantity in lines or [("SVC-TRAIN", 1)]:
            product = next(p for p in self.world.products if p.sku == sku)
            price = product.list_price_usd
            self.emulators.sf_create(
                "OpportunityLineItem",
                {
                    "OpportunityId": opportunity_id,
                    "PricebookEntryId": self.world.pricebook_entry_ids[(sku, currency)],
                    "Quantity": quantity,
                    "UnitPrice": float(price),
                },
            )
            total += price * quantity
        return Deal(account_id, opportunity_id, erp_key, total, currency)

    def on_existing_customer(self, *, credit_limit: int = 100_000) -> Deal:
        """A Closed Won deal on a customer both systems know: a new ERP customer (German
        entity, EUR, with a credit limit) and a new account cross-referenced to it."""
        erp_key = f"TEST-{uuid.uuid4().hex[:12]}"
        self.emulators.ns_create(
            "customer",
            {
                "companyName": f"Existing Customer {erp_key} GmbH",
                "externalId": erp_key,
                "subsidiary": {"id": "3"},
                "currency": {"id": "4"},
                "creditLimit": credit_limit,
                "vatRegNumber": "DE111222333",
            },
        )
        account = self.new_account(ERP_Customer_Id__c=erp_key)
        return self.deal(account, currency="EUR", erp_key=erp_key)


@pytest.fixture
def deals(emulators: Emulators, world: World) -> Deals:
    return Deals(emulators, world)


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


@pytest.fixture
def writer(sandbox: Endpoints) -> Iterator[AccordServer]:
    """An Accord of its own for write tests that break things (faults, breakers)."""
    from api.auth import DEMO_KEYS
    from mutations.workflow import EngineSettings
    from server import AppOptions
    from sources.resilience import ResiliencePolicy

    policy = ResiliencePolicy(
        timeout=2.0, max_attempts=2, backoff_base=0.01, backoff_max=0.02, failure_threshold=1000
    )
    options = AppOptions(
        api_keys=DEMO_KEYS,
        engine=EngineSettings(step_backoff=0.01, step_backoff_max=0.02, retry_for=0.0),
    )
    with AccordServer(sandbox, policy, options) as server:
        yield server


LATE_MS = 450  # an answer that comes after the client gave up on it, though the write landed


@pytest.fixture
def impatient(sandbox: Endpoints) -> Iterator[AccordServer]:
    """An Accord that gives each upstream request 0.25 s."""
    from api.auth import DEMO_KEYS
    from mutations.workflow import EngineSettings
    from server import AppOptions
    from sources.resilience import ResiliencePolicy

    policy = ResiliencePolicy(
        timeout=0.25, max_attempts=2, backoff_base=0.01, backoff_max=0.02, failure_threshold=1000
    )
    options = AppOptions(
        api_keys=DEMO_KEYS,
        engine=EngineSettings(step_backoff=0.01, step_backoff_max=0.02, retry_for=0.0),
    )
    with AccordServer(sandbox, policy, options) as server:
        yield server
