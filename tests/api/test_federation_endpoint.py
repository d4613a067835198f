"""``/graphql/federation``: the subgraph for gateways, beside the standalone ``/graphql``."""

from __future__ import annotations

from typing import Any

from graphql import build_schema

from schema.__main__ import SDL_FILE, SUBGRAPH_FILE
from tests.accord import AccordServer


def post(accord: AccordServer, path: str, query: str, **headers: str) -> tuple[int, dict[str, Any]]:
    with accord.client() as client:
        response = client.post(path, json={"query": query}, headers=headers)
    return response.status_code, response.json()


def test_the_subgraph_answers_its_sdl_as_committed(accord: AccordServer) -> None:
    status, body = post(accord, "/graphql/federation", "{ _service { sdl } }")
    with accord.client() as client:
        download = client.get("/graphql/federation/schema.graphql")

    assert status == 200
    assert body["data"]["_service"]["sdl"] + "\n" == SUBGRAPH_FILE.read_text()
    assert download.status_code == 200
    assert download.text == SUBGRAPH_FILE.read_text()
    build_schema(download.text, assume_valid_sdl=True)


def test_direct_clients_keep_the_standalone_schema(accord: AccordServer) -> None:
    status, body = post(accord, "/graphql", "{ _service { sdl } }")
    with accord.client() as client:
        sdl = client.get("/graphql/schema.graphql").text

    assert status == 200
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert sdl == SDL_FILE.read_text()
    assert "type Subscription" in sdl


def test_both_endpoints_answer_the_same_read(accord: AccordServer) -> None:
    query = "{ customers(first: 3) { nodes { id name credit { status } } } }"

    finance = {"Authorization": "Bearer demo-finance"}
    _, direct = post(accord, "/graphql", query, **finance)
    _, federated = post(accord, "/graphql/federation", query, **finance)

    assert "errors" not in direct
    assert federated == direct


def test_the_subgraph_checks_callers_like_the_standalone_endpoint(accord: AccordServer) -> None:
    workflows = "{ workflows(first: 1) { totalCount } }"

    unknown, refused = post(
        accord, "/graphql/federation", workflows, Authorization="Bearer not-a-key-of-ours"
    )
    _, anonymous = post(accord, "/graphql/federation", workflows)
    _, analytics = post(
        accord, "/graphql/federation", workflows, Authorization="Bearer demo-analytics"
    )
    _, ops = post(accord, "/graphql/federation", workflows, Authorization="Bearer demo-ops")

    assert unknown == 401
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert analytics["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "errors" not in ops


def test_the_subgraph_has_no_subscriptions(accord: AccordServer) -> None:
    status, body = post(accord, "/graphql/federation", "subscription { paymentReceived { id } }")

    assert status == 200
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "subscription operation is not supported" in body["errors"][0]["message"]
