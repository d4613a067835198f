"""CORS over real HTTP: preflights and requests as browsers send them, to Accord on the sandbox
with an allowlist (``ACCORD_CORS_ORIGINS``), with ``*``, with credentials, and without one."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.auth import DEMO_KEYS
from api.cors import parse_origins
from sandbox.endpoints import Endpoints
from server import AppOptions
from tests.accord import AccordServer

ROOT = Path(__file__).resolve().parent.parent.parent
LIGHTNING = "https://acme.lightning.force.com"
PORTAL = "http://127.0.0.1:5173"
QUERY = "{ customers(first: 1) { nodes { id } } }"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}
REFUSED_ORIGINS = [
    "https://lightning.force.com.evil.example",
    "https://acme.lightning.force.com.evil.example",
    "https://evillightning.force.com",
    "https://lightning.force.com",
    "https://a.b.lightning.force.com",
    "http://acme.lightning.force.com",
    "https://acme.lightning.force.com:8443",
    "http://127.0.0.1:5174",
    "null",
]


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def vary(response: httpx.Response) -> set[str]:
    return {v.strip().lower() for v in ",".join(response.headers.get_list("vary")).split(",")}


def serve(sandbox: Endpoints, origins: str, *, credentials: bool = False) -> AccordServer:
    policy = parse_origins(origins, credentials=credentials)
    return AccordServer(sandbox, options=AppOptions(api_keys=DEMO_KEYS, cors=policy))


@pytest.fixture(scope="module")
def accord_cors(sandbox: Endpoints) -> Iterator[AccordServer]:
    """Accord allowing Lightning pages of any org and one exact portal origin."""
    with serve(sandbox, f"https://*.lightning.force.com,{PORTAL}") as server:
        yield server


@pytest.fixture(scope="module")
def client(accord_cors: AccordServer) -> Iterator[httpx.Client]:
    with accord_cors.client() as http:
        yield http


# --------------------------------------------------------------------------- allowed origins


@pytest.mark.parametrize("origin", [LIGHTNING, "https://acme--uat.lightning.force.com", PORTAL])
def test_a_preflight_for_post_with_a_key_is_granted_to_an_allowed_origin(
    client: httpx.Client, origin: str
) -> None:
    # when a browser asks whether its page may POST JSON with an Authorization header
    response = client.options("/graphql", headers={"Origin": origin, **PREFLIGHT})

    # then the answer grants exactly that, to that origin alone, without credentials
    assert response.status_code == 204
    granted = cors_headers(response)
    assert granted["access-control-allow-origin"] == origin
    assert {m.strip() for m in granted["access-control-allow-methods"].split(",")} == {
        "GET",
        "POST",
    }
    allowed = {h.strip().lower() for h in granted["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert granted["access-control-max-age"] == "7200"
    assert "access-control-allow-credentials" not in granted
    assert "origin" in vary(response)


def test_the_answer_to_an_allowed_origin_names_it(client: httpx.Client) -> None:
    response = client.post(
        "/graphql",
        json={"query": QUERY},
        headers={"Origin": LIGHTNING, "Authorization": "Bearer demo-sales"},
    )

    assert response.status_code == 200
    assert response.json()["data"]["customers"]["nodes"][0]["id"].startswith("cus:")
    assert response.headers["access-control-allow-origin"] == LIGHTNING
    assert "access-control-allow-credentials" not in response.headers
    assert "origin" in vary(response)


def test_a_refusal_of_the_key_is_readable_by_an_allowed_page(client: httpx.Client) -> None:
    # given a page of an allowed origin sending a key Accord does not know
    response = client.post(
        "/graphql",
        json={"query": QUERY},
        headers={"Origin": LIGHTNING, "Authorization": "Bearer not-a-key"},
    )

    # then the 401 carries the grant, so the page can tell its user why
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["access-control-allow-origin"] == LIGHTNING


def test_a_get_query_varies_by_origin_as_well(client: httpx.Client) -> None:
    response = client.get("/graphql", params={"query": QUERY}, headers={"Origin": PORTAL})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PORTAL
    assert {"accept", "authorization", "origin"} <= vary(response)


# --------------------------------------------------------------------------- refused origins


@pytest.mark.parametrize("origin", REFUSED_ORIGINS)
def test_a_preflight_from_another_origin_is_refused_without_cors_headers(
    client: httpx.Client, origin: str
) -> None:
    response = client.options("/graphql", headers={"Origin": origin, **PREFLIGHT})

    assert response.status_code == 403
    assert cors_headers(response) == {}
    assert "origin not allowed" in response.text


@pytest.mark.parametrize("origin", REFUSED_ORIGINS)
def test_a_request_from_another_origin_gets_no_cors_headers(
    client: httpx.Client, origin: str
) -> None:
    # when a request from another origin reaches Accord anyway (a form post needs no
    # preflight; a script could skip it): Accord answers, but without a grant the browser
    # keeps the answer from the page
    response = client.post(
        "/graphql",
        content=QUERY,
        headers={"Origin": origin, "Content-Type": "application/graphql"},
    )

    assert response.status_code == 200
    assert cors_headers(response) == {}
    assert "origin" in vary(response)


@pytest.mark.parametrize(
    ("method", "headers", "reason"),
    [
        ("PUT", "content-type", "method"),
        ("DELETE", None, "method"),
        ("PATCH", "authorization", "method"),
        ("post", "content-type", "method"),  # methods are case-sensitive in CORS
        ("POST", "authorization, content-type, x-debug", "headers"),
        ("POST", "cookie", "headers"),
        ("POST", "x-api-key", "headers"),
    ],
)
def test_a_preflight_for_a_method_or_header_not_allowed_is_refused_without_cors_headers(
    client: httpx.Client, method: str, headers: str | None, reason: str
) -> None:
    request = {"Origin": LIGHTNING, "Access-Control-Request-Method": method}
    if headers is not None:
        request["Access-Control-Request-Headers"] = headers

    response = client.options("/graphql", headers=request)

    assert response.status_code == 403
    assert cors_headers(response) == {}
    assert f"{reason} not allowed" in response.text


def test_a_private_network_preflight_is_refused(client: httpx.Client) -> None:
    response = client.options(
        "/graphql",
        headers={
            "Origin": LIGHTNING,
            **PREFLIGHT,
            "Access-Control-Request-Private-Network": "true",
        },
    )

    assert response.status_code == 403
    assert cors_headers(response) == {}


def test_requests_without_an_origin_are_served_as_before(client: httpx.Client) -> None:
    options = client.options("/graphql", headers=PREFLIGHT)
    post = client.post("/graphql", json={"query": QUERY})

    assert options.status_code == 405  # not a CORS preflight without an Origin
    assert post.status_code == 200
    assert cors_headers(options) == cors_headers(post) == {}


def test_every_http_path_is_covered(client: httpx.Client) -> None:
    response = client.get("/healthz", headers={"Origin": LIGHTNING})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == LIGHTNING


# --------------------------------------------------------------------------- other policies


def test_without_an_allowlist_no_origin_is_granted(accord: AccordServer) -> None:
    with accord.client() as http:
        preflight = http.options("/graphql", headers={"Origin": LIGHTNING, **PREFLIGHT})
        post = http.post("/graphql", json={"query": QUERY}, headers={"Origin": LIGHTNING})

    assert preflight.status_code == 405
    assert cors_headers(preflight) == cors_headers(post) == {}


def test_any_origin_is_granted_by_star_and_never_with_credentials(sandbox: Endpoints) -> None:
    with serve(sandbox, "*") as server, server.client() as http:
        preflight = http.options("/graphql", headers={"Origin": LIGHTNING, **PREFLIGHT})
        post = http.post(
            "/graphql",
            json={"query": QUERY},
            headers={"Origin": "https://anything.example", "Authorization": "Bearer demo-sales"},
        )

    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert post.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers
    assert "access-control-allow-credentials" not in post.headers


def test_credentials_are_granted_to_exact_origins_only(sandbox: Endpoints) -> None:
    with serve(sandbox, LIGHTNING, credentials=True) as server, server.client() as http:
        preflight = http.options("/graphql", headers={"Origin": LIGHTNING, **PREFLIGHT})
        allowed = http.post("/graphql", json={"query": QUERY}, headers={"Origin": LIGHTNING})
        other = http.post(
            "/graphql", json={"query": QUERY}, headers={"Origin": "https://evil.example"}
        )
        refused = http.options("/graphql", headers={"Origin": "https://evil.example", **PREFLIGHT})

    assert preflight.headers["access-control-allow-origin"] == LIGHTNING
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert allowed.headers["access-control-allow-origin"] == LIGHTNING
    # the origin off the list gets nothing, credentials included
    assert cors_headers(other) == cors_headers(refused) == {}


# --------------------------------------------------------------------------- the docs


def test_the_documented_preflight_is_granted(sandbox: Endpoints) -> None:
    # given the curl example of docs/configuration.md and the setting it names
    text = (ROOT / "docs" / "configuration.md").read_text()
    setting = re.search(r"^ACCORD_CORS_ORIGINS=(\S+)", text, re.M)
    curl = re.search(r"^curl -si -X OPTIONS .*?(?<!\\)\n", text, re.M | re.S)
    assert setting is not None
    assert curl is not None
    words = shlex.split(curl.group(0).replace("\\\n", " "))
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    url = next(word for word in words if word.startswith("http://"))

    # when it is sent to an Accord with that setting
    with serve(sandbox, setting.group(1)) as server, server.client() as http:
        response = http.options(url.replace("http://127.0.0.1:8000", server.url), headers=headers)

    # then it is granted
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == headers["Origin"]
