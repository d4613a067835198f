"""Accord behind a real gateway: Hive Gateway (node) on the committed supergraph joins Accord's
customers with the ticket subgraph, batches entity references, and passes the caller's
credentials on to Accord, whose rules still decide."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.endpoints import Endpoints
from sandbox.world import Customer, World
from sources.resilience import ResiliencePolicy
from tests.accord import AccordServer
from tests.conftest import SandboxControl
from tests.federation.stack import Gateway, TicketsServer
from tests.federation.tickets import Desk

SUITEQL = "POST /services/rest/query/v1/suiteql"
SOQL = "GET /services/data/v59.0/query"
CUSTOMERS = 12  # with tickets: customer i has i % 3 + 1 of them

TICKETS_WITH_CREDIT = """{ tickets(first: 20) {
  id subject
  customer { id name credit { balance { amount currency } status } }
} }"""


def linked(world: World) -> list[Customer]:
    return [c for c in world.customers if c.key and c.sf_account_id and c.ns_id][:CUSTOMERS]


@pytest.fixture(scope="module")
def desk(world: World) -> Desk:
    return Desk.for_customers([f"cus:{c.key}" for c in linked(world)])


@pytest.fixture(scope="module")
def tickets(desk: Desk) -> Iterator[TicketsServer]:
    with TicketsServer(desk) as server:
        yield server


@pytest.fixture(scope="module")
def accord(sandbox: Endpoints) -> Iterator[AccordServer]:
    """Accord without its read cache, so the gateway's every read reaches the systems."""
    with AccordServer(sandbox, cache=False) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    accord: AccordServer, tickets: TicketsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    log = tmp_path_factory.mktemp("gateway") / "hive-gateway.log"
    with Gateway(accord.url, tickets.url, log) as running:
        yield running


def test_a_query_joins_tickets_with_accords_credit_in_one_batch(
    gateway: Gateway,
    world: World,
    desk: Desk,
    sf_control: SandboxControl,
    ns_control: SandboxControl,
) -> None:
    by_id = {f"cus:{c.key}": c for c in linked(world)}

    body = gateway.graphql(TICKETS_WITH_CREDIT, key="demo-finance")

    assert "errors" not in body, body
    got = body["data"]["tickets"]
    assert [t["id"] for t in got] == [t.id for t in desk.tickets[:20]]
    for ticket, record in zip(got, desk.tickets, strict=False):
        customer = by_id[record.customer_id]
        assert ticket["customer"]["id"] == record.customer_id
        assert ticket["customer"]["name"] == customer.name
        assert ticket["customer"]["credit"]["balance"]["currency"] == customer.currency
        assert ticket["customer"]["credit"]["status"]
    # the gateway sent Accord every customer of the page at once: one call per system
    assert len({t["customer"]["id"] for t in got}) > 5
    assert sf_control.stats()["by_endpoint"] == {SOQL: 1}
    assert ns_control.stats()["by_endpoint"] == {SUITEQL: 1}


def test_accords_customers_get_their_tickets_in_one_batch(gateway: Gateway, desk: Desk) -> None:
    desk.reference_batches.clear()

    body = gateway.graphql("{ customers(first: 8) { nodes { id name tickets { id } } } }")

    assert "errors" not in body, body
    nodes = body["data"]["customers"]["nodes"]
    assert len(nodes) == 8
    assert sum(len(node["tickets"]) for node in nodes) >= 8
    for node in nodes:
        assert [t["id"] for t in node["tickets"]] == [
            t.id for t in desk.tickets if t.customer_id == node["id"]
        ]
    assert desk.reference_batches == [8]  # one _entities call to the ticket subgraph


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (None, "UNAUTHENTICATED"),
        ("demo-analytics", "FORBIDDEN"),
        ("not-a-key-of-ours", "UNAUTHENTICATED"),
    ],
)
def test_accord_decides_who_reads_what_behind_the_gateway(
    gateway: Gateway, key: str | None, code: str
) -> None:
    body = gateway.graphql("{ workflows(first: 1) { totalCount } }", key=key)

    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert body["errors"][0]["path"] == ["workflows"]


def test_a_caller_with_the_role_reads_through_the_gateway(gateway: Gateway) -> None:
    body = gateway.graphql("{ workflows(first: 1) { totalCount } }", key="demo-ops")

    assert "errors" not in body, body
    assert "workflows" in body["data"]


def test_a_write_the_callers_role_may_not_make_is_refused_and_nothing_is_posted(
    gateway: Gateway, world: World, ns_control: SandboxControl
) -> None:
    customer = linked(world)[0]
    mutation = f"""mutation {{ setCreditHold(input: {{
        idempotencyKey: "gateway-hold-1", customerId: "cus:{customer.key}", hold: ON,
        reason: "through the gateway" }}) {{ errors {{ code }} }} }}"""

    body = gateway.graphql(mutation, key="demo-sales")

    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert not [
        e
        for e in ns_control.stats()["by_endpoint"]
        if not e.startswith("POST /services/rest/query")
    ]


def test_field_rules_hold_behind_the_gateway(gateway: Gateway) -> None:
    # an anonymous caller reads names and tickets, never the confidential credit figures
    body = gateway.graphql("{ tickets(first: 3) { id customer { name credit { status } } } }")

    got = body["data"]["tickets"]
    assert all(t["customer"]["name"] and t["customer"]["credit"] is None for t in got)
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN_FIELD"}


@pytest.fixture
def outage_stack(sandbox: Endpoints, tickets: TicketsServer, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway in front of an Accord of its own, so breakers opened here stay here."""
    # the faults here are outages, answered at once: the timeout only bounds the healthy
    # system's answers, which a loaded machine can slow to a second
    policy = ResiliencePolicy(timeout=3.0, max_attempts=2, backoff_base=0.01, backoff_max=0.02)
    with (
        AccordServer(sandbox, policy, cache=False) as accord,
        Gateway(accord.url, tickets.url, tmp_path / "hive-gateway.log") as running,
    ):
        yield running


def test_an_erp_outage_behind_the_gateway_keeps_the_tickets_and_the_typed_errors(
    outage_stack: Gateway, ns_control: SandboxControl, desk: Desk
) -> None:
    ns_control.fault(pattern="/services/rest/*", outage=True)

    body = outage_stack.graphql(
        "{ tickets(first: 6) { id customer { id name credit { status } } } }", key="demo-finance"
    )

    got = body["data"]["tickets"]
    assert [t["id"] for t in got] == [t.id for t in desk.tickets[:6]]
    assert all(t["customer"]["name"] and t["customer"]["credit"] is None for t in got)
    errors = body["errors"]
    assert {e["extensions"]["code"] for e in errors} == {"SOURCE_UNAVAILABLE"}
    assert {e["extensions"]["source"] for e in errors} == {"netsuite"}
    # at the entity's field; which ticket's index the gateway names is the gateway's choice
    # (Accord's own paths, _entities.<i>.credit, are checked in tests/resolvers)
    assert {(e["path"][0], *e["path"][2:]) for e in errors} == {("tickets", "customer", "credit")}
