"""No N+1: a nested query for 100 customers costs one upstream call per source and level.

Counts come from the emulators' own stats. Reference data (currencies, subsidiaries, terms) is
read once per process and kept, so it is warmed before counting. These are the counts of a cold
read: the read cache is off here (tests/cache counts what it saves).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.queries import PORTAL_QUERY
from sandbox.endpoints import Endpoints
from tests.accord import AccordServer
from tests.conftest import SandboxControl

SUITEQL = "POST /services/rest/query/v1/suiteql"
SOQL = "GET /services/data/v59.0/query"


@pytest.fixture(scope="module")
def accord(sandbox: Endpoints) -> Iterator[AccordServer]:
    """Accord without its read cache, so every query is a cold read."""
    with AccordServer(sandbox, cache=False) as server:
        yield server


def test_a_hundred_customers_nested_cost_the_minimal_plan(
    accord: AccordServer, sf_control: SandboxControl, ns_control: SandboxControl
) -> None:
    # given warm reference data
    accord.graphql(
        "{ customers(first: 1) { nodes { legalEntity { name } paymentTerms { name } } } }"
    )
    sf_control.reset()
    ns_control.reset()

    # when a portal asks for 100 customers with their orders, invoices, payments and credit
    body = accord.graphql(PORTAL_QUERY)

    # then the answer is complete
    assert "errors" not in body
    edges = body["data"]["customers"]["edges"]
    assert len(edges) == 100
    assert sum(len(e["node"]["invoices"]["nodes"]) for e in edges) > 50
    # and it cost the minimal plan: the customer page, then the orders, invoices and payments
    # of the 100 customers in one SuiteQL call, and one SOQL call for the 100 accounts
    assert ns_control.stats()["by_endpoint"] == {SUITEQL: 2}
    assert sf_control.stats()["by_endpoint"] == {SOQL: 1}


def test_lines_cost_one_call_per_parent_level(
    accord: AccordServer, ns_control: SandboxControl
) -> None:
    query = """{ customers(first: 50) { nodes {
        orders(first: 10) { nodes { lines { sku amount { amount } } } }
        invoices(first: 10) { nodes { lines { sku } } }
    } } }"""
    accord.graphql("{ customers(first: 1) { nodes { currency } } }")
    ns_control.reset()

    body = accord.graphql(query)

    assert "errors" not in body
    # customer page; orders and invoices together; then the lines of all orders and of all
    # invoices: one call each, or a single call when both lists arrive in the same turn
    calls = ns_control.stats()["by_endpoint"]
    assert set(calls) == {SUITEQL}
    assert calls[SUITEQL] in (3, 4)
    lines = [
        line
        for node in body["data"]["customers"]["nodes"]
        for order in node["orders"]["nodes"]
        for line in order["lines"]
    ]
    assert lines
