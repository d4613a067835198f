"""A real Tryton server, seeded from the world over JSON-RPC, holds what the world says.

The session's Tryton sandbox (seed 42, 60 customers) is read once, through Accord's JSON-RPC
client as the integration user, and compared with the world rebuilt in this process: legal
entities, parties and their keys, addresses, tax ids, credit limits, sales, invoices and their
due dates, payments, receivables and overdue invoices, and the Salesforce accounts that point
at the parties.
"""

from __future__ import annotations

import ssl
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.endpoints import Endpoints
from sandbox.tryton.identifiers import accord_tax_id
from sandbox.tryton.seed.parties import CREDIT_HOLD_CATEGORIES
from sandbox.world import Customer, World
from tests.sandbox.tryton_support import Snapshot, snapshot

pytestmark = pytest.mark.second_erp


@pytest.fixture(scope="module")
def tryton(tryton_sandbox: Endpoints) -> Snapshot:
    return snapshot(tryton_sandbox.tryton)


def erp_customers(world: World) -> list[Customer]:
    return [c for c in world.customers if c.ns_id is not None]


def code(row: dict[str, Any], field: str = "party") -> str:
    value: str = row[f"{field}."]["code"]
    return value


def test_each_legal_entity_is_a_company_in_its_own_currency(
    tryton: Snapshot, tryton_world: World
) -> None:
    companies = {c["party."]["name"]: c["currency."]["code"] for c in tryton.companies}
    assert companies == {sub.name: sub.currency for sub in tryton_world.subsidiaries}


def test_the_customers_the_erp_knows_are_parties_coded_with_their_cross_reference_key(
    tryton: Snapshot, tryton_world: World
) -> None:
    # given the world's customers: some only in the CRM, some with drifted names
    known = erp_customers(tryton_world)
    assert len(known) < len(tryton_world.customers), "the world has CRM-only customers"
    assert any(c.erp_name for c in known), "the world has drifted names"
    assert any(c.sf_account_id is None for c in known), "the world has ERP-only customers"

    # then exactly the ERP's customers are parties, coded with the key, named as the ERP has it
    assert set(tryton.parties) == {c.key for c in known}
    for customer in known:
        party = tryton.parties[customer.key or ""]
        assert party["name"] == (customer.erp_name or customer.name)
        assert party["customer_payment_term."]["name"] == customer.terms.name


def test_addresses_and_tax_ids_are_the_erp_s(tryton: Snapshot, tryton_world: World) -> None:
    addresses = {code(a): a for a in tryton.addresses}
    tax_ids = {code(i): accord_tax_id(i["type"], i["code_compact"]) for i in tryton.identifiers}
    known = erp_customers(tryton_world)
    assert len(addresses) == len(known)
    for customer in known:
        key = customer.key or ""
        address = addresses[key]
        assert address["street"] == (customer.erp_street or customer.address.street)
        assert address["city"] == customer.address.city
        assert address["postal_code"] == customer.address.postal_code
        assert address["country."]["code"] == customer.address.country
        if customer.address.state:
            expected = f"{customer.address.country}-{customer.address.state}"
            assert address["subdivision."]["code"] == expected
        assert tax_ids.get(key) == customer.tax_id
    assert {i["type"] for i in tryton.identifiers} == {
        "us_ein",
        "gb_vat",
        "eu_vat",
        "ca_vat",
        "jp_vat",
        "au_vat",
    }


def test_credit_limits_and_holds_are_set_in_the_customer_s_company(
    tryton: Snapshot, tryton_world: World
) -> None:
    company_of = {c["party."]["name"]: c["id"] for c in tryton.companies}
    for customer in erp_customers(tryton_world):
        money = tryton.money[customer.key or ""]
        assert money["company"] == company_of[customer.subsidiary.name]
        assert money["credit_limit"] == customer.credit_limit
        held = {c["name"] for c in tryton.parties[customer.key or ""]["categories."]}
        expected = CREDIT_HOLD_CATEGORIES.get(customer.credit_hold)
        assert held == ({expected} if expected else set())


def test_sales_have_the_world_s_numbers_references_states_and_totals(
    tryton: Snapshot, tryton_world: World
) -> None:
    orders = [(c, o) for c in erp_customers(tryton_world) for o in c.sales_orders]
    assert {o.status for _, o in orders} == {"B", "F", "G"}
    assert set(tryton.sales) == {o.tran_id for _, o in orders}
    for customer, order in orders:
        sale = tryton.sales[order.tran_id]
        assert code(sale) == customer.key
        assert sale["reference"] == order.external_id
        assert sale["sale_date"] == order.date
        assert sale["currency."]["code"] == order.currency
        assert sale["total_amount"] == order.total
        if order.status == "B":  # confirmed, not invoiced
            assert (sale["state"], sale["invoice_state"], sale["invoices"]) == (
                "processing",
                "none",
                [],
            )
        else:
            assert len(sale["invoices"]) == 1
            assert sale["state"] in {"processing", "done"}


def test_invoices_are_posted_with_the_world_s_dates_due_dates_and_amounts(
    tryton: Snapshot, tryton_world: World
) -> None:
    invoices = [(c, i) for c in erp_customers(tryton_world) for i in c.invoices]
    assert len(tryton.invoices) == len(invoices)
    states = set()
    for customer, invoice in invoices:
        assert invoice.sales_order is not None
        (invoice_id,) = tryton.sales[invoice.sales_order.tran_id]["invoices"]
        row = tryton.invoices[invoice_id]
        assert code(row) == customer.key
        assert row["invoice_date"] == invoice.date
        assert row["total_amount"] == invoice.total
        assert row["amount_to_pay"] == invoice.amount_remaining
        (line,) = row["lines_to_pay"]
        assert tryton.maturities[line] == invoice.due_date
        assert row["state"] == ("paid" if invoice.amount_remaining == 0 else "posted")
        assert row["number"].startswith(f"{customer.subsidiary.country}-INV-")
        states.add(row["state"])
    assert states == {"paid", "posted"}


def test_overdue_invoices_are_those_the_world_has_overdue(
    tryton: Snapshot, tryton_world: World
) -> None:
    as_of = tryton_world.as_of
    expected = {
        invoice.sales_order.tran_id
        for customer in erp_customers(tryton_world)
        for invoice in customer.invoices
        if invoice.sales_order and invoice.due_date < as_of and invoice.amount_remaining > 0
    }
    overdue = {
        sale["number"]
        for sale in tryton.sales.values()
        for invoice_id in sale["invoices"]
        if tryton.invoices[invoice_id]["amount_to_pay"] > 0
        and tryton.maturities[tryton.invoices[invoice_id]["lines_to_pay"][0]] < as_of
    }
    assert expected, "the world has overdue invoices"
    assert overdue == expected


def test_receivables_are_the_world_s_balances(tryton: Snapshot, tryton_world: World) -> None:
    balances = {c.key: c.balance() for c in erp_customers(tryton_world)}
    assert any(balances.values())
    assert {key: tryton.money[key or ""]["receivable"] for key in balances} == balances


def test_payments_are_statement_lines_applied_to_the_invoices_they_paid(
    tryton: Snapshot, tryton_world: World
) -> None:
    invoice_of_order = {number: sale["invoices"] for number, sale in tryton.sales.items()}
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in tryton.statement_lines:
        lines[line["number"]].append(line)
    payments = [(c, p) for c in erp_customers(tryton_world) for p in c.payments]
    assert set(lines) == {p.tran_id for _, p in payments}
    partial = 0
    for customer, payment in payments:
        paid = lines[payment.tran_id]
        assert sum((line["amount"] for line in paid), Decimal(0)) == payment.amount
        assert {code(line) for line in paid} == {customer.key}
        assert all(line["date"] == payment.date and line["move"] for line in paid)
        assert all(line["description"] == payment.memo for line in paid)
        applied = {line["related_to"] for line in paid}
        orders = [a.invoice.sales_order for a in payment.applications]
        assert applied == {f"account.invoice,{invoice_of_order[o.tran_id][0]}" for o in orders if o}
        partial += any(a.amount < a.invoice.total for a in payment.applications)
    assert partial, "some payments pay part of an invoice"


def test_the_integration_user_works_in_every_company(tryton: Snapshot) -> None:
    assert tryton.context["company_filter"] == "all"
    assert sorted(tryton.context["companies"]) == sorted(c["id"] for c in tryton.companies)


@pytest.fixture(scope="module")
def salesforce(tryton_sandbox: Endpoints) -> Iterator[httpx.Client]:
    endpoint = tryton_sandbox.salesforce
    assert endpoint.ca_file is not None
    with httpx.Client(
        base_url=endpoint.instance_url,
        verify=ssl.create_default_context(cafile=endpoint.ca_file),
        headers={"Authorization": f"Bearer {endpoint.session_id}"},
        timeout=30.0,
    ) as client:
        yield client


def test_salesforce_accounts_point_at_the_tryton_parties_by_key(
    tryton: Snapshot, tryton_world: World, salesforce: httpx.Client
) -> None:
    # given the accounts of the Salesforce emulator started beside Tryton
    answer = salesforce.get(
        "/services/data/v59.0/query/",
        params={"q": "SELECT Id, Name, ERP_Customer_Id__c FROM Account"},
    )
    answer.raise_for_status()
    accounts = answer.json()["records"]

    # then every key an account holds is a Tryton party's code, and the accounts without one
    # are the customers the ERP does not know
    keyed = {a["ERP_Customer_Id__c"]: a for a in accounts if a["ERP_Customer_Id__c"]}
    assert keyed
    # (but for the links the world breaks on purpose, which reconciliation must find)
    broken = set(tryton_world.drift()["LINK_BROKEN"])
    pointing = {key for key, account in keyed.items() if account["Id"] not in broken}
    assert {account["Id"] for key, account in keyed.items() if key not in tryton.parties} == broken
    assert pointing <= set(tryton.parties)
    unlinked = set(tryton_world.drift()["LINK_MISSING"])  # accounts whose link was never set
    in_both = {
        c.key
        for c in erp_customers(tryton_world)
        if c.sf_account_id and c.sf_account_id not in unlinked
    }
    assert pointing == in_both
    crm_only = [c for c in tryton_world.customers if c.ns_id is None]
    assert len(accounts) - len(keyed) == len(crm_only)
