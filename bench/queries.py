"""The GraphQL documents the benchmarks send, and a checked way to send one."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

# What the Lightning component on an Account page asks, by the record id it has.
CREDIT_QUERY = (
    "query($id: ID!) { customer(salesforceId: $id) { name credit { limit { amount currency } "
    "balance { amount } overdue { amount } available { amount } status } } }"
)

# A portal page of 100 customers with their credit and recent documents: the nested read whose
# upstream plan the read-path benchmark and tests/resolvers count.
PORTAL_QUERY = """
{ customers(first: 100) { edges { node {
    id name industry billingAddress { city country }
    legalEntity { name } paymentTerms { name } currency
    credit { limit { amount } balance { amount } overdue { amount } available { amount } status }
    orders(first: 20) { nodes { number status total { amount } } }
    invoices(first: 20) { nodes { number status amountDue { amount } dueDate } }
    payments(first: 20) { nodes { number amount { amount } applications { amount { amount } } } }
} } } }
"""


# The benchmarks read as finance: credit and money are confidential, which anonymous callers
# are not shown (schema/access.py).
KEY = "demo-finance"
HEADERS = {"Authorization": f"Bearer {KEY}"}


class QueryFailed(RuntimeError):
    """Accord answered with an HTTP error or GraphQL errors."""


def graphql(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> Any:
    """``data`` of a query that must succeed; `QueryFailed` with the answer otherwise."""
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=HEADERS
    )
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or body.get("errors"):
        raise QueryFailed(f"HTTP {response.status_code}: {response.text[:500]}")
    return body["data"]


def persisted_query(document: str) -> dict[str, Any]:
    """The ``extensions`` naming ``document`` by its SHA-256 (automatic persisted queries)."""
    digest = hashlib.sha256(document.encode("utf-8")).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def register(client: httpx.Client, document: str) -> None:
    """Send ``document`` with its hash once, so that Accord knows the hash from then on."""
    response = client.post(
        "/graphql",
        json={"query": document, "extensions": persisted_query(document)},
        headers=HEADERS,
    )
    if response.status_code != 200:
        raise QueryFailed(f"HTTP {response.status_code}: {response.text[:500]}")


def credit(client: httpx.Client, salesforce_id: str, *, persisted: bool = False) -> dict[str, Any]:
    """The credit query's customer, which must exist; by its hash when ``persisted``."""
    if persisted:
        response = client.post(
            "/graphql",
            json={"variables": {"id": salesforce_id}, "extensions": persisted_query(CREDIT_QUERY)},
            headers=HEADERS,
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise QueryFailed(f"HTTP {response.status_code}: {response.text[:500]}")
        data = body["data"]
    else:
        data = graphql(client, CREDIT_QUERY, {"id": salesforce_id})
    customer = data["customer"]
    if not isinstance(customer, dict):
        raise QueryFailed(f"no customer with Salesforce id {salesforce_id}")
    return customer
