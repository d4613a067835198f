"""The read cache over real HTTP: Accord in front of the sandbox, counted by the emulators' own
stats, with Redis as the shared level where replicas are involved."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import re
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis

from api.auth import DEMO_KEYS
from cache.codec import decode, decode_list
from cache.entities import entity_named
from cache.read_cache import CacheSettings, ReadCache
from events.model import Event, EventType, event_id
from sandbox.endpoints import Endpoints
from server import AppOptions
from tests.accord import READER, AccordServer, Emulators
from tests.conftest import SandboxControl

SUITEQL = "POST /services/rest/query/v1/suiteql"
SOQL = "GET /services/data/v59.0/query"

LIGHTNING = """query($sf: ID!) { customer(salesforceId: $sf) {
  name credit { limit { amount } balance { amount } overdue { amount } status } } }"""
BY_KEY = """query($id: ID!) { customer(id: $id) { name erpId credit { balance { amount } } } }"""
PAY = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  errors { code message } payment { id } } }"""
RENAME = """mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
  errors { code message } customer { id } } }"""


@dataclasses.dataclass
class Fresh:
    """A customer created for one test in both systems, cross-referenced by ``key``."""

    key: str
    account_id: str
    erp_id: str


def fresh_customer(emulators: Emulators, *, in_crm: bool = True) -> Fresh:
    key = f"CACHE-{uuid.uuid4().hex[:10].upper()}"
    emulators.ns_create(
        "customer",
        {
            "companyName": f"Cache Test {key} GmbH",
            "externalId": key,
            "subsidiary": {"id": "3"},
            "currency": {"id": "4"},
            "creditLimit": 100000,
        },
    )
    erp_id = str(emulators.suiteql(f"SELECT id FROM customer WHERE externalid = '{key}'")[0]["id"])
    account_id = ""
    if in_crm:
        account_id = emulators.sf_create(
            "Account",
            {
                "Name": f"Cache Test {key} GmbH",
                "BillingCountryCode": "DE",
                "ERP_Customer_Id__c": key,
            },
        )
    return Fresh(key, account_id, erp_id)


def add_invoice(emulators: Emulators, erp_id: str, amount: int) -> str:
    return emulators.ns_create(
        "invoice",
        {
            "entity": {"id": erp_id},
            "item": {"items": [{"item": {"id": "106"}, "quantity": 1, "rate": amount}]},
        },
    )


def erp_balance(emulators: Emulators, erp_id: str) -> str:
    row = emulators.suiteql(f"SELECT balancesearch FROM customer WHERE id = {erp_id}")[0]
    return f"{Decimal(str(row['balancesearch'])):.2f}"


def balance(body: dict[str, Any]) -> str:
    value: str = body["data"]["customer"]["credit"]["balance"]["amount"]
    return value


def calls(sf: SandboxControl, ns: SandboxControl) -> tuple[int, int]:
    return sf.count(SOQL), ns.count(SUITEQL)


def reset(*controls: SandboxControl) -> None:
    for control in controls:
        control.reset()


def cache_of(server: AccordServer) -> ReadCache:
    cache: ReadCache = server.app.state.cache
    return cache


def publish(server: AccordServer, event: Event) -> list[tuple[str, str, str]]:
    """What the bus subscription does on each replica: drop what the event changed."""
    return server.call(cache_of(server).invalidate_event(event))


def an_event(kind: EventType, subject: str, customer: str, **data: Any) -> Event:
    now = dt.datetime.now(dt.UTC)
    return Event(
        id=event_id("test", subject, now.isoformat(), kind.value),
        type=kind,
        source="netsuite",
        subject=subject,
        time=now,
        data=data,
        customer=customer,
    )


def server_with(sandbox: Endpoints, **options: Any) -> AccordServer:
    cache = options.pop("cache", CacheSettings())
    return AccordServer(sandbox, options=AppOptions(api_keys=DEMO_KEYS, cache=cache, **options))


@pytest.fixture
def accord_cached(sandbox: Endpoints) -> Iterator[AccordServer]:
    """An Accord of its own, so its cache starts cold."""
    with server_with(sandbox) as server:
        yield server


# --------------------------------------------------------------------------- hits and misses


def test_a_warm_read_costs_no_upstream_call(
    accord_cached: AccordServer,
    emulators: Emulators,
    sf_control: SandboxControl,
    ns_control: SandboxControl,
) -> None:
    customer = fresh_customer(emulators)
    reset(sf_control, ns_control)

    cold = accord_cached.graphql(LIGHTNING, {"sf": customer.account_id})
    after_cold = calls(sf_control, ns_control)
    warm = accord_cached.graphql(LIGHTNING, {"sf": customer.account_id})

    assert "errors" not in cold
    assert warm == cold
    assert after_cold == (1, 1)  # the account by id, then the ERP customer by key
    assert calls(sf_control, ns_control) == after_cold
    stats = cache_of(accord_cached).stats
    assert stats.hits >= 2


def test_without_the_cache_every_read_goes_upstream(
    sandbox: Endpoints,
    emulators: Emulators,
    sf_control: SandboxControl,
    ns_control: SandboxControl,
) -> None:
    customer = fresh_customer(emulators)
    with AccordServer(sandbox, cache=False) as uncached:
        assert uncached.app.state.cache is None
        reset(sf_control, ns_control)
        for _ in range(3):
            uncached.graphql(LIGHTNING, {"sf": customer.account_id})
    assert calls(sf_control, ns_control) == (3, 3)


def test_values_expire_after_their_ttl(
    sandbox: Endpoints,
    emulators: Emulators,
    sf_control: SandboxControl,
    ns_control: SandboxControl,
) -> None:
    customer = fresh_customer(emulators)
    # 2 s: both first reads land well within it even on a loaded machine
    short = CacheSettings(ttl_overrides={"account": 2.0, "customer_by_key": 2.0})
    with server_with(sandbox, cache=short) as server:
        reset(sf_control, ns_control)
        server.graphql(LIGHTNING, {"sf": customer.account_id})
        server.graphql(LIGHTNING, {"sf": customer.account_id})
        assert calls(sf_control, ns_control) == (1, 1)

        time.sleep(2.1)
        server.graphql(LIGHTNING, {"sf": customer.account_id})

        assert calls(sf_control, ns_control) == (2, 2)


# --------------------------------------------------------------------------- invalidation


def test_a_payment_event_makes_the_balance_fresh(
    accord_cached: AccordServer, emulators: Emulators, ns_control: SandboxControl
) -> None:
    # given a customer with an invoice of 1,000, read once (so cached)
    customer = fresh_customer(emulators)
    invoice = add_invoice(emulators, customer.erp_id, 1000)
    before = balance(accord_cached.graphql(LIGHTNING, {"sf": customer.account_id}))
    assert before == "1000.00"

    # when the customer pays 400 in the ERP, behind Accord's back
    emulators.ns_create(
        "customerPayment",
        {
            "customer": {"id": customer.erp_id},
            "payment": 400,
            "apply": {"items": [{"doc": {"id": invoice}, "apply": True, "amount": 400}]},
        },
    )
    assert erp_balance(emulators, customer.erp_id) == "600.00"
    # the cached balance is still served until the event arrives
    assert balance(accord_cached.graphql(LIGHTNING, {"sf": customer.account_id})) == "1000.00"
    reset(ns_control)

    dropped = publish(
        accord_cached,
        an_event(
            EventType.PAYMENT_RECEIVED,
            "pay:1",
            f"cus:{customer.key}",
            applications=[{"invoiceId": f"inv:{invoice}", "amount": {"amount": "400.00"}}],
        ),
    )

    # then the next read goes to the ERP and shows the new balance
    assert ("netsuite", "customer_by_key", customer.key) in dropped
    assert balance(accord_cached.graphql(LIGHTNING, {"sf": customer.account_id})) == "600.00"
    assert ns_control.count(SUITEQL) == 1


def test_accord_writes_are_read_back_at_once(
    accord_cached: AccordServer,
    emulators: Emulators,
    sf_control: SandboxControl,
) -> None:
    # given a cached customer with an open invoice
    customer = fresh_customer(emulators)
    invoice = add_invoice(emulators, customer.erp_id, 1000)
    first = accord_cached.graphql(LIGHTNING, {"sf": customer.account_id})
    assert balance(first) == "1000.00"

    # when finance records a payment and sales renames the customer, through Accord
    paid = accord_cached.graphql(
        PAY,
        {
            "input": {
                "idempotencyKey": f"test-{uuid.uuid4()}",
                "customerId": f"cus:{customer.key}",
                "amount": "250.00",
                "currency": "EUR",
                "applications": [{"invoiceId": f"inv:{invoice}", "amount": "250.00"}],
            }
        },
        key="demo-finance",
    )
    renamed = accord_cached.graphql(
        RENAME,
        {
            "input": {
                "idempotencyKey": f"test-{uuid.uuid4()}",
                "id": f"cus:{customer.key}",
                "name": "Renamed By Cache Test GmbH",
            }
        },
        key="demo-sales",
    )
    assert paid["data"]["recordPayment"]["errors"] == []
    assert renamed["data"]["updateCustomer"]["errors"] == []

    # then the next read shows both, well inside the 30 s and 300 s TTLs
    after = accord_cached.graphql(LIGHTNING, {"sf": customer.account_id})
    assert balance(after) == "750.00"
    assert after["data"]["customer"]["name"] == "Renamed By Cache Test GmbH"


def test_a_missing_customer_is_cached_briefly_and_dropped_when_it_is_created(
    accord_cached: AccordServer,
    emulators: Emulators,
    sf_control: SandboxControl,
    ns_control: SandboxControl,
) -> None:
    key = f"CACHE-LATER-{uuid.uuid4().hex[:8].upper()}"
    reset(sf_control, ns_control)

    # an unknown customer, asked for again and again, is one read per system
    for _ in range(5):
        assert accord_cached.graphql(BY_KEY, {"id": f"cus:{key}"})["data"]["customer"] is None
    assert calls(sf_control, ns_control) == (1, 1)

    # once it exists, the negative entry hides it until its event arrives
    emulators.ns_create(
        "customer",
        {"companyName": f"Later {key}", "externalId": key, "subsidiary": {"id": "3"}},
    )
    assert accord_cached.graphql(BY_KEY, {"id": f"cus:{key}"})["data"]["customer"] is None
    publish(accord_cached, an_event(EventType.CUSTOMER_CREATED, f"cus:{key}", f"cus:{key}"))

    found = accord_cached.graphql(BY_KEY, {"id": f"cus:{key}"})["data"]["customer"]
    assert found is not None
    assert found["erpId"]


READER_HEADERS = {"Authorization": f"Bearer {READER}"}


# --------------------------------------------------------------------------- single flight


async def test_a_hundred_concurrent_requests_for_a_missing_customer_make_one_upstream_call(
    accord_cached: AccordServer, ns_control: SandboxControl
) -> None:
    query = '{ customer(erpId: "987654321") { erpId credit { balance { amount } } } }'
    ns_control.reset()
    # the ERP answers slowly, so that all hundred requests arrive while the first one waits
    ns_control.fault(pattern="/services/rest/query/*", latency_ms=400)

    async with httpx.AsyncClient(base_url=accord_cached.url, timeout=30.0) as client:
        responses = await asyncio.gather(
            *(
                client.post("/graphql", json={"query": query}, headers=READER_HEADERS)
                for _ in range(100)
            )
        )

    assert [r.json()["data"] for r in responses] == [{"customer": None}] * 100
    assert ns_control.count(SUITEQL) == 1
    assert cache_of(accord_cached).stats.coalesced > 0


# --------------------------------------------------------------------------- stale on error


def test_stale_values_are_flagged_during_an_outage_and_replaced_after_recovery(
    sandbox: Endpoints,
    emulators: Emulators,
    ns_control: SandboxControl,
) -> None:
    customer = fresh_customer(emulators)
    never_read = fresh_customer(emulators)
    add_invoice(emulators, customer.erp_id, 300)
    short = CacheSettings(ttl_overrides={"customer_by_key": 0.2})
    with server_with(sandbox, cache=short) as server:
        # given a balance read while the ERP was up
        assert balance(server.graphql(LIGHTNING, {"sf": customer.account_id})) == "300.00"

        # when the ERP goes down and the cached value is past its TTL
        ns_control.fault(pattern="/services/rest/*", outage=True)
        time.sleep(0.3)
        during = server.graphql(LIGHTNING, {"sf": customer.account_id})
        unknown = server.graphql(LIGHTNING, {"sf": never_read.account_id})

        # then the last known value is served, flagged with its age
        assert "errors" not in during
        assert balance(during) == "300.00"
        [stale] = during["extensions"]["stale"]
        assert (stale["source"], stale["entity"], stale["key"]) == (
            "netsuite",
            "customer_by_key",
            customer.key,
        )
        assert stale["ageSeconds"] >= 0.2
        assert stale["error"] == "SOURCE_UNAVAILABLE"
        assert "CreditSummary.balance" in stale["fields"]
        # and a customer with no copy fails as it would without a cache
        assert unknown["data"]["customer"]["name"]
        assert unknown["data"]["customer"]["credit"] is None
        assert unknown["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
        assert "stale" not in unknown["extensions"]

        # when the ERP is back (and its breaker lets calls through), the value is fresh again
        ns_control.reset()
        add_invoice(emulators, customer.erp_id, 50)
        deadline = time.monotonic() + 30  # bounds a hang only
        while True:
            after = server.graphql(LIGHTNING, {"sf": customer.account_id})
            if "stale" not in after["extensions"] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert "stale" not in after["extensions"]
        assert "errors" not in after
        assert balance(after) == "350.00"


# --------------------------------------------------------------------------- replicas


def test_a_second_replica_reads_the_shared_level_without_upstream_calls(
    sandbox: Endpoints,
    emulators: Emulators,
    redis_url: str,
    prefix: str,
    sf_control: SandboxControl,
    ns_control: SandboxControl,
) -> None:
    customer = fresh_customer(emulators)
    options = {"redis_url": redis_url, "state_prefix": prefix}
    with server_with(sandbox, **options) as one, server_with(sandbox, **options) as two:
        first = one.graphql(LIGHTNING, {"sf": customer.account_id})
        reset(sf_control, ns_control)

        second = two.graphql(LIGHTNING, {"sf": customer.account_id})

        assert second == first
        assert calls(sf_control, ns_control) == (0, 0)
        assert cache_of(two).stats.redis_hits == 2

        # an event on each replica drops the shared entry and each one's own
        event = an_event(EventType.CUSTOMER_UPDATED, f"cus:{customer.key}", f"cus:{customer.key}")
        publish(one, event)
        publish(two, event)
        two.graphql(LIGHTNING, {"sf": customer.account_id})
        assert calls(sf_control, ns_control) == (1, 1)


# --------------------------------------------------------------------------- caller safety

KEY_PATTERN = re.compile(
    r"^(?P<prefix>.*)cache:(?P<source>salesforce|netsuite):(?P<entity>[a-z_]+):v\d+\.\d+\.[0-9a-f]{8}:(?P<key>.+)$"
)


def test_no_callers_view_is_served_to_another(
    sandbox: Endpoints, emulators: Emulators, redis_url: str, prefix: str
) -> None:
    customer = fresh_customer(emulators)
    options = {"redis_url": redis_url, "state_prefix": prefix, "anonymous_reads": False}
    with server_with(sandbox, **options) as server:
        # given a cache made warm by an authorised caller
        finance = server.graphql(LIGHTNING, {"sf": customer.account_id}, key="demo-finance")
        assert finance["data"]["customer"]["credit"]["balance"]

        # an anonymous caller is still refused, and so is an unknown key
        with server.client() as client:
            anonymous = client.post(
                "/graphql", json={"query": LIGHTNING, "variables": {"sf": customer.account_id}}
            )
            unknown = client.post(
                "/graphql",
                json={"query": LIGHTNING, "variables": {"sf": customer.account_id}},
                headers={"Authorization": "Bearer not-a-known-key-at-all"},
            )
        assert anonymous.status_code == unknown.status_code == 401
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "data" not in anonymous.json()

        # each role gets the answer computed for it: the audit trail is for ops only
        audit = "{ auditTrail(first: 1) { nodes { action } } }"
        assert "errors" not in server.graphql(audit, key="demo-ops")
        refused = server.graphql(audit, key="demo-sales")
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

        # and the shared level holds source records only, keyed by source, entity and key
        entries = shared_entries(redis_url, prefix)
        assert entries
        for name, payload in entries.items():
            match = KEY_PATTERN.match(name)
            assert match is not None, name
            entity = entity_named(match["entity"])
            value = json.loads(payload)["v"]
            if value is not None:
                decoded: object = (
                    decode_list(entity.record, value)
                    if entity.many
                    else decode(entity.record, value)
                )
                assert decoded
            assert "demo-finance" not in payload.decode()


def shared_entries(redis_url: str, prefix: str) -> dict[str, bytes]:
    """Every cache entry under ``prefix`` in Redis, by key."""
    client: redis.Redis = redis.Redis.from_url(redis_url)
    try:
        names = [k.decode() for k in client.scan_iter(match=f"{prefix}cache:*", count=500)]
        return {name: bytes(client.get(name) or b"null") for name in names}  # type: ignore[arg-type]
    finally:
        client.close()
