"""GraphQL over HTTP: methods, content negotiation, and bad input answered clearly."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import quote_from_bytes

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
        # well-formed ids of another object: an Opportunity where an Account is expected...
        (
            '{ customer(salesforceId: "0065g0000004UgZAAU") { id } }',
            "BAD_USER_INPUT",
            "Salesforce Account id",
        ),
        ('{ customer(id: "cus:sf:0065g0000004UgZAAU") { id } }', "BAD_USER_INPUT", "Account id"),
        # ...and an Account where an Opportunity is
        ('{ opportunity(id: "0015g0000004EClAAM") { id } }', "BAD_USER_INPUT", "Opportunity id"),
        ('{ opportunity(id: "opp:0015g0000004EClAAM") { id } }', "BAD_USER_INPUT", "Opportunity"),
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


def test_deeply_nested_json_is_a_bad_request_not_a_crash(accord: AccordServer) -> None:
    deep = "[" * 50_000 + "]" * 50_000
    with accord.client() as client:
        body = client.post(
            "/graphql",
            content='{"query": "{ __typename }", "variables": {"v": ' + deep + "}}",
            headers={"content-type": "application/json"},
        )
        url = client.get(
            "/graphql",
            params={
                "query": "{ __typename }",
                "variables": '{"v": ' + "[" * 3_000 + "]" * 3_000 + "}",
            },
        )

    for response in (body, url):
        assert response.status_code == 400, response.text
        assert error_codes(response) == ["BAD_REQUEST"]
        assert "nested too deeply" in response.json()["errors"][0]["message"]


def test_a_body_declared_too_large_is_refused_before_it_is_read(accord: AccordServer) -> None:
    # Given a request that announces 50 MB and sends only its first bytes
    host, port = accord.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: accord\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n" + b'{"query": "'
        )
        # When Accord reads the headers, then the answer comes at once, without the body
        answer = connection.recv(4096)

    assert answer.startswith(b"HTTP/1.1 413 "), answer


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        ("*/*, application/graphql-response+json", GRAPHQL_RESPONSE),
        ("application/graphql-response+json;q=0, */*;q=0.1", "application/json"),
        ("application/json;Q=0.5, application/graphql-response+json;q=0.9", GRAPHQL_RESPONSE),
    ],
)
def test_accept_prefers_the_most_specific_acceptable_type(
    accord: AccordServer, accept: str, media: str
) -> None:
    response = post(accord, {"query": "{ __typename }"}, accept=accept)
    assert response.headers["content-type"].startswith(media)


def test_get_answers_say_how_a_cache_may_keep_them(accord: AccordServer) -> None:
    with accord.client() as client:
        good = client.get("/graphql", params={"query": "{ customers(first: 1) { totalCount } }"})
        bad = client.get("/graphql", params={"query": '{ customer(id: "ord:1") { id } }'})
        invalid = client.get("/graphql", params={"query": "{ nope }"})
        mutation = client.get("/graphql", params={"query": "mutation { __typename }"})

    # the same URL answers differently by Accept and by caller
    for response in (good, bad, invalid, mutation):
        vary = {part.strip().lower() for part in response.headers.get("vary", "").split(",")}
        assert {"accept", "authorization"} <= vary, response.headers
    # an answer with errors is never kept by a cache
    assert "errors" not in good.json()
    assert "no-store" not in good.headers.get("cache-control", "")
    for response in (bad, invalid, mutation):
        assert "errors" in response.json()
        assert "no-store" in response.headers.get("cache-control", ""), response.headers


def test_text_that_is_not_utf8_is_refused_not_altered(accord: AccordServer) -> None:
    # A byte that is not UTF-8 inside a filter must not become U+FFFD and run as a search.
    document = b'{ customers(filter: {nameContains: "Ac\xffme"}) { totalCount } }'
    with accord.client() as client:
        body = client.post(
            "/graphql", content=document, headers={"content-type": "application/graphql"}
        )
        url = client.get("/graphql?query=" + quote_from_bytes(document))

    for response in (body, url):
        assert response.status_code == 400, response.text
        assert error_codes(response) == ["BAD_REQUEST"]
        assert "UTF-8" in response.json()["errors"][0]["message"]
