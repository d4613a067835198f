"""/metrics: scraped over real HTTP after real requests against the sandbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.auth import DEMO_KEYS
from api.telemetry import registered_names
from cache import CacheSettings
from cache.entities import ENTITIES
from events.bus import MemoryBus
from events.bus.options import BusOptions
from events.model import Event, EventType
from sandbox.deals import Deals
from sandbox.endpoints import Endpoints
from sandbox.world import World
from server import AppOptions
from sources.resilience import ResiliencePolicy
from telemetry import metrics
from telemetry.labels import BoundedValues
from telemetry.options import TelemetryOptions
from tests.accord import AccordServer
from tests.api import ws_support as ws
from tests.conftest import SandboxControl
from tests.mutations.conftest import accord_for_faults, act, awaiting_approval, key
from tests.mutations.test_customer_writes import HOLD, customer_pair

TOKEN = "scrape-token-0123456789"
CREDIT = """query CreditPanel($sf: ID!) {
  customer(salesforceId: $sf) { name credit { limit { amount } balance { amount } status } }
}"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def observed(sandbox: Endpoints) -> Iterator[AccordServer]:
    options = AppOptions(api_keys=DEMO_KEYS, telemetry=TelemetryOptions(metrics_token=TOKEN))
    with AccordServer(sandbox, options=options) as server:
        yield server


def scrape(server: AccordServer, key: str = "demo-ops") -> Samples:
    with server.client() as client:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    found: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def test_only_the_ops_role_or_the_scrape_token_reads_metrics(observed: AccordServer) -> None:
    with observed.client() as client:
        anonymous = client.get("/metrics")
        sales = client.get("/metrics", headers={"Authorization": "Bearer demo-sales"})
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not-a-key-at-all-xx"})
        ops = client.get("/metrics", headers={"Authorization": "Bearer demo-ops"})
        token = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert sales.status_code == 403
    assert sales.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert wrong.status_code == 401
    assert ops.status_code == token.status_code == 200
    assert "accord_graphql_requests_total" in token.text


def test_the_scrape_token_opens_nothing_else(observed: AccordServer) -> None:
    with observed.client() as client:
        response = client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert response.status_code == 401


def test_a_query_moves_request_upstream_and_cache_counters(
    observed: AccordServer, world: World
) -> None:
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    before = scrape(observed)

    body = observed.graphql(CREDIT, {"sf": customer.sf_account_id})
    assert body["data"]["customer"]["name"] == customer.name
    observed.graphql(CREDIT, {"sf": customer.sf_account_id})  # the second from the cache
    failed = observed.graphql("query Broken { customer(id: 1) { nope } }")
    assert failed["errors"]

    after = scrape(observed)
    ok = {"operation": "CreditPanel", "type": "query", "outcome": "ok"}
    assert (
        value(after, "accord_graphql_requests_total", **ok)
        - value(before, "accord_graphql_requests_total", **ok)
        == 2
    )
    refused = {"operation": "invalid", "type": "unknown", "outcome": "refused"}
    assert (
        value(after, "accord_graphql_requests_total", **refused)
        - value(before, "accord_graphql_requests_total", **refused)
        == 1
    )
    timed = {"operation": "CreditPanel", "type": "query"}
    assert (
        value(after, "accord_graphql_request_duration_seconds_count", **timed)
        - value(before, "accord_graphql_request_duration_seconds_count", **timed)
        == 2
    )
    for system in ("salesforce", "netsuite"):
        moved = total(after, "accord_upstream_requests_total", system=system, status="ok") - total(
            before, "accord_upstream_requests_total", system=system, status="ok"
        )
        assert moved >= 1, system
        assert value(after, "accord_circuit_breaker_state", system=system, state="closed") == 1
        assert value(after, "accord_circuit_breaker_state", system=system, state="open") == 0
    hits = total(after, "accord_cache_lookups_total", result="hit") - total(
        before, "accord_cache_lookups_total", result="hit"
    )
    misses = total(after, "accord_cache_lookups_total", result="miss") - total(
        before, "accord_cache_lookups_total", result="miss"
    )
    assert hits >= 1
    assert misses >= 1
    # The emulator's Sforce-Limit-Info, as simple-salesforce read it.
    used = value(after, "accord_salesforce_api_requests_used")
    limit = value(after, "accord_salesforce_api_requests_limit")
    assert 0 < used <= limit


def test_an_outage_shows_in_status_retries_and_stale_serves(
    sandbox: Endpoints, world: World, ns_control: SandboxControl
) -> None:
    # given an Accord whose cached ERP records go stale at once (kept as last known values)
    short = {entity.name: 0.01 for entity in ENTITIES}
    options = AppOptions(api_keys=DEMO_KEYS, cache=CacheSettings(ttl_overrides=short))
    linked = [c for c in world.customers if c.key and c.sf_account_id and c.ns_id]
    customer, other = linked[0], linked[1]
    with AccordServer(sandbox, options=options) as server:
        server.graphql(CREDIT, {"sf": customer.sf_account_id})
        time.sleep(0.05)
        before = scrape(server)
        ns_control.fault(pattern="/services/rest/*", outage=True)

        # when NetSuite is down: the first customer's credit comes from its stale copy, the
        # second (never read) has none
        stale = server.graphql(CREDIT, {"sf": customer.sf_account_id})
        failed = server.graphql(CREDIT, {"sf": other.sf_account_id})
        after = scrape(server)

    assert stale["data"]["customer"]["credit"] is not None
    assert failed["errors"]
    unavailable = {"system": "netsuite", "status": "SOURCE_UNAVAILABLE"}
    assert (
        total(after, "accord_upstream_requests_total", **unavailable)
        - total(before, "accord_upstream_requests_total", **unavailable)
        >= 2
    )
    retried = total(after, "accord_upstream_retries_total", system="netsuite") - total(
        before, "accord_upstream_retries_total", system="netsuite"
    )
    assert retried >= 1
    assert total(after, "accord_cache_lookups_total", result="stale") > total(
        before, "accord_cache_lookups_total", result="stale"
    )
    assert value(after, "accord_cache_lookups_total", level="source", result="failed") > value(
        before, "accord_cache_lookups_total", level="source", result="failed"
    )
    errors = {"operation": "CreditPanel", "type": "query", "outcome": "errors"}
    assert (
        value(after, "accord_graphql_requests_total", **errors)
        - value(before, "accord_graphql_requests_total", **errors)
        == 1
    )


def test_label_sets_do_not_grow_with_distinct_queries(
    observed: AccordServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An allowance of this test's own (the process's is left as it was for other tests).
    monkeypatch.setattr(metrics, "OPERATION_NAMES", BoundedValues(50))
    # Fill the operation names' allowance, then see no new series however much comes in.
    with observed.client() as client:
        for i in range(metrics.OPERATION_NAMES.limit + 10):
            client.post("/graphql", json={"query": f"query Fill{i} {{ __typename }}"})
        # one of each kind below, so that their (bounded) series exist
        client.post("/graphql", json={"query": '{ customer(id: "cus:nobody") { id } }'})
        client.post("/graphql", json={"query": "{ nope }"})
        settled = series(scrape(observed))
        for i in range(150):
            client.post("/graphql", json={"query": f"query Later{i} {{ __typename }}"})
            client.post(
                "/graphql", json={"query": f'{{ customer(id: "cus:nobody-{i}") {{ id }} }}'}
            )
            client.post("/graphql", json={"query": f"{{ nope{i} }}"})
    after = scrape(observed)
    assert series(after) == settled
    for name, labels in after:
        for label, text in labels:
            assert "nobody" not in text, (name, label)
            assert "Later" not in text, (name, label)
    assert (
        value(after, "accord_graphql_requests_total", operation="other", type="query", outcome="ok")
        >= 150
    )


def series(samples: Samples) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    return {key for key in samples if key[0].startswith("accord_graphql")}


def test_metrics_format_lists_every_family_documented() -> None:
    text = metrics.exposition().decode()
    for name in (
        "accord_graphql_requests_total",
        "accord_graphql_request_duration_seconds",
        "accord_upstream_requests_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text or f"# TYPE {name}" in text


async def test_open_websockets_and_subscriptions_are_gauged(observed: AccordServer) -> None:
    before = await asyncio.to_thread(scrape, observed)
    socket = await ws.connect(observed.url, "demo-finance")
    try:
        subscribe = {"query": "subscription { workflowChanged { workflow { id status } } }"}
        await socket.send(json.dumps({"id": "w", "type": "subscribe", "payload": subscribe}))
        deadline = time.monotonic() + 10
        while True:
            during = await asyncio.to_thread(scrape, observed)
            if value(during, "accord_subscriptions") > value(before, "accord_subscriptions"):
                break
            assert time.monotonic() < deadline, "the subscription was never counted"
            await asyncio.sleep(0.05)
    finally:
        await socket.close()
    assert (
        value(during, "accord_websocket_connections")
        == value(before, "accord_websocket_connections") + 1
    )
    subscription = {"operation": "anonymous", "type": "subscription", "outcome": "ok"}
    assert value(during, "accord_graphql_requests_total", **subscription) >= 1
    deadline = time.monotonic() + 10
    while value(
        after := await asyncio.to_thread(scrape, observed), "accord_websocket_connections"
    ) > value(before, "accord_websocket_connections"):
        assert time.monotonic() < deadline, "a closed connection is still counted"
        await asyncio.sleep(0.05)
    assert value(after, "accord_subscriptions") == value(before, "accord_subscriptions")


def test_a_booking_counts_its_workflow_and_its_events(observed: AccordServer, deals: Deals) -> None:
    before = scrape(observed)

    _, _, workflow = awaiting_approval(observed, deals)
    assert workflow["status"] == "PENDING_APPROVAL"

    # The events go out on the bus and reach its consumers in the background.
    deadline = time.monotonic() + 10
    while True:
        after = scrape(observed)
        delivered = total(after, "accord_events_delivered_total", consumer="propagation") - total(
            before, "accord_events_delivered_total", consumer="propagation"
        )
        if delivered >= 1:
            break
        assert time.monotonic() < deadline, "no event reached the propagation consumer"
        time.sleep(0.05)
    waiting = {"kind": "BOOK_ORDER", "status": "PENDING_APPROVAL"}
    assert (
        value(after, "accord_workflow_transitions_total", **waiting)
        - value(before, "accord_workflow_transitions_total", **waiting)
        == 1
    )
    changed = {"type": "com.accord.workflow.changed"}
    assert value(after, "accord_events_published_total", **changed) > value(
        before, "accord_events_published_total", **changed
    )
    assert total(after, "accord_events_delivered_total", consumer="subscriber") > total(
        before, "accord_events_delivered_total", consumer="subscriber"
    )
    assert value(after, "accord_event_lag_seconds_count", consumer="propagation") > value(
        before, "accord_event_lag_seconds_count", consumer="propagation"
    )
    mutation = {"operation": "anonymous", "type": "mutation", "outcome": "ok"}
    assert (
        value(after, "accord_graphql_requests_total", **mutation)
        - value(before, "accord_graphql_requests_total", **mutation)
        == 1
    )


async def test_a_dead_letter_is_counted_by_its_group() -> None:
    bus = MemoryBus(options=BusOptions(max_deliveries=1, claim_idle=0.05))
    await bus.start()
    before = metrics.REGISTRY.get_sample_value("accord_dead_letters_total", {"group": "failing"})
    event = Event(
        id="evt-metrics-1",
        type=EventType.CUSTOMER_UPDATED,
        source="netsuite",
        subject="cus:CUST-1",
        time=dt.datetime.now(dt.UTC),
        data={},
    )

    async def fail(_: Event) -> None:
        raise RuntimeError("this consumer cannot handle anything")

    stop = asyncio.Event()
    consumer = asyncio.create_task(bus.consume("failing", "c1", fail, stop=stop))
    await bus.publish(event)
    deadline = asyncio.get_running_loop().time() + 5
    while not await bus.dead_letters("failing"):
        assert asyncio.get_running_loop().time() < deadline, "never dead-lettered"
        await asyncio.sleep(0.02)
    stop.set()
    await consumer
    await bus.close()
    after = metrics.REGISTRY.get_sample_value("accord_dead_letters_total", {"group": "failing"})
    assert (after or 0) - (before or 0) == 1


def test_a_write_counts_the_change_received_and_the_events_it_publishes(
    observed: AccordServer, deals: Deals
) -> None:
    customer_id, _, _ = customer_pair(deals)
    before = scrape(observed)

    body = observed.graphql(
        HOLD,
        {
            "input": {
                "idempotencyKey": key(),
                "customerId": customer_id,
                "hold": "ON",
                "reason": "cheque bounced",
            }
        },
        key="demo-finance",
    )
    assert "errors" not in body, body["errors"]
    assert body["data"]["setCreditHold"]["errors"] == []

    after = scrape(observed)
    received = {"source": "netsuite", "kind": "customer"}
    assert value(after, "accord_events_received_total", **received) > value(
        before, "accord_events_received_total", **received
    )
    credit = {"type": "com.accord.credit.status_changed"}
    assert value(after, "accord_events_published_total", **credit) > value(
        before, "accord_events_published_total", **credit
    )


def test_registered_operations_name_their_series() -> None:
    names = registered_names(
        ["query CreditPanel { __typename }", "mutation Book { __typename } query Two { a }", "{"]
    )
    assert names == {"CreditPanel", "Book", "Two"}


def test_a_workflow_on_the_dead_letter_list_is_counted_and_gauged(
    sandbox: Endpoints, deals: Deals, ns_control: SandboxControl
) -> None:
    with accord_for_faults(sandbox, timeout=2.0) as writer:
        before = scrape(writer)
        _, _, pending = awaiting_approval(writer, deals)
        ns_control.fault(pattern="/services/rest/record/v1/salesOrder*", outage=True)

        stopped = act(writer, "approveWorkflow", pending["id"])["workflow"]
        assert stopped["deadLettered"] is True

        after = scrape(writer)
    assert value(after, "accord_workflow_dead_letters") >= 1
    assert (
        value(after, "accord_dead_letters_total", group="workflows")
        - value(before, "accord_dead_letters_total", group="workflows")
        == 1
    )
    stopped_here = {"kind": "BOOK_ORDER", "status": "EXCEPTION"}
    assert (
        value(after, "accord_workflow_transitions_total", **stopped_here)
        - value(before, "accord_workflow_transitions_total", **stopped_here)
        == 1
    )


def test_waits_for_a_concurrency_slot_are_timed(
    sandbox: Endpoints, world: World, ns_control: SandboxControl
) -> None:
    # given one NetSuite call at a time in this process, and NetSuite answering slowly
    policy = ResiliencePolicy(timeout=5.0, max_attempts=1, max_concurrency=1)
    linked = [c for c in world.customers if c.key and c.sf_account_id and c.ns_id][:4]
    ns_control.fault(pattern="/services/rest/*", latency_ms=150)
    with AccordServer(sandbox, policy, cache=False) as server:
        before = scrape(server)

        # when four callers ask at once
        def ask(sf: str | None) -> None:
            assert server.graphql(CREDIT, {"sf": sf})["data"]["customer"]["credit"] is not None

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(ask, [c.sf_account_id for c in linked]))
        after = scrape(server)

    # then the calls that queued for the process's slot were timed, and every NetSuite request
    # took a slot of the account's budget
    waited = {"system": "netsuite", "limit": "process"}
    name = "accord_upstream_concurrency_wait_seconds_count"
    assert value(after, name, **waited) - value(before, name, **waited) >= 1
    account = {"system": "netsuite", "limit": "account"}
    assert value(after, name, **account) - value(before, name, **account) >= 4
    slow = {"system": "netsuite", "limit": "process", "le": "0.1"}
    bucket = "accord_upstream_concurrency_wait_seconds_bucket"
    fast = value(after, bucket, **slow) - value(before, bucket, **slow)
    assert value(after, name, **waited) - value(before, name, **waited) > fast  # some > 0.1 s


def test_every_metric_exported_is_documented_and_every_documented_one_exported(
    observed: AccordServer, world: World
) -> None:
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    observed.graphql(CREDIT, {"sf": customer.sf_account_id})  # so the allowance is known
    with observed.client() as client:
        text = client.get("/metrics", headers={"Authorization": "Bearer demo-ops"}).text
    exported = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE accord_")}
    page = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    rows = [line.split("|")[1] for line in page.splitlines() if line.startswith("| `accord_")]
    documented = {name for row in rows for name in re.findall(r"`(accord_[a-z_]+)`", row)}
    # the text format names a counter's family without its _total suffix
    assert {name.removesuffix("_total") for name in documented} == {
        name.removesuffix("_total") for name in exported
    }
