"""When one system is down or slow, its fields are null with typed errors and the other
system's fields still arrive; the HTTP answer is never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.endpoints import Endpoints
from sandbox.world import World
from sources.resilience import ResiliencePolicy
from tests.accord import AccordServer
from tests.conftest import SandboxControl

QUERY = """query($sf: ID!) { customer(salesforceId: $sf) {
  name industry billingAddress { city }
  credit { balance { amount } status } currency
} }"""


@pytest.fixture
def fresh_accord(sandbox: Endpoints) -> Iterator[AccordServer]:
    """An Accord of its own, so breakers opened here do not reach other tests."""
    # a healthy answer fits the timeout even on a loaded machine; a slowed one (6 s) does not
    policy = ResiliencePolicy(timeout=2.0, max_attempts=2, backoff_base=0.01, backoff_max=0.02)
    with AccordServer(sandbox, policy) as server:
        yield server


def codes(body: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (".".join(map(str, e["path"])), e["extensions"]["code"], e["extensions"]["source"])
        for e in body.get("errors", [])
    }


def test_erp_outage_keeps_crm_fields(
    fresh_accord: AccordServer, ns_control: SandboxControl, world: World
) -> None:
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    ns_control.fault(pattern="/services/rest/*", outage=True)

    body = fresh_accord.graphql(QUERY, {"sf": customer.sf_account_id})

    node = body["data"]["customer"]
    assert node["name"] == customer.name
    assert node["billingAddress"]["city"] == customer.address.city
    assert node["credit"] is None
    assert node["currency"] is None
    assert codes(body) == {
        ("customer.credit", "SOURCE_UNAVAILABLE", "netsuite"),
        ("customer.currency", "SOURCE_UNAVAILABLE", "netsuite"),
    }


def test_crm_outage_keeps_erp_fields_in_lists(
    fresh_accord: AccordServer, sf_control: SandboxControl
) -> None:
    sf_control.fault(pattern="/services/data/*", outage=True)

    body = fresh_accord.graphql(
        "{ customers(first: 5) { nodes { erpId name credit { status } } } }"
    )

    nodes = body["data"]["customers"]["nodes"]
    assert len(nodes) == 5
    assert all(n["erpId"] and n["credit"]["status"] for n in nodes)
    assert all(n["name"] is None for n in nodes)
    assert {code for _, code, _ in codes(body)} == {"SOURCE_UNAVAILABLE"}
    assert {source for _, _, source in codes(body)} == {"salesforce"}
    assert len(body["errors"]) == 5


def test_slow_erp_times_out_as_its_own_code(
    fresh_accord: AccordServer, ns_control: SandboxControl, world: World
) -> None:
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    ns_control.fault(pattern="/services/rest/query/*", latency_ms=6000)

    body = fresh_accord.graphql(QUERY, {"sf": customer.sf_account_id})

    assert body["data"]["customer"]["name"] == customer.name
    assert {code for _, code, _ in codes(body)} == {"SOURCE_TIMEOUT"}


def test_lookup_through_a_down_system_is_null_with_the_error(
    fresh_accord: AccordServer, sf_control: SandboxControl, world: World
) -> None:
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    sf_control.fault(pattern="/services/data/*", outage=True)

    by_sf = fresh_accord.graphql(QUERY, {"sf": customer.sf_account_id})
    by_key = fresh_accord.graphql(
        f'{{ customer(id: "cus:{customer.key}") {{ erpId name credit {{ status }} }} }}'
    )

    # the account id can only be resolved by the CRM: the customer itself is null
    assert by_sf["data"]["customer"] is None
    assert codes(by_sf) == {("customer", "SOURCE_UNAVAILABLE", "salesforce")}
    # by key, the ERP still knows the customer: only the CRM's field is missing
    assert by_key["data"]["customer"]["erpId"] == str(customer.ns_id)
    assert by_key["data"]["customer"]["name"] is None
    assert codes(by_key) == {("customer.name", "SOURCE_UNAVAILABLE", "salesforce")}


def test_upstream_garbage_and_readiness(
    fresh_accord: AccordServer, ns_control: SandboxControl
) -> None:
    ns_control.fault(pattern="/services/rest/query/*", garbage=True)

    body = fresh_accord.graphql("{ customers(first: 2) { nodes { erpId } } }")
    with fresh_accord.client() as client:
        ready = client.get("/readyz")
        alive = client.get("/healthz")

    assert body["data"] is None or body["data"]["customers"] is None
    assert {code for _, code, _ in codes(body)} == {"SOURCE_BAD_RESPONSE"}
    assert alive.status_code == 200
    assert ready.status_code == 503
    sources = {s["source"]: s for s in ready.json()["sources"]}
    assert sources["netsuite"]["ready"] is False
    assert sources["salesforce"]["ready"] is True


def linked(world: World) -> Any:
    """A customer known to both systems, with invoices and opportunities."""
    return next(
        c
        for c in world.customers
        if c.key and c.sf_account_id and c.ns_id and c.invoices and c.opportunities
    )


def test_a_down_erp_nulls_the_customers_lists_not_the_customer(
    fresh_accord: AccordServer, ns_control: SandboxControl, world: World
) -> None:
    customer = linked(world)
    ns_control.fault(pattern="/services/rest/*", outage=True)

    body = fresh_accord.graphql(
        """query($sf: ID!) {
          customer(salesforceId: $sf) {
            name systems
            orders(first: 2) { totalCount } invoices(first: 2) { totalCount }
            payments(first: 2) { totalCount } opportunities(first: 2) { totalCount }
          }
          invoices(first: 1) { totalCount }
        }""",
        {"sf": customer.sf_account_id},
    )

    node = body["data"]["customer"]
    assert node["name"] == customer.name
    assert node["opportunities"]["totalCount"] == len(customer.opportunities)
    assert node["systems"] is node["orders"] is node["invoices"] is node["payments"] is None
    assert body["data"]["invoices"] is None
    assert codes(body) == {
        (f"customer.{name}", "SOURCE_UNAVAILABLE", "netsuite")
        for name in ("systems", "orders", "invoices", "payments")
    } | {("invoices", "SOURCE_UNAVAILABLE", "netsuite")}


def test_a_down_crm_nulls_the_opportunities_not_the_customer(
    fresh_accord: AccordServer, sf_control: SandboxControl, world: World
) -> None:
    customer = linked(world)
    sf_control.fault(pattern="/services/data/*", outage=True)

    body = fresh_accord.graphql(
        """query($erp: ID!) { customer(erpId: $erp) {
          erpId credit { status } invoices { totalCount } opportunities { totalCount }
        } }""",
        {"erp": str(customer.ns_id)},
    )

    node = body["data"]["customer"]
    assert node["erpId"] == str(customer.ns_id)
    assert node["credit"]["status"]
    assert node["invoices"]["totalCount"] == len(customer.invoices)
    assert node["opportunities"] is None
    assert codes(body) == {("customer.opportunities", "SOURCE_UNAVAILABLE", "salesforce")}


def test_what_fails_below_a_record_read_earlier_is_its_sources_error(
    fresh_accord: AccordServer, ns_control: SandboxControl, world: World
) -> None:
    # Given records Accord read while the ERP answered (now in its read cache): a customer's
    # credit, and an invoice of another customer
    customer = linked(world)
    other = next(c for c in world.customers if c.invoices and c.key and c is not customer)
    invoice = other.invoices[0]
    warm = fresh_accord.graphql(
        """query($sf: ID!, $inv: ID!) {
          customer(salesforceId: $sf) { credit { status } }
          invoice(id: $inv) { number }
        }""",
        {"sf": customer.sf_account_id, "inv": f"inv:{invoice.ns_id}"},
    )
    assert "errors" not in warm

    # When the ERP goes down and a query asks for what was not read then
    ns_control.fault(pattern="/services/rest/*", outage=True)
    body = fresh_accord.graphql(
        """query($sf: ID!, $inv: ID!) {
          customer(salesforceId: $sf) { name paymentTerms { name } }
          invoice(id: $inv) { number lines { sku } customer { id } }
        }""",
        {"sf": customer.sf_account_id, "inv": f"inv:{invoice.ns_id}"},
    )

    # Then those fields are null with the ERP's error, and the rest arrives
    assert body["data"]["customer"]["name"] == customer.name
    assert body["data"]["customer"]["paymentTerms"] is None
    assert body["data"]["invoice"]["number"] == invoice.tran_id
    assert body["data"]["invoice"]["lines"] is None
    # the customer's canonical id needs the ERP's record: no other id stands in for it
    assert body["data"]["invoice"]["customer"] is None
    assert codes(body) == {
        ("customer.paymentTerms", "SOURCE_UNAVAILABLE", "netsuite"),
        ("invoice.lines", "SOURCE_UNAVAILABLE", "netsuite"),
        ("invoice.customer.id", "SOURCE_UNAVAILABLE", "netsuite"),
    }


@pytest.mark.parametrize(
    "listing",
    ['customers(first: 10, filter: {country: "DE"})', "customers(first: 10)"],
    ids=["found-in-the-crm", "found-in-the-erp"],
)
def test_a_failed_read_of_a_pages_documents_nulls_its_lists_not_the_page(
    sandbox: Endpoints, ns_control: SandboxControl, listing: str
) -> None:
    # Given the ERP failing every read of customers' documents, and only those (a page found
    # in the CRM reads them by key beside the customers, one found in the ERP by ERP id after
    # them)
    ns_control.fault(pattern="/services/rest/query/*", body_contains="t.recordtype", outage=True)

    with AccordServer(sandbox, cache=False) as accord:
        body = accord.graphql(
            f"""{{ {listing} {{ nodes {{
              name credit {{ status }}
              orders(first: 2) {{ totalCount }} invoices(first: 2) {{ totalCount }}
              payments(first: 2) {{ totalCount }}
            }} }} }}"""
        )

    # Then each customer's lists are null with the ERP's error, and the rest of it arrives
    nodes = body["data"]["customers"]["nodes"]
    assert len(nodes) == 10
    assert all(node["name"] and node["credit"]["status"] for node in nodes)
    assert all(node["orders"] is node["invoices"] is node["payments"] is None for node in nodes)
    assert codes(body) == {
        (f"customers.nodes.{at}.{name}", "SOURCE_UNAVAILABLE", "netsuite")
        for at in range(10)
        for name in ("orders", "invoices", "payments")
    }
