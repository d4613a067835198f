"""Bounded cost on every way in: the same limits over HTTP, WebSocket and server-sent events,
analysis that no document can stretch, costs refused before any upstream call, budgets per
caller, and connection and subscription slots per caller."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from api.auth import DEMO_KEYS
from api.callers import CallerLimits
from api.exposure import Exposure
from bench.harness import AccordProcess
from sandbox.endpoints import Endpoints
from server import AppOptions
from tests.accord import AccordServer
from tests.api.ws_support import PROTOCOL, closed_with, connect, next_message, run
from tests.conftest import SandboxControl
from tests.redis_keys import unique_prefix
from tests.workers import WorkersAccord

EXPENSIVE = "{ customers(first: 500) { nodes { invoices(first: 500) { nodes { number } } } } }"
PAYMENTS = "subscription { paymentReceived { event { id } } }"


def codes(errors: list[dict[str, Any]]) -> list[str]:
    return [error["extensions"]["code"] for error in errors]


def fragment_chain(links: int, body: str) -> str:
    name = f"Attack{uuid.uuid4().hex}"  # never cached: each one is analysed afresh
    parts = ["fragment F0 on Customer { id name }"]
    parts += [
        f"fragment F{i} on Customer {{ {body.format(p=i - 1)} }}" for i in range(1, links + 1)
    ]
    return f"query {name} {{ customers(first: 1) {{ nodes {{ ...F{links} }} }} }} " + " ".join(
        parts
    )


def attacks() -> list[str]:
    """Documents built to make analysis expensive, each new."""
    tag = uuid.uuid4().hex
    return [
        # each fragment spreads the previous one twice: 2^40 paths, one customer's fields
        fragment_chain(40, "...F{p} ...F{p}"),
        # each fragment's aliases spread the previous one: 2^40 aliases
        fragment_chain(40, "a: customer {{ ...F{p} }} b: customer {{ ...F{p} }}"),
        # one field 500 times: validation would compare every pair
        f"query Q{tag} {{ "
        + " ".join("customers(first: 1) { totalCount }" for _ in range(500))
        + " }",
        # 1,600 aliases
        f"query A{tag} {{ " + " ".join(f"a{i}: __typename" for i in range(1600)) + " }",
        # nearly a megabyte of comment around a small query
        f"# {tag}\n# " + "x" * 900_000 + "\n{ __typename }",
    ]


# The health probe runs in a process of its own, so that what it measures is Accord's answer
# time, not the test process's own threads (in-process servers of other tests included).
PROBE = """
import json, sys, threading, time
import httpx
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
latencies = []
with httpx.Client(base_url=sys.argv[1], timeout=10) as client:
    client.get("/healthz")
    print("ready", flush=True)
    while not done.is_set() or len(latencies) < 10:
        started = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        latencies.append(time.perf_counter() - started)
        time.sleep(0.005)
print(json.dumps(latencies), flush=True)
"""


def probe_while(url: str, attack: list[bytes]) -> tuple[list[httpx.Response], list[float]]:
    """Send every body of ``attack`` at once, each on a client of its own, while another
    process asks ``/healthz`` every 5 ms; the answers, and the health probe's latencies."""
    clients = [httpx.Client(base_url=url, timeout=60) for _ in attack]  # ready beforehand
    answers: list[httpx.Response] = []
    prober = subprocess.Popen(
        [sys.executable, "-c", PROBE, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert prober.stdin is not None
    assert prober.stdout is not None
    assert prober.stdout.readline().strip() == "ready"

    def send(client: httpx.Client, body: bytes) -> None:
        headers = {"content-type": "application/json", "authorization": "Bearer demo-ops"}
        answers.append(client.post("/graphql", content=body, headers=headers))

    senders = [
        threading.Thread(target=send, args=pair) for pair in zip(clients, attack, strict=True)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    prober.stdin.close()  # the attack is over: the probe reports
    latencies: list[float] = json.loads(prober.stdout.readline())
    prober.wait(10)
    for client in clients:
        client.close()
    return answers, latencies


def test_documents_built_to_stretch_analysis_leave_the_server_responsive(
    sandbox: Endpoints, tmp_path: Path
) -> None:
    # Given Accord in a process of its own, as it runs in production
    endpoints_file = tmp_path / "sandbox.json"
    sandbox.write(endpoints_file)
    with AccordProcess(endpoints_file, {"ACCORD_POLL_SECONDS": "0"}) as accord:
        # when twenty documents built to stretch the analysis arrive at once
        bodies = [json.dumps({"query": d}).encode() for _ in range(4) for d in attacks()]
        answers, latencies = probe_while(accord.url, bodies)

    # then the health probe kept being answered all along. A loop held by the analysis stalls
    # every probe behind it for seconds (hours for the fragment chain), so the bounds sit an
    # order of magnitude above what a loaded 2-core machine's scheduler adds to a quick answer
    # (tens, at worst hundreds, of milliseconds) and an order below that failure.
    ordered = sorted(latencies)
    assert ordered[int(len(ordered) * 0.95) - 1] < 0.5, ordered[-10:]
    assert ordered[-1] < 2.0, ordered[-10:]
    # and each document got a clean answer: data, or the limit it broke
    refused = set()
    for response in answers:
        assert response.status_code == 200, response.text
        body = response.json()
        if "errors" in body:
            refused.update(codes(body["errors"]))
        else:
            assert body["data"]
    assert len(answers) == 20
    assert refused == {"ALIAS_LIMIT_EXCEEDED", "DEPTH_LIMIT_EXCEEDED", "REPEAT_LIMIT_EXCEEDED"}


def test_bad_credentials_cost_no_parsing(accord: AccordServer) -> None:
    document = f"{{ broken{uuid.uuid4().hex} "  # not even a document
    with accord.client() as client:
        refused = client.post(
            "/graphql", json={"query": document}, headers={"Authorization": "Bearer nobody"}
        )
        assert accord.app.state.pipeline.cached(document) is None
        anonymous = client.post("/graphql", json={"query": document})

    assert refused.status_code == 401
    assert codes(refused.json()["errors"]) == ["UNAUTHENTICATED"]
    # the same document from a caller Accord serves is parsed (and refused as a syntax error)
    assert codes(anonymous.json()["errors"]) == ["GRAPHQL_VALIDATION_FAILED"]
    assert accord.app.state.pipeline.cached(document) is not None


def test_an_operation_over_the_cost_limit_is_refused_before_any_upstream_call(
    accord: AccordServer, sf_control: SandboxControl, ns_control: SandboxControl
) -> None:
    body = accord.graphql(EXPENSIVE, key="demo-finance")

    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "COST_LIMIT_EXCEEDED", "cost": 501501, "limit": 100000}
    assert sf_control.stats()["total"] == ns_control.stats()["total"] == 0


def test_the_answer_carries_its_cost_and_the_budget_left(accord: AccordServer) -> None:
    with accord.client() as client:
        response = client.post(
            "/graphql",
            json={"query": "{ customers(first: 20) { nodes { id name } } }"},
            headers={"Authorization": "Bearer demo-sales"},
        )

    assert response.json()["extensions"]["cost"] == {"requested": 41, "limit": 100000}
    assert response.headers["RateLimit-Limit"] == "2000000"
    assert 0 <= int(response.headers["RateLimit-Remaining"]) < 2000000
    assert 1 <= int(response.headers["RateLimit-Reset"]) <= 60


async def test_the_same_limits_hold_over_the_websocket(accord: AccordServer) -> None:
    socket = await connect(accord.url)  # anonymous, as in the sandbox
    try:
        # the attack of 1,500 aliased customers(first: 500), then one within the token limit
        aliases = " ".join(f"a{i}: customers(first: 500) {{ totalCount }}" for i in range(1500))
        too_long = await run(socket, "{ " + aliases + " }", operation="tokens")
        aliases = " ".join(f"a{i}: customers(first: 500) {{ totalCount }}" for i in range(40))
        too_many = await run(socket, "{ " + aliases + " }", operation="aliases")
        too_costly = await run(socket, EXPENSIVE, operation="cost")
        deep = (
            "{ customers { nodes { "
            + "invoices { nodes { customer { " * 6
            + "id"
            + " } } }" * 6
            + " } } }"
        )
        too_deep = await run(socket, deep, operation="depth")
        still_served = await run(socket, "{ __typename }", operation="after")
    finally:
        await socket.close()

    assert too_long["type"] == too_many["type"] == too_costly["type"] == too_deep["type"] == "error"
    assert "more than 5000 tokens" in too_long["payload"][0]["message"]
    assert codes(too_many["payload"]) == ["ALIAS_LIMIT_EXCEEDED"]
    assert codes(too_costly["payload"]) == ["COST_LIMIT_EXCEEDED"]
    assert codes(too_deep["payload"]) == ["DEPTH_LIMIT_EXCEEDED"]
    assert still_served["payload"]["data"] == {"__typename": "Query"}
    assert still_served["payload"]["extensions"]["cost"] == {"requested": 0, "limit": 100000}


async def test_the_same_limits_hold_over_server_sent_events(accord: AccordServer) -> None:
    async with httpx.AsyncClient(base_url=accord.url, timeout=30) as client:
        costly = await client.post("/graphql/stream", json={"query": EXPENSIVE})
        mutation_over_get = await client.get(
            "/graphql/stream", params={"query": "mutation { __typename }"}
        )
        query = await client.get("/graphql/stream", params={"query": "{ __typename }"})

    events = [
        json.loads(line[5:])
        for line in costly.text.splitlines()
        if line.startswith("data:") and line[5:].strip()
    ]
    assert codes(events[0]["errors"]) == ["COST_LIMIT_EXCEEDED"]
    assert mutation_over_get.status_code == 405
    assert "event: complete" in query.text
    assert '"__typename": "Query"' in query.text


@pytest.fixture(scope="module")
def tight_budget(sandbox: Endpoints) -> Iterator[AccordServer]:
    options = AppOptions(api_keys=DEMO_KEYS, exposure=Exposure(budget_per_minute=150))
    with AccordServer(sandbox, options=options) as server:
        yield server


HUNDRED = "{ customers(first: 50) { nodes { name } } }"  # costs 101


def spend_until_refused(server: AccordServer | WorkersAccord, key: str) -> list[httpx.Response]:
    """Requests costing 101 until one is refused (at most three: a minute may turn once)."""
    answers = []
    with server.client() as client:
        for _ in range(3):
            answers.append(
                client.post(
                    "/graphql", json={"query": HUNDRED}, headers={"Authorization": f"Bearer {key}"}
                )
            )
            if answers[-1].status_code != 200:
                break
    return answers


def test_a_caller_over_its_budget_is_refused_with_429_and_retry_after(
    tight_budget: AccordServer,
) -> None:
    answers = spend_until_refused(tight_budget, "demo-finance")
    other = spend_until_refused(tight_budget, "demo-sales")

    refused = answers[-1]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert codes(refused.json()["errors"]) == ["RATE_LIMITED"]
    assert answers[-2].status_code == 200
    assert answers[-2].headers["RateLimit-Remaining"] == "49"
    # another caller has a budget of its own
    assert other[0].status_code == 200


async def test_a_spent_budget_refuses_websocket_operations_too(tight_budget: AccordServer) -> None:
    socket = await connect(tight_budget.url, "demo-ops")
    try:
        answers = [await run(socket, HUNDRED, operation=str(n)) for n in range(3)]
    finally:
        await socket.close()

    refused = [a for a in answers if a["type"] == "error"]
    assert refused, answers
    assert codes(refused[0]["payload"]) == ["RATE_LIMITED"]
    assert refused[0]["payload"][0]["extensions"]["retryAfter"] >= 1


@pytest.mark.parametrize("replicas", ["servers", "workers"])
def test_replicas_share_a_callers_budget_through_redis(
    replicas: str, sandbox: Endpoints, redis_url: str
) -> None:
    options = AppOptions(
        api_keys=DEMO_KEYS,
        redis_url=redis_url,
        state_prefix=unique_prefix(),
        exposure=Exposure(budget_per_minute=150),
    )
    with contextlib.ExitStack() as stack:
        first: AccordServer | WorkersAccord
        second: AccordServer | WorkersAccord
        if replicas == "workers":  # two workers behind one port; a connection per request
            first = second = stack.enter_context(
                WorkersAccord(
                    sandbox,
                    redis_url,
                    options.state_prefix,
                    {"ACCORD_COST_BUDGET": "150", "ACCORD_MAX_COST": "150"},
                )
            )
        else:
            first = stack.enter_context(AccordServer(sandbox, options=options))
            second = stack.enter_context(AccordServer(sandbox, options=options))
        with first.client() as client:
            spent = client.post(
                "/graphql", json={"query": HUNDRED}, headers={"Authorization": "Bearer demo-ops"}
            )
        answers = spend_until_refused(second, "demo-ops")

    assert spent.status_code == 200
    # the second replica knows what the first one charged: its first answer is a refusal,
    # unless the minute turned in between
    assert answers[0].status_code == 429 or answers[0].headers["RateLimit-Remaining"] == "49"
    assert answers[-1].status_code == 429


async def held(accord: AccordServer, subscriptions: int) -> None:
    """Until ``accord`` holds ``subscriptions`` subscriptions (the WebSocket protocol
    acknowledges none); the deadline bounds a hang only."""
    deadline = time.monotonic() + 30
    while accord.app.state.callers.subscriptions() != subscriptions:
        assert time.monotonic() < deadline, "the subscriptions were never counted"
        await asyncio.sleep(0.01)


async def test_subscriptions_count_against_the_caller_over_all_its_connections(
    sandbox: Endpoints,
) -> None:
    exposure = Exposure(callers=CallerLimits(max_connections=2, max_subscriptions=2))
    with AccordServer(sandbox, options=AppOptions(api_keys=DEMO_KEYS, exposure=exposure)) as accord:
        first = await connect(accord.url, "demo-ops")
        second = await connect(accord.url, "demo-ops")
        try:
            # a third connection of the same caller is refused
            third = await websockets.connect(
                accord.url.replace("http://", "ws://") + "/graphql", subprotocols=PROTOCOL
            )
            await third.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": "Bearer demo-ops"}}
                )
            )
            code, reason = await closed_with(third)
            # while another caller connects
            other = await connect(accord.url, "demo-finance")
            await other.close()

            # two subscriptions, one on each connection, fill the caller's slots
            for socket in (first, second):
                await socket.send(
                    json.dumps({"id": "s", "type": "subscribe", "payload": {"query": PAYMENTS}})
                )
            await held(accord, 2)
            over = await run(first, PAYMENTS, operation="s2")
            async with httpx.AsyncClient(base_url=accord.url, timeout=10) as client:
                by_sse = await client.post(
                    "/graphql/stream",
                    json={"query": PAYMENTS},
                    headers={"Authorization": "Bearer demo-ops"},
                )
                # when one completes, a slot is free again
                await second.send(json.dumps({"id": "s", "type": "complete"}))
                await held(accord, 1)
                async with client.stream(
                    "POST",
                    "/graphql/stream",
                    json={"query": PAYMENTS},
                    headers={"Authorization": "Bearer demo-ops"},
                ) as freed:
                    freed_status = freed.status_code
        finally:
            await first.close()
            await second.close()

    assert (code, reason) == (4429, "this caller holds 2 connections already")
    assert over["type"] == "error"
    assert "Subscription limit reached" in over["payload"][0]["message"]
    assert by_sse.status_code == 429
    assert codes(by_sse.json()["errors"]) == ["TOO_MANY_SUBSCRIPTIONS"]
    assert freed_status == 200


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "WebSocket message must be valid JSON"),
        ("[1, 2]", "Invalid message received: not an object with a type"),
        ('"connection_init"', "Invalid message received: not an object with a type"),
        ('{"payload": {}}', "Invalid message received: not an object with a type"),
        ('{"type": 5}', "Invalid message received: not an object with a type"),
        ("[" * 100_000 + "]" * 100_000, "WebSocket message must be valid JSON"),
        (
            '{"type": "subscribe", "id": "1", "payload": 5}',
            "Invalid message received: subscribe needs an id and a payload",
        ),
        (
            '{"type": "subscribe", "id": ["1"], "payload": {"query": "{ __typename }"}}',
            "Invalid message received: subscribe needs an id and a payload",
        ),
        ('{"type": "shout"}', "Unknown message type: shout"),
        (b"\x00binary", "WebSocket message type must be text"),
    ],
)
async def test_a_frame_that_is_not_a_protocol_message_is_a_protocol_error(
    accord: AccordServer, frame: str | bytes, reason: str
) -> None:
    socket = await connect(accord.url, "demo-ops")
    await socket.send(frame)

    assert await closed_with(socket) == (4400, reason)


async def test_an_unknown_fragment_over_the_websocket_is_a_graphql_error(
    accord: AccordServer,
) -> None:
    socket = await connect(accord.url, "demo-ops")
    try:
        unknown = await run(socket, "{ customers { nodes { ...Missing } } }", operation="a")
        after = await run(socket, "{ __typename }", operation="b")
    finally:
        await socket.close()

    assert unknown["type"] == "error"
    assert unknown["payload"][0]["message"] == "Unknown fragment 'Missing'."
    assert after["type"] == "next"


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


async def test_deeply_nested_variables_are_refused_on_every_transport(accord: AccordServer) -> None:
    query = "query($v: [String]) { __typename }"
    variables = {"v": nested(50)}
    body = {"query": query, "variables": variables}
    async with httpx.AsyncClient(base_url=accord.url, timeout=30) as client:
        over_http = await client.post("/graphql", json=body)
        strict = await client.post(
            "/graphql", json=body, headers={"accept": "application/graphql-response+json"}
        )
        over_sse = await client.post("/graphql/stream", json=body)
    socket = await connect(accord.url)
    try:
        over_ws = await run(socket, query, variables)
    finally:
        await socket.close()

    # a request error, answered as GraphQL over HTTP says for each media type
    assert (over_http.status_code, strict.status_code) == (200, 400)
    streamed = [line[5:] for line in over_sse.text.splitlines() if line.startswith("data: {")]
    for errors in (
        over_http.json()["errors"],
        strict.json()["errors"],
        json.loads(streamed[0])["errors"],
        over_ws["payload"],
    ):
        assert codes(errors) == ["BAD_USER_INPUT"]
        assert "nested more than 16 levels" in errors[0]["message"]
    assert over_ws["type"] == "error"


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_post_that_is_not_json_or_graphql_is_refused_as_unsupported(
    accord: AccordServer, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    with accord.client() as client:
        request = client.build_request(
            "POST", "/graphql", content=b'{"query": "{ __typename }"}', headers=headers
        )
        response = client.send(request)
        stream = client.post(
            "/graphql/stream", content=b'{"query": "{ __typename }"}', headers=headers
        )

    assert response.status_code == 415
    assert stream.status_code == 415
    assert "application/json" in response.json()["errors"][0]["message"]


async def test_a_websocket_without_the_protocol_is_told_so(accord: AccordServer) -> None:
    async with websockets.connect(accord.url.replace("http://", "ws://") + "/graphql") as socket:
        code, _ = await closed_with(socket)

    assert code == 4406


async def test_a_connection_is_answered_after_bad_frames_elsewhere(accord: AccordServer) -> None:
    # Given a client that sends garbage and is closed, then another that behaves
    bad = await connect(accord.url)
    await bad.send("garbage")
    await closed_with(bad)
    good = await connect(accord.url)
    try:
        answer = await run(good, "{ __typename }")
        complete = await next_message(good)
    finally:
        await good.close()

    assert complete == {"id": "1", "type": "complete"}

    # then the server still serves
    assert answer["payload"]["data"] == {"__typename": "Query"}


def test_an_unknown_fragment_over_http_is_a_validation_error(accord: AccordServer) -> None:
    body = accord.graphql("{ customers { nodes { ...Missing } } }")

    assert codes(body["errors"]) == ["GRAPHQL_VALIDATION_FAILED"]
    assert body["errors"][0]["message"] == "Unknown fragment 'Missing'."
