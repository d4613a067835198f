"""The same GraphQL queries and mutations against Accord on each ERP: NetSuite (its emulator)
and Tryton (a real trytond). Clients do not change when the ERP does, so every answer is
checked against the world the ERP was seeded from, never against an ERP's own ids."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from sandbox.deals import Deals
from sandbox.emulator_client import EmulatorClient
from sandbox.endpoints import Endpoints
from sandbox.world import Customer, World
from sources.records import NewSalesOrder, OrderLineInput
from tests.accord import AccordServer
from tests.erps import (
    ERPS,
    OnErp,
    erp_sandbox,
    new_german_customer,
    tryton_adapter,
    tryton_customer_with_invoice,
)


@pytest.fixture(scope="session")
def accord_on_tryton(writable_tryton_sandbox: Endpoints) -> Iterator[AccordServer]:
    """Accord over real HTTP, its ERP the writable Tryton sandbox."""
    with AccordServer(writable_tryton_sandbox) as server:
        yield server


@pytest.fixture(params=ERPS)
def on_erp(request: pytest.FixtureRequest) -> OnErp:
    """Accord on each ERP (``ACCORD_ERP`` as a fixture parameter), with its world."""
    world, endpoints = erp_sandbox(request, request.param)
    accord = request.getfixturevalue("accord_on_tryton" if request.param == "tryton" else "accord")
    return OnErp(request.param, accord, world, endpoints)


def linked(world: World) -> list[Customer]:
    return [c for c in world.customers if c.key and c.sf_account_id and c.ns_id is not None]


def status_of(customer: Customer) -> str:
    if customer.credit_hold == "ON":
        return "ON_HOLD"
    if customer.credit_hold == "OFF" or customer.balance() <= customer.credit_limit:
        return "GOOD_STANDING"
    return "OVER_LIMIT"


CREDIT = """
  id erpId systems currency taxId
  legalEntity { name country currency }
  paymentTerms { name days }
  credit { limit { amount currency } balance { amount currency } overdue { amount }
           status hold }
"""


def customer(accord: AccordServer, key: str, fields: str = CREDIT) -> dict[str, Any]:
    body = accord.graphql(f'{{ customer(id: "cus:{key}") {{ {fields} }} }}')
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["customer"]
    return found


def test_credit_standing_is_the_erps_whichever_erp(on_erp: OnErp) -> None:
    today = dt.datetime.now(dt.UTC).date()
    for world_customer in linked(on_erp.world)[:15]:
        data = customer(on_erp.accord, world_customer.key or "")

        assert data["systems"] == ["CRM", "ERP"]
        assert data["currency"] == world_customer.currency
        assert data["taxId"] == world_customer.tax_id
        subsidiary = world_customer.subsidiary
        assert data["legalEntity"] == {
            "name": subsidiary.name,
            "country": subsidiary.country,
            "currency": subsidiary.currency,
        }
        assert data["paymentTerms"] == {
            "name": world_customer.terms.name,
            "days": world_customer.terms.days,
        }
        credit = data["credit"]
        assert Decimal(credit["limit"]["amount"]) == world_customer.credit_limit
        assert credit["limit"]["currency"] == world_customer.currency
        assert Decimal(credit["balance"]["amount"]) == world_customer.balance()
        assert Decimal(credit["overdue"]["amount"]) == world_customer.overdue_balance(today)
        assert credit["status"] == status_of(world_customer)
        assert credit["hold"] == world_customer.credit_hold


def test_a_customer_is_the_same_by_key_and_by_the_erp_id_it_answers_with(on_erp: OnErp) -> None:
    key = linked(on_erp.world)[0].key or ""
    by_key = customer(on_erp.accord, key)
    query = f"query($erp: ID) {{ customer(erpId: $erp) {{ {CREDIT} }} }}"

    by_erp = on_erp.accord.graphql(query, {"erp": by_key["erpId"]})

    assert by_erp["data"]["customer"] == by_key
    unknown = on_erp.accord.graphql(query, {"erp": "not an id"})
    assert unknown["data"]["customer"] is None
    assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_invoices_of_a_customer_have_the_worlds_figures_and_statuses(on_erp: OnErp) -> None:
    today = dt.datetime.now(dt.UTC).date()
    chosen = [c for c in linked(on_erp.world) if c.invoices][:8]
    fields = """invoices(first: 50) { edges { node {
        status issueDate dueDate total { amount } amountPaid { amount } amountDue { amount }
    } } }"""
    for world_customer in chosen:
        data = customer(on_erp.accord, world_customer.key or "", fields)
        got = Counter(
            (
                node["status"],
                node["issueDate"],
                node["dueDate"],
                Decimal(node["total"]["amount"]),
                Decimal(node["amountPaid"]["amount"]),
                Decimal(node["amountDue"]["amount"]),
            )
            for node in (edge["node"] for edge in data["invoices"]["edges"])
        )
        expected = Counter(
            (
                "PAID"
                if i.amount_remaining == 0
                else "OVERDUE"
                if i.due_date < today
                else "PARTIALLY_PAID"
                if i.amount_paid > 0
                else "OPEN",
                i.date.isoformat(),
                i.due_date.isoformat(),
                i.total,
                i.amount_paid,
                i.amount_remaining,
            )
            for i in world_customer.invoices
        )
        assert got == expected


def test_a_credit_hold_is_set_and_lifted_through_graphql(on_erp: OnErp) -> None:
    # given a customer in good standing without a hold
    world_customer = next(
        c for c in linked(on_erp.world) if c.credit_hold == "AUTO" and status_of(c) != "ON_HOLD"
    )
    key = world_customer.key or ""
    mutation = """mutation($input: SetCreditHoldInput!) { setCreditHold(input: $input) {
        errors { code message } customer { credit { status hold } } } }"""

    def hold(setting: str, idempotency_key: str) -> dict[str, Any]:
        body = on_erp.accord.graphql(
            mutation,
            {
                "input": {
                    "idempotencyKey": idempotency_key,
                    "customerId": f"cus:{key}",
                    "hold": setting,
                    "reason": f"GraphQL on {on_erp.name}",
                }
            },
        )
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"]["setCreditHold"]
        return payload

    try:
        # when finance puts it on hold, then the ERP holds it
        held = hold("ON", f"graphql-hold-on-{on_erp.name}-{key}")
        assert held["errors"] == []
        assert held["customer"]["credit"] == {"status": "ON_HOLD", "hold": "ON"}
        assert customer(on_erp.accord, key)["credit"]["hold"] == "ON"
    finally:
        # and lifting it puts the customer back as the world has it
        lifted = hold("AUTO", f"graphql-hold-auto-{on_erp.name}-{key}")
    assert lifted["errors"] == []
    assert lifted["customer"]["credit"] == {"status": status_of(world_customer), "hold": "AUTO"}


BOOK = """mutation($input: BookOrderInput!) { bookOrder(input: $input) {
  errors { code message }
  workflow { id status pendingApproval { code } failure { step code message }
             order { erpId number status total { amount currency } } } } }"""
APPROVE = """mutation($input: WorkflowActionInput!) { approveWorkflow(input: $input) {
  errors { code message }
  workflow { id status failure { step code message }
             order { erpId number status total { amount currency } } } } }"""


def test_a_deal_on_a_new_account_waits_for_finance_then_books_one_confirmed_order(
    on_erp: OnErp,
) -> None:
    # given a Closed Won deal on an account the ERP does not know (a valid German VAT id:
    # Tryton checks its digits)
    emulators = EmulatorClient(on_erp.endpoints)
    try:
        deals = Deals(emulators, on_erp.world)
        account = deals.new_account(Tax_Id__c="DE136695976")
        deal = deals.deal(account, currency="EUR")

        # when sales books it, it waits for finance: a new customer has no credit limit
        booked = on_erp.accord.graphql(
            BOOK,
            {
                "input": {
                    "idempotencyKey": f"book-{uuid.uuid4()}",
                    "opportunityId": deal.opportunity_id,
                }
            },
            key="demo-sales",
        )
        pending = booked["data"]["bookOrder"]["workflow"]
        assert pending["status"] == "PENDING_APPROVAL", booked
        assert pending["pendingApproval"]["code"] == "NO_CREDIT_LIMIT"

        # and once finance approves, the ERP holds one order of the deal, past approval
        approved = on_erp.accord.graphql(
            APPROVE,
            {"input": {"idempotencyKey": f"approve-{uuid.uuid4()}", "id": pending["id"]}},
            key="demo-finance",
        )["data"]["approveWorkflow"]
        assert approved["errors"] == []
        workflow = approved["workflow"]
        assert workflow["status"] == "COMPLETED", workflow
        order = workflow["order"]
        assert order["status"] not in ("PENDING_APPROVAL", "CANCELLED")
        assert Decimal(order["total"]["amount"]) == deal.total
        assert order["total"]["currency"] == "EUR"
        found = on_erp.accord.graphql(
            "query($id: ID!) { order(id: $id) { number lines { sku } } }",
            {"id": f"ord:{order['erpId']}"},
        )
        assert [line["sku"] for line in found["data"]["order"]["lines"]] == ["SVC-TRAIN"]
        assert found["data"]["order"]["number"] == order["number"]
        written_back = emulators.sf.get(
            f"/services/data/v59.0/sobjects/Opportunity/{deal.opportunity_id}"
        ).json()
        assert written_back["ERP_Order_Id__c"] == order["number"]
    finally:
        emulators.close()


async def _tryton_customer_with_invoice(endpoints: Endpoints, world: World, key: str) -> str:
    """A new Tryton customer with one posted invoice of 1000.00 EUR; the invoice's ERP id."""
    _, invoice = await tryton_customer_with_invoice(endpoints, key)
    return invoice


RECORD = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  errors { code message } payment { erpId amount { amount currency } } } }"""


def test_a_payment_is_recorded_once_against_an_invoice(on_erp: OnErp) -> None:
    # given a customer both systems know, with one open invoice of 1000.00 EUR
    emulators = EmulatorClient(on_erp.endpoints)
    try:
        deals = Deals(emulators, on_erp.world)
        if on_erp.name == "tryton":
            key = f"PAY-{uuid.uuid4().hex[:8].upper()}"
            invoice = asyncio.run(
                _tryton_customer_with_invoice(on_erp.endpoints, on_erp.world, key)
            )
            deals.new_account(ERP_Customer_Id__c=key)
            customer = f"cus:{key}"
        else:
            customer, _, invoice = deals.customer_with_invoice(1000)
    finally:
        emulators.close()
    payment = {
        "idempotencyKey": f"pay-{uuid.uuid4()}",
        "customerId": customer,
        "amount": "400.00",
        "currency": "EUR",
        "applications": [{"invoiceId": f"inv:{invoice}", "amount": "400.00"}],
        "memo": f"GraphQL on {on_erp.name}",
    }

    # when finance records part of it, and the call is repeated with the same key
    first = on_erp.accord.graphql(RECORD, {"input": payment}, key="demo-finance")
    again = on_erp.accord.graphql(RECORD, {"input": payment}, key="demo-finance")

    # then one payment is applied: the invoice owes 600.00, partly paid
    assert first["data"]["recordPayment"]["errors"] == [], first
    assert again["data"]["recordPayment"] == first["data"]["recordPayment"]
    assert first["data"]["recordPayment"]["payment"]["amount"] == {
        "amount": "400.00",
        "currency": "EUR",
    }
    owed = on_erp.accord.graphql(
        "query($id: ID!) { invoice(id: $id) { status amountPaid { amount } amountDue { amount } } }",
        {"id": f"inv:{invoice}"},
    )["data"]["invoice"]
    assert owed == {
        "status": "PARTIALLY_PAID",
        "amountPaid": {"amount": "400.00"},
        "amountDue": {"amount": "600.00"},
    }


@pytest.mark.second_erp
def test_trytons_own_credit_check_holds_a_booking_for_finance_then_confirms_the_sale(
    accord_on_tryton: AccordServer, tryton_world: World, writable_tryton_sandbox: Endpoints
) -> None:
    # given a customer whose limit Accord's credit check clears for the deal, while Tryton,
    # which also counts a confirmed sale not yet invoiced, finds it over
    emulators = EmulatorClient(writable_tryton_sandbox)
    try:
        deals = Deals(emulators, tryton_world)
        key = f"CHECK-{uuid.uuid4().hex[:8].upper()}"
        price = next(p for p in tryton_world.products if p.sku == "SVC-TRAIN").list_price_usd
        asyncio.run(
            _tryton_customer_with_open_sale(writable_tryton_sandbox, key, price + 100, Decimal(200))
        )
        account = deals.new_account(ERP_Customer_Id__c=key)
        deal = deals.deal(account, currency="EUR", erp_key=key)
    finally:
        emulators.close()

    # when sales books the deal, it waits for finance with Tryton's own message
    booked = accord_on_tryton.graphql(
        BOOK,
        {"input": {"idempotencyKey": f"book-{uuid.uuid4()}", "opportunityId": deal.opportunity_id}},
        key="demo-sales",
    )["data"]["bookOrder"]
    pending = booked["workflow"]
    assert pending["status"] == "PENDING_APPROVAL", booked
    assert pending["pendingApproval"]["code"] == "ERP_CREDIT_CHECK"

    # then finance's approval confirms the same sale in Tryton, and the booking completes
    approved = accord_on_tryton.graphql(
        APPROVE,
        {"input": {"idempotencyKey": f"approve-{uuid.uuid4()}", "id": pending["id"]}},
        key="demo-finance",
    )["data"]["approveWorkflow"]["workflow"]
    assert approved["status"] == "COMPLETED", approved
    assert approved["order"]["status"] != "PENDING_APPROVAL"
    orders = accord_on_tryton.graphql(
        f'{{ customer(id: "cus:{key}") {{ orders(first: 10) {{ edges {{ node {{ erpId }} }} }} }} }}'
    )["data"]["customer"]["orders"]["edges"]
    assert approved["order"]["erpId"] in [edge["node"]["erpId"] for edge in orders]
    assert len(orders) == 2  # the earlier sale and this one, nothing twice


async def _tryton_customer_with_open_sale(
    endpoints: Endpoints, key: str, limit: Decimal, open_sale: Decimal
) -> None:
    erp = tryton_adapter(endpoints)
    try:
        customer = await new_german_customer(erp, key, f"Checked {key} GmbH", limit)
        await erp.create_sales_order(
            NewSalesOrder(
                customer_erp_id=customer,
                external_id=f"006OPEN{uuid.uuid4().hex[:8]}",
                order_date=erp.today(),
                currency="EUR",
                lines=(OrderLineInput("SVC-TRAIN", Decimal(1), open_sale),),
            ),
            idempotency_key=key,
        )
    finally:
        await erp.close()
