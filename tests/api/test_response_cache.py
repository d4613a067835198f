"""Answers to persisted queries kept whole (api/response_cache.py): served again without
running the query, never across callers who see different fields, and dropped by the same
events and writes that drop the records they were built from, on every replica."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from graphql import ExecutionResult, OperationDefinitionNode, parse

from api.auth import DEMO_KEYS
from api.persisted import sha256
from api.response_cache import ResponseCache, access_of, plan_of
from cache.read_cache import ReadCache
from cache.reads import ReadLog
from domain.ownership import Role
from events.model import Event, EventType, event_id
from sandbox.deals import Deals
from sandbox.endpoints import Endpoints
from schema.build import build_schema
from server import AppOptions, EventOptions
from tests.accord import AccordServer, Emulators
from tests.conftest import SandboxControl
from tests.redis_keys import unique_prefix

SECRET = "a-response-cache-webhook-secret-0123456789"
CREDIT = """query Credit($id: ID) { customer(id: $id) {
  name credit { limit { amount } balance { amount currency } status } } }"""
NAMES = "query Names($id: ID) { customer(id: $id) { id name } }"
SUITEQL = "POST /services/rest/query/v1/suiteql"


def persisted(document: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(document)}}


def ask(
    server: AccordServer,
    document: str,
    variables: dict[str, Any],
    key: str | None = "demo-finance",
    *,
    method: str = "POST",
) -> Any:
    """A persisted query by its hash (registering the document first if the server does not
    know it yet); the HTTP response."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with server.client() as client:
        if method == "GET":
            params = {
                "variables": json.dumps(variables),
                "extensions": json.dumps(persisted(document)),
            }
            response = client.get("/graphql", params=params, headers=headers)
        else:
            body: dict[str, Any] = {"variables": variables, "extensions": persisted(document)}
            response = client.post("/graphql", json=body, headers=headers)
        errors = response.json().get("errors") or []
        if any(e.get("extensions", {}).get("code") == "PERSISTED_QUERY_NOT_FOUND" for e in errors):
            sent = {"query": document, "variables": variables, "extensions": persisted(document)}
            client.post("/graphql", json=sent, headers=headers)
            return ask(server, document, variables, key, method=method)
    return response


def balance_of(response: Any) -> str:
    body = response.json()
    assert "errors" not in body, body
    value: str = body["data"]["customer"]["credit"]["balance"]["amount"]
    return value


def responses_of(server: AccordServer) -> ResponseCache:
    responses: ResponseCache = server.app.state.responses
    return responses


def cache_of(server: AccordServer) -> ReadCache:
    cache: ReadCache = server.app.state.cache
    return cache


def pay(emulators: Emulators, erp_id: str, invoice: str, amount: int) -> str:
    return emulators.ns_create(
        "customerpayment",
        {
            "customer": {"id": erp_id},
            "payment": amount,
            "apply": {"items": [{"doc": {"id": invoice}, "apply": True, "amount": amount}]},
        },
    )


@pytest.fixture
def accord(sandbox: Endpoints) -> Iterator[AccordServer]:
    with AccordServer(sandbox, options=AppOptions(api_keys=DEMO_KEYS)) as server:
        yield server


# ------------------------------------------------------------------ correctness across replicas


def test_a_payment_is_in_the_next_answer_after_its_event_on_every_replica(
    sandbox: Endpoints, redis_url: str, deals: Deals, emulators: Emulators
) -> None:
    # given two replicas sharing Redis; the sandbox's webhooks reach the first only, the
    # second hears of changes over the shared bus
    prefix = unique_prefix()
    events = EventOptions(salesforce_secrets=(SECRET,), erp_secrets=(SECRET,))
    base = AppOptions(api_keys=DEMO_KEYS, redis_url=redis_url, state_prefix=prefix, events=events)
    first_options = dataclasses.replace(base, events=dataclasses.replace(events, sandbox=sandbox))
    customer, erp_id, invoice = deals.customer_with_invoice(1000)
    variables = {"id": customer}
    with (
        AccordServer(sandbox, options=first_options) as one,
        AccordServer(sandbox, options=base) as two,
    ):
        replicas = (one, two)
        # and each has the credit answer kept: asked twice, the second is served whole
        for server in replicas:
            assert balance_of(ask(server, CREDIT, variables)) == "1000.00"
            hits = responses_of(server).hits
            assert balance_of(ask(server, CREDIT, variables)) == "1000.00"
            assert responses_of(server).hits == hits + 1
        invalidated = [cache_of(server).stats.invalidated for server in replicas]

        # when a payment of 400 is posted in the ERP, talking to neither replica
        pay(emulators, erp_id, invoice, 400)

        # then on each replica, the first answer after the event reached it has the new balance
        for server, before in zip(replicas, invalidated, strict=True):
            deadline = time.monotonic() + 10
            while cache_of(server).stats.invalidated == before:
                assert time.monotonic() < deadline, "the payment's event did not arrive"
                time.sleep(0.01)
            assert balance_of(ask(server, CREDIT, variables)) == "600.00"


def test_a_write_through_accord_drops_the_answers_it_changes(
    accord: AccordServer, deals: Deals
) -> None:
    customer, _, invoice = deals.customer_with_invoice(500)
    variables = {"id": customer}
    assert balance_of(ask(accord, CREDIT, variables)) == "500.00"
    assert balance_of(ask(accord, CREDIT, variables)) == "500.00"
    payment = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
      errors { code message } } }"""
    body = accord.graphql(
        payment,
        {
            "input": {
                "idempotencyKey": f"rc-{time.time_ns()}",
                "customerId": customer,
                "amount": "100.00",
                "currency": "EUR",
                "applications": [{"invoiceId": f"inv:{invoice}", "amount": "100.00"}],
            }
        },
    )
    assert body["data"]["recordPayment"]["errors"] == [], body
    assert balance_of(ask(accord, CREDIT, variables)) == "400.00"


# ------------------------------------------------------------------ what is kept, for whom


def test_a_kept_answer_costs_no_upstream_call(
    accord: AccordServer, deals: Deals, ns_control: SandboxControl
) -> None:
    customer, _, _ = deals.customer_with_invoice(300)
    first = ask(accord, CREDIT, {"id": customer})
    ns_control.reset()
    again = ask(accord, CREDIT, {"id": customer})

    assert again.json() == first.json()
    assert ns_control.count(SUITEQL) == 0
    assert responses_of(accord).hits >= 1


def test_roles_that_see_different_fields_never_share_an_answer(
    accord: AccordServer, deals: Deals
) -> None:
    customer, _, _ = deals.customer_with_invoice(300)
    variables = {"id": customer}
    finance = ask(accord, CREDIT, variables, "demo-finance").json()
    hits = responses_of(accord).hits

    # analytics and anonymous callers may not read money: they get their own answers
    analytics = ask(accord, CREDIT, variables, "demo-analytics").json()
    anonymous = ask(accord, CREDIT, variables, None).json()

    assert responses_of(accord).hits == hits
    assert finance["data"]["customer"]["credit"]["balance"]["amount"] == "300.00"
    for other in (analytics, anonymous):
        assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN_FIELD"
        assert other["data"]["customer"]["credit"] is None

    # sales reads exactly what finance reads: the answer is shared
    sales = ask(accord, CREDIT, variables, "demo-sales").json()
    assert sales == finance
    assert responses_of(accord).hits == hits + 1


def test_a_document_sent_as_text_is_not_kept(accord: AccordServer, deals: Deals) -> None:
    customer, _, _ = deals.customer_with_invoice(300)
    for _ in range(2):
        accord.graphql(CREDIT, {"id": customer})
    assert len(responses_of(accord)) == 0


def test_lists_are_not_kept(accord: AccordServer) -> None:
    document = "query Page { customers(first: 2) { nodes { name } } }"
    for _ in range(2):
        assert "errors" not in ask(accord, document, {}).json()
    assert len(responses_of(accord)) == 0


# ------------------------------------------------------------------ Cache-Control over GET


def test_get_of_a_persisted_query_says_how_long_it_may_be_kept(
    accord: AccordServer, deals: Deals
) -> None:
    customer, _, _ = deals.customer_with_invoice(300)
    variables = {"id": customer}

    credit = ask(accord, CREDIT, variables, method="GET")
    names = ask(accord, NAMES, variables, method="GET")
    again = ask(accord, CREDIT, variables, method="GET")

    # money depends on the caller and moves with every payment: private, 30 s at most
    kind, age = credit.headers["Cache-Control"].split(", max-age=")
    assert kind == "private"
    assert 0 < int(age) <= 30
    kind, age = again.headers["Cache-Control"].split(", max-age=")
    assert kind == "private"
    assert int(age) <= 30
    # names and ids are read alike by everyone
    kind, age = names.headers["Cache-Control"].split(", max-age=")
    assert kind == "public"
    assert 0 < int(age) <= 86_400
    assert names.headers["Vary"] == "Accept, Authorization"


def test_post_answers_carry_no_cache_control(accord: AccordServer, deals: Deals) -> None:
    customer, _, _ = deals.customer_with_invoice(300)
    response = ask(accord, CREDIT, {"id": customer})
    assert "Cache-Control" not in response.headers


# ------------------------------------------------------------------ the plan and the store


SCHEMA = build_schema()._schema


def plan(text: str) -> Any:
    document = parse(text)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return plan_of(SCHEMA, document, operation)


def test_the_plan_takes_the_shortest_ttl_class_of_the_fields_selected() -> None:
    credit = plan(CREDIT)
    names = plan(NAMES)
    assert credit.cacheable
    assert credit.ttl == 30  # CreditSummary.balance is VOLATILE
    assert not credit.public
    assert names.cacheable
    assert names.ttl >= 300
    assert names.public


@pytest.mark.parametrize(
    "text",
    [
        "{ customers(first: 2) { nodes { name } } }",
        "query($id: ID!) { workflow(id: $id) { status } }",
        "mutation { __typename }",
        "query($id: ID) { customer(id: $id) { name } workflows { totalCount } }",
        "query { ...Root } fragment Root on Query { __typename }",
    ],
)
def test_lists_state_mutations_and_root_fragments_are_not_cacheable(text: str) -> None:
    assert not plan(text).cacheable


def test_access_is_the_row_of_the_read_rules() -> None:
    assert access_of(Role.SALES) == access_of(Role.FINANCE)
    assert access_of(Role.FINANCE) != access_of(None)
    assert access_of(Role.FINANCE) != access_of(Role.ANALYTICS)
    assert access_of(Role.FINANCE) != access_of(Role.OPS)  # ops reads upstream query text


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_lives_until_its_least_fresh_record_and_goes_with_any_of_them() -> None:
    clock = Clock()
    cache = ResponseCache(clock=clock)
    reads = ReadLog()
    reads.read(("netsuite", "customer", "1"), clock.now + 12)
    reads.read(("salesforce", "account", "001"), clock.now + 300)
    key = cache.key("h", "Credit", {"id": "cus:1"}, Role.FINANCE)
    answer = cache.put(key, ExecutionResult({"x": 1}), plan(CREDIT), reads)

    assert answer is not None
    assert answer.max_age(clock.now) == 12
    assert cache.get(cache.key("h", "Credit", {"id": "cus:1"}, Role.SALES)) is answer
    clock.now += 13
    assert cache.get(key) is None

    cache.put(key, ExecutionResult({"x": 1}), plan(CREDIT), reads)  # read again, fresh
    reads.fresh_until = clock.now + 12
    cache.put(key, ExecutionResult({"x": 1}), plan(CREDIT), reads)
    cache.invalidated([("salesforce", "account", "001")])
    assert cache.get(key) is None


def test_an_answer_is_not_kept_when_its_reads_are_unknown_or_changed_meanwhile() -> None:
    clock = Clock()
    changed = {("netsuite", "customer", "1")}
    cache = ResponseCache(clock=clock, changed_since=lambda targets, _: bool(targets & changed))
    key = cache.key("h", None, {}, Role.FINANCE)

    untracked = ReadLog()
    untracked.read(("netsuite", "customer", "2"), clock.now + 30)
    untracked.read_untracked()
    raced = ReadLog()
    raced.read(("netsuite", "customer", "1"), clock.now + 30)

    assert cache.put(key, ExecutionResult({}), plan(CREDIT), untracked) is None
    assert cache.put(key, ExecutionResult({}), plan(CREDIT), raced) is None
    assert cache.put(key, ExecutionResult({}), plan(CREDIT), ReadLog()) is None  # read nothing
    assert len(cache) == 0


def test_a_replica_that_fell_behind_its_events_drops_every_answer(
    accord: AccordServer, deals: Deals
) -> None:
    customer, _, _ = deals.customer_with_invoice(300)
    ask(accord, CREDIT, {"id": customer})
    assert len(responses_of(accord)) == 1

    cache_of(accord).forget_local()

    assert len(responses_of(accord)) == 0


def test_an_event_for_the_customer_drops_its_answers(accord: AccordServer, deals: Deals) -> None:
    customer, erp_id, _ = deals.customer_with_invoice(300)
    ask(accord, CREDIT, {"id": customer})
    assert len(responses_of(accord)) == 1
    now = dt.datetime.now(dt.UTC)
    event = Event(
        id=event_id("test", f"cus:{erp_id}", now.isoformat(), "x"),
        type=EventType.CUSTOMER_UPDATED,
        source="netsuite",
        subject=customer,
        time=now,
        data={},
        customer=customer,
    )

    accord.call(cache_of(accord).invalidate_event(event))

    assert len(responses_of(accord)) == 0
    assert Decimal(balance_of(ask(accord, CREDIT, {"id": customer}))) == Decimal("300")
