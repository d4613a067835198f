"""GraphQL over HTTP: methods, content negotiation, and bad input answered clearly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.accord import AccordServer

GRAPHQL_RESPONSE = "application/graphql-response+json"


def post(accord: AccordServer, body: Any, **headers: str) -> Any:
    with accord.client() as client:
        return client.post(
            "/graphql",
            content=json.dumps(body),
            headers={"content-type": "application/json", **headers},
        )


def error_codes(response: Any) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in response.json()["errors"]]


def test_get_serves_queries(accord: AccordServer) -> None:
    with accord.client() as client:
        response = client.get(
            "/graphql", params={"query": "{ customers(first: 2) { totalCount } }"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["data"]["customers"]["totalCount"] > 0


def test_application_graphql_body(accord: AccordServer) -> None:
    with accord.client() as client:
        response = client.post(
            "/graphql",
            content="{ customers(first: 1) { totalCount } }",
            headers={"content-type": "application/graphql"},
        )
    assert response.status_code == 200
    assert response.json()["data"]["customers"]["totalCount"] > 0


def test_graphql_response_json_is_negotiated(accord: AccordServer) -> None:
    ok = post(accord, {"query": "{ customers(first: 1) { totalCount } }"}, accept=GRAPHQL_RESPONSE)
    bad = post(accord, {"query": "{ customers(first: 1) { nope } }"}, accept=GRAPHQL_RESPONSE)
    legacy = post(accord, {"query": "{ customers(first: 1) { nope } }"}, accept="application/json")
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    # a document that fails validation is a request error: 400 in the new media type...
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in bad.json()
    # ...and 200 in the legacy one
    assert legacy.status_code == 200
    assert "Cannot query field 'nope'" in legacy.json()["errors"][0]["message"]


def test_browsers_get_graphiql(accord: AccordServer) -> None:
    with accord.client() as client:
        page = client.get("/graphql", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "graphiql" in page.text.lower()


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ("not json", 400, "not valid JSON"),
        ("[1, 2]", 400, "JSON object"),
        ('{"query": 5}', 400, "no GraphQL query"),
        ('{"query": "{ customers { totalCount } }", "variables": [1]}', 400, "variables"),
    ],
)
def test_unusable_http_requests(
    accord: AccordServer, body: str, status: int, fragment: str
) -> None:
    with accord.client() as client:
        response = client.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == status
    assert fragment in response.json()["errors"][0]["message"]


def test_mutations_are_refused_over_get_and_unsupported_media(accord: AccordServer) -> None:
    with accord.client() as client:
        xml = client.post("/graphql", content="<q/>", headers={"content-type": "application/xml"})
        put = client.put("/graphql", content="{}")
    assert xml.status_code == 415
    assert put.status_code == 405


@pytest.mark.parametrize(
    ("query", "code", "fragment"),
    [
        ("{ customers(first: 1) { totalCount }", "GRAPHQL_VALIDATION_FAILED", "Syntax Error"),
        ("{ customer(id: 1) { nope } }", "GRAPHQL_VALIDATION_FAILED", "Cannot query field 'nope'"),
        ('{ customer(id: "ord:1") { id } }', "BAD_USER_INPUT", "is not a Customer id"),
        ('{ customer(salesforceId: "006xx") { id } }', "BAD_USER_INPUT", "Salesforce Account id"),
        ('{ customer(erpId: "12a") { id } }', "BAD_USER_INPUT", "ERP customer id"),
        ('{ customer(id: "cus:A", erpId: "1") { id } }', "BAD_USER_INPUT", "exactly one"),
        ('{ invoice(id: "pay:1") { id } }', "BAD_USER_INPUT", "not an Invoice id"),
        ("{ customers(first: 1000000) { totalCount } }", "BAD_USER_INPUT", "between 0 and 500"),
        ('{ customers(after: "bm9wZQ") { totalCount } }', "BAD_USER_INPUT", "not a cursor"),
        (
            '{ customers(filter: {country: "Germany"}) { totalCount } }',
            "GRAPHQL_VALIDATION_FAILED",
            "CountryCode",
        ),
        (
            '{ customers(filter: {nameContains: ""}) { totalCount } }',
            "BAD_USER_INPUT",
            "nameContains",
        ),
    ],
)
def test_bad_input_gets_a_clear_typed_error(
    accord: AccordServer, query: str, code: str, fragment: str
) -> None:
    response = post(accord, {"query": query})
    assert response.status_code == 200
    errors = response.json()["errors"]
    assert error_codes(response) == [code]
    assert fragment in errors[0]["message"]


def test_deep_nesting_is_refused_before_any_upstream_call(
    accord: AccordServer, ns_control: Any
) -> None:
    deep = (
        "{ customers(first: 1) { nodes { "
        + "invoices { nodes { customer { " * 6
        + "id"
        + " } } }" * 6
        + " } } }"
    )
    ns_control.reset()
    response = post(accord, {"query": deep})
    assert "exceeds maximum operation depth" in response.json()["errors"][0]["message"]
    assert ns_control.stats()["total"] == 0


def test_oversized_documents_are_refused(accord: AccordServer) -> None:
    aliases = " ".join(f"a{i}: customers(first: 1) {{ totalCount }}" for i in range(2_000))
    response = post(accord, {"query": "{ " + aliases + " }"})
    assert response.status_code == 200
    assert "more than 5000 tokens" in response.json()["errors"][0]["message"]


def test_many_aliases_are_refused_before_any_upstream_call(
    accord: AccordServer, ns_control: Any
) -> None:
    aliases = " ".join(f"a{i}: customers(first: 1) {{ totalCount }}" for i in range(40))
    ns_control.reset()
    response = post(accord, {"query": "{ " + aliases + " }"})
    assert "40 aliases found. Allowed: 30" in response.json()["errors"][0]["message"]
    assert ns_control.stats()["total"] == 0


def test_unknown_operation_name(accord: AccordServer) -> None:
    response = post(
        accord,
        {
            "query": "query A { customers(first: 1) { totalCount } } query B { customers(first: 1) { totalCount } }",
            "operationName": "C",
        },
    )
    assert "Unknown operation named 'C'" in response.json()["errors"][0]["message"]
