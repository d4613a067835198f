"""Traces: a span per request, GraphQL operation, DataLoader batch and upstream call,
recorded into an in-memory exporter; the caller's W3C traceparent reaches the Salesforce and
NetSuite emulators with the same trace id, with tracing on or off; the trace id is in the
GraphQL errors of a traced request."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from api.auth import DEMO_KEYS
from sandbox.endpoints import Endpoints
from sandbox.world import World
from server import AppOptions
from telemetry import tracing
from telemetry.context import parse_traceparent
from tests.accord import READER, AccordServer
from tests.conftest import SandboxControl
from tests.redis_keys import unique_prefix

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT}-01"
CREDIT = """query CreditPanel($sf: ID!) {
  customer(salesforceId: $sf) { name credit { status } }
}"""


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    tracing.configure(spans, batch=False)
    yield spans
    tracing.shutdown()


class Answer(NamedTuple):
    status_code: int
    body: dict[str, Any]

    def json(self) -> dict[str, Any]:
        return self.body


def post(
    server: AccordServer, query: str, variables: dict[str, str | None], **headers: str
) -> Answer:
    """POST as a caller in another process would: with the standard library's client, which
    the httpx instrumentation (on while tracing is, in this process too) leaves alone, so
    the traceparent that arrives is the one the test sent."""
    request = urllib.request.Request(
        f"{server.url}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {READER}",
            **headers,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return Answer(response.status, json.loads(response.read()))


def trace_ids(control: SandboxControl) -> set[str]:
    found = set()
    for header in control.traceparents():
        parsed = parse_traceparent(header)
        assert parsed is not None, header
        found.add(parsed[0])
    return found


def test_a_traced_request_has_spans_down_to_each_upstream_call(
    exporter: InMemorySpanExporter,
    sandbox: Endpoints,
    world: World,
    sf_control: SandboxControl,
    ns_control: SandboxControl,
) -> None:
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    with AccordServer(sandbox, cache=False) as server:
        response = post(server, CREDIT, {"sf": customer.sf_account_id}, traceparent=TRACEPARENT)
    assert response.status_code == 200
    assert response.json()["data"]["customer"]["name"] == customer.name

    spans = [
        s for s in exporter.get_finished_spans() if format(s.context.trace_id, "032x") == TRACE_ID
    ]
    by_name = {s.name: s for s in spans}
    server_span = by_name["POST /graphql"]
    assert server_span.kind is SpanKind.SERVER
    assert server_span.parent is not None
    assert format(server_span.parent.span_id, "016x") == PARENT
    operation = by_name["graphql query CreditPanel"]
    assert operation.parent is not None
    assert operation.parent.span_id == server_span.context.span_id
    batches = [s for s in spans if s.name.startswith("dataloader ")]
    assert batches
    upstream = [
        s
        for s in spans
        if s.kind is SpanKind.CLIENT and s.attributes and "accord.system" in s.attributes
    ]
    systems = {s.attributes["accord.system"] for s in upstream if s.attributes}
    assert systems == {"salesforce", "netsuite"}
    # every span of the request belongs to the caller's trace
    assert {s.name for s in spans} >= {"POST /graphql", "graphql query CreditPanel"}

    # The emulators saw the caller's trace id, with the upstream spans as parents.
    assert TRACE_ID in trace_ids(sf_control)
    assert TRACE_ID in trace_ids(ns_control)
    # (the parent each request names is the upstream call's span, or the HTTP client's span
    # under it when the client is instrumented)
    calls = {s.context.span_id for s in upstream}
    under_calls = {s.context.span_id for s in spans if s.parent and s.parent.span_id in calls}
    upstream_ids = {format(span_id, "016x") for span_id in calls | under_calls}
    for control in (sf_control, ns_control):
        sent = [h for h in control.traceparents() if TRACE_ID in h]
        assert sent
        assert all(h.split("-")[2] in upstream_ids for h in sent), sent


def test_with_tracing_off_the_trace_still_reaches_the_emulators(
    sandbox: Endpoints, world: World, sf_control: SandboxControl, ns_control: SandboxControl
) -> None:
    assert not tracing.enabled()
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    with AccordServer(sandbox, cache=False) as server:
        response = post(server, CREDIT, {"sf": customer.sf_account_id}, traceparent=TRACEPARENT)
        assert response.status_code == 200
        untraced = post(server, CREDIT, {"sf": customer.sf_account_id})
        assert untraced.status_code == 200
    assert TRACE_ID in trace_ids(sf_control)
    assert TRACE_ID in trace_ids(ns_control)
    # a request without a traceparent starts a trace of its own
    assert len(trace_ids(sf_control)) >= 2


def test_errors_of_a_traced_request_carry_its_trace_id(
    exporter: InMemorySpanExporter,
    sandbox: Endpoints,
    world: World,
    ns_control: SandboxControl,
) -> None:
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    ns_control.fault(pattern="/services/rest/*", outage=True)
    with AccordServer(sandbox, cache=False) as server:
        outage = post(server, CREDIT, {"sf": customer.sf_account_id}, traceparent=TRACEPARENT)
        invalid = post(server, "{ nope }", {})
    errors = outage.json()["errors"]
    assert errors
    assert {e["extensions"]["traceId"] for e in errors} == {TRACE_ID}
    assert {e["extensions"]["code"] for e in errors} == {"SOURCE_UNAVAILABLE"}
    # tracing on: a request without a traceparent is traced too, under a trace of its own
    [refusal] = invalid.json()["errors"]
    own = refusal["extensions"]["traceId"]
    assert len(own) == 32
    assert own != TRACE_ID
    recorded = {format(s.context.trace_id, "032x") for s in exporter.get_finished_spans()}
    assert own in recorded
    upstream_failures = [
        s
        for s in exporter.get_finished_spans()
        if s.kind is SpanKind.CLIENT
        and s.attributes
        and s.attributes.get("accord.system") == "netsuite"
    ]
    assert upstream_failures
    assert all(not s.status.is_ok for s in upstream_failures)


def test_a_malformed_traceparent_starts_a_new_trace(
    exporter: InMemorySpanExporter, sandbox: Endpoints
) -> None:
    with AccordServer(sandbox) as server:
        answer = post(server, "{ nope }", {}, traceparent="00-not-a-trace-01")
    [error] = answer.json()["errors"]
    assert len(error["extensions"]["traceId"]) == 32


def test_http_requests_and_redis_commands_are_spans_of_the_request(
    exporter: InMemorySpanExporter, sandbox: Endpoints, world: World, redis_url: str
) -> None:
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    options = AppOptions(api_keys=DEMO_KEYS, redis_url=redis_url, state_prefix=unique_prefix())
    with AccordServer(sandbox, options=options) as server:
        response = post(server, CREDIT, {"sf": customer.sf_account_id}, traceparent=TRACEPARENT)
    assert response.status_code == 200

    spans = [
        s for s in exporter.get_finished_spans() if format(s.context.trace_id, "032x") == TRACE_ID
    ]
    by_id = {s.context.span_id: s for s in spans}
    netsuite_calls = {
        s.context.span_id
        for s in spans
        if s.kind is SpanKind.CLIENT
        and s.attributes
        and s.attributes.get("accord.system") == "netsuite"
    }
    # NetSuite's HTTP requests (httpx), each under the upstream call that made it
    http = [s for s in spans if s.parent is not None and s.parent.span_id in netsuite_calls]
    assert http
    assert all(s.kind is SpanKind.CLIENT for s in http)
    # Redis commands (the shared cache's reads), in the same trace
    commands = [s for s in spans if s.attributes and s.attributes.get("db.system") == "redis"]
    assert commands
    assert all(s.parent is not None and s.parent.span_id in by_id for s in commands)


def test_span_names_are_routes_never_the_paths_callers_make_up(
    exporter: InMemorySpanExporter, sandbox: Endpoints
) -> None:
    with AccordServer(sandbox) as server:
        for path in ("/nothing/here/1", "/nothing/here/2"):
            made_up = urllib.request.Request(
                server.url + path, headers={"traceparent": TRACEPARENT}
            )
            with pytest.raises(urllib.error.HTTPError, match="404"):
                urllib.request.urlopen(made_up, timeout=30)
        asset = urllib.request.Request(
            server.url + "/console/assets/console.js", headers={"traceparent": TRACEPARENT}
        )
        urllib.request.urlopen(asset, timeout=30).close()
    names = {
        s.name
        for s in exporter.get_finished_spans()
        if s.kind is SpanKind.SERVER and format(s.context.trace_id, "032x") == TRACE_ID
    }
    assert names == {"GET unmatched", "GET /console/assets"}
