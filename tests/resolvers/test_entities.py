"""``_entities``: references resolved through the read path's DataLoaders, partial on an
outage, and refused one by one when they cannot be read.

Counts come from the emulators' own stats, with the read cache off, as in test_batching.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.endpoints import Endpoints
from sandbox.world import Customer, World
from sources.resilience import ResiliencePolicy
from tests.accord import AccordServer
from tests.conftest import SandboxControl

SUITEQL = "POST /services/rest/query/v1/suiteql"
SOQL = "GET /services/data/v59.0/query"

ENTITIES = """query($refs: [_Any!]!) { _entities(representations: $refs) {
  __typename
  ... on Customer { id salesforceId erpId name credit { balance { amount } status } }
  ... on Order { id number }
  ... on Invoice { id number }
  ... on Payment { id number }
} }"""


@pytest.fixture(scope="module")
def accord(sandbox: Endpoints) -> Iterator[AccordServer]:
    """Accord without its read cache, so every query is a cold read."""
    with AccordServer(sandbox, cache=False) as server:
        yield server


def entities(
    server: AccordServer, refs: list[Any], query: str = ENTITIES, key: str | None = "demo-finance"
) -> dict[str, Any]:
    """The answer to ``_entities``, as a gateway forwarding the caller's key (finance: it
    reads credit figures) would get it."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with server.client() as client:
        response = client.post(
            "/graphql/federation",
            json={"query": query, "variables": {"refs": refs}},
            headers=headers,
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def linked(world: World, count: int) -> list[Customer]:
    """Customers both systems hold, linked by their key."""
    found = [c for c in world.customers if c.key and c.sf_account_id and c.ns_id]
    assert len(found) >= count
    return found[:count]


def errors_at(body: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {
        ".".join(map(str, error["path"])): (
            error["extensions"]["code"],
            error["extensions"].get("source"),
        )
        for error in body.get("errors", [])
    }


def cost(
    sf: SandboxControl, ns: SandboxControl, run: Any
) -> tuple[dict[str, int], dict[str, int], Any]:
    sf.reset()
    ns.reset()
    result = run()
    return sf.stats()["by_endpoint"], ns.stats()["by_endpoint"], result


def test_n_customer_references_cost_what_a_page_of_n_costs(
    accord: AccordServer, world: World, sf_control: SandboxControl, ns_control: SandboxControl
) -> None:
    customers = linked(world, 50)
    refs = [{"__typename": "Customer", "id": f"cus:{c.key}"} for c in customers]
    page = "{ customers(first: 50) { nodes { id name credit { balance { amount } status } } } }"

    # when a page of 50, one reference, and 50 references are read
    page_sf, page_ns, _ = cost(sf_control, ns_control, lambda: accord.graphql(page))
    one_sf, one_ns, _ = cost(sf_control, ns_control, lambda: entities(accord, refs[:1]))
    many_sf, many_ns, body = cost(sf_control, ns_control, lambda: entities(accord, refs))

    # then each costs one call per system, whatever the number of references
    assert page_sf == one_sf == many_sf == {SOQL: 1}
    assert page_ns == one_ns == many_ns == {SUITEQL: 1}
    # and every reference is answered, in order, with both systems' fields
    assert "errors" not in body
    got = body["data"]["_entities"]
    assert [e["id"] for e in got] == [f"cus:{c.key}" for c in customers]
    assert [e["salesforceId"] for e in got] == [c.sf_account_id for c in customers]
    assert [e["erpId"] for e in got] == [str(c.ns_id) for c in customers]
    assert all(e["__typename"] == "Customer" and e["credit"]["status"] for e in got)


@pytest.mark.parametrize("key", ["salesforceId", "erpId"])
def test_references_by_the_other_keys_are_batched_too(
    accord: AccordServer,
    world: World,
    sf_control: SandboxControl,
    ns_control: SandboxControl,
    key: str,
) -> None:
    customers = linked(world, 30)
    values = {c.key: c.sf_account_id if key == "salesforceId" else str(c.ns_id) for c in customers}
    refs = [{"__typename": "Customer", key: values[c.key]} for c in customers]

    sf, ns, body = cost(sf_control, ns_control, lambda: entities(accord, refs))

    # the system that holds that key is read once, then the other by the keys it gave
    assert sf == {SOQL: 1}
    assert ns == {SUITEQL: 1}
    assert "errors" not in body
    assert [e["id"] for e in body["data"]["_entities"]] == [f"cus:{c.key}" for c in customers]


def test_orders_invoices_and_payments_are_one_call_each(
    accord: AccordServer, world: World, sf_control: SandboxControl, ns_control: SandboxControl
) -> None:
    owners = [c for c in linked(world, 200) if c.sales_orders and c.invoices and c.payments]
    chosen = owners[:15]
    refs: list[dict[str, str]] = []
    for c in chosen:
        refs.append({"__typename": "Order", "id": f"ord:{c.sales_orders[0].ns_id}"})
        refs.append({"__typename": "Invoice", "id": f"inv:{c.invoices[0].ns_id}"})
        refs.append({"__typename": "Payment", "id": f"pay:{c.payments[0].ns_id}"})

    sf, ns, body = cost(sf_control, ns_control, lambda: entities(accord, refs))

    assert sf == {}
    assert ns == {SUITEQL: 3}  # orders, invoices, payments: one SuiteQL each
    assert "errors" not in body
    got = body["data"]["_entities"]
    assert [(e["__typename"], e["id"]) for e in got] == [
        (ref["__typename"], ref["id"]) for ref in refs
    ]
    assert [e["number"] for e in got[0::3]] == [c.sales_orders[0].tran_id for c in chosen]


def test_unreadable_references_are_null_with_their_own_error(
    accord: AccordServer, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    customer = linked(world, 1)[0]
    refs: list[Any] = [
        {"__typename": "Customer", "id": "not-an-id"},
        {"__typename": "Ticket", "id": "tkt-1"},
        {"id": f"cus:{customer.key}"},
        {"__typename": "Customer", "id": 42},
        {"__typename": "Customer"},
        {"__typename": "Order", "id": "inv:1"},
        "Customer",
        {"__typename": "Customer", "id": f"cus:{customer.key}"},
        {"__typename": "Customer", "id": "cus:NO-SUCH-CUSTOMER"},
    ]

    with caplog.at_level(logging.INFO):
        body = entities(accord, refs)

    got = body["data"]["_entities"]
    assert got[:7] == [None] * 7
    assert got[7]["name"] == customer.name
    assert got[8] is None  # no system knows it: null, and no error
    assert errors_at(body) == {f"_entities.{i}": ("BAD_USER_INPUT", None) for i in range(7)}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_more_references_than_a_page_are_refused(accord: AccordServer, world: World) -> None:
    customer = linked(world, 1)[0]
    refs = [{"__typename": "Customer", "id": f"cus:{customer.key}"}] * 501

    body = entities(accord, refs)

    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert "at most 500" in body["errors"][0]["message"]


@pytest.fixture
def fresh_accord(sandbox: Endpoints) -> Iterator[AccordServer]:
    """An Accord of its own, so breakers opened here do not reach other tests."""
    # the faults here are outages, answered at once: the timeout only bounds the healthy
    # system's answers, which a loaded machine can slow to a second
    policy = ResiliencePolicy(timeout=3.0, max_attempts=2, backoff_base=0.01, backoff_max=0.02)
    with AccordServer(sandbox, policy, cache=False) as server:
        yield server


def test_an_erp_outage_nulls_its_fields_at_each_entity(
    fresh_accord: AccordServer, world: World, ns_control: SandboxControl
) -> None:
    customers = linked(world, 3)
    refs = [{"__typename": "Customer", "id": f"cus:{c.key}"} for c in customers]
    query = """query($refs: [_Any!]!) { _entities(representations: $refs) {
        ... on Customer { name credit { status } } } }"""
    ns_control.fault(pattern="/services/rest/*", outage=True)

    body = entities(fresh_accord, refs, query)

    assert [e["name"] for e in body["data"]["_entities"]] == [c.name for c in customers]
    assert [e["credit"] for e in body["data"]["_entities"]] == [None] * 3
    assert errors_at(body) == {
        f"_entities.{i}.credit": ("SOURCE_UNAVAILABLE", "netsuite") for i in range(3)
    }


def test_a_reference_only_the_failed_system_can_resolve_is_null_with_its_error(
    fresh_accord: AccordServer, world: World, sf_control: SandboxControl
) -> None:
    customer = linked(world, 1)[0]
    refs = [
        {"__typename": "Customer", "salesforceId": customer.sf_account_id},
        {"__typename": "Customer", "erpId": str(customer.ns_id)},
    ]
    query = """query($refs: [_Any!]!) { _entities(representations: $refs) {
        ... on Customer { erpId name } } }"""
    sf_control.fault(pattern="/services/data/*", outage=True)

    body = entities(fresh_accord, refs, query)

    by_salesforce, by_erp = body["data"]["_entities"]
    assert by_salesforce is None
    assert by_erp == {"erpId": str(customer.ns_id), "name": None}
    assert errors_at(body) == {
        "_entities.0": ("SOURCE_UNAVAILABLE", "salesforce"),
        "_entities.1.name": ("SOURCE_UNAVAILABLE", "salesforce"),
    }
