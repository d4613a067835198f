"""OAuth 2.0 token flows and the Bearer check of the NetSuite emulator, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.endpoints import Endpoints
from sandbox.netsuite import NetSuiteSettings
from tests.sandbox.test_netsuite_support import (
    RECORD,
    SUITEQL,
    TOKEN,
    error_detail,
    serve_in_thread,
    tls,
    world_of,
)

INVALID_LOGIN = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
    "Setup > Users/Roles > User Management > View Login Audit Trail."
)


@pytest.fixture(scope="module")
def http(sandbox: Endpoints) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sandbox.netsuite.base_url, verify=tls(sandbox.netsuite.ca_file), timeout=30
    ) as client:
        yield client


def _assertion(
    private_key: rsa.RSAPrivateKey | str,
    *,
    kid: str,
    iss: str,
    aud: str,
    exp_in: int = 300,
    algorithm: str = "PS256",
) -> str:
    now = int(time.time())
    claims = {
        "iss": iss,
        "scope": ["restlets", "rest_webservices"],
        "aud": aud,
        "iat": now,
        "exp": now + exp_in,
    }
    return jwt.encode(claims, private_key, algorithm=algorithm, headers={"kid": kid})


def _jwt_form(assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# --------------------------------------------------------------------------- client secret


def test_client_credentials_in_the_form_body_issue_a_bearer_token(
    http: httpx.Client, sandbox: Endpoints
) -> None:
    ns = sandbox.netsuite
    answer = http.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": ns.client_id,
            "client_secret": ns.client_secret,
        },
    )

    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert int(body["expires_in"]) == 3600
    customer = http.get(
        f"{RECORD}/customer/1001", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert customer.status_code == 200


def test_client_credentials_as_http_basic_issue_a_token(
    http: httpx.Client, sandbox: Endpoints
) -> None:
    ns = sandbox.netsuite
    answer = http.post(
        TOKEN, data={"grant_type": "client_credentials"}, auth=(ns.client_id, ns.client_secret)
    )

    assert answer.status_code == 200
    assert answer.json()["access_token"]


def test_a_wrong_secret_is_an_invalid_client(http: httpx.Client, sandbox: Endpoints) -> None:
    ns = sandbox.netsuite
    in_body = http.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": ns.client_id,
            "client_secret": "wrong",
        },
    )
    as_basic = http.post(
        TOKEN, data={"grant_type": "client_credentials"}, auth=(ns.client_id, "wrong")
    )
    unknown = http.post(
        TOKEN, data={"grant_type": "client_credentials"}, auth=("someone-else", ns.client_secret)
    )

    assert in_body.status_code == 400
    assert in_body.json()["error"] == "invalid_client"
    assert as_basic.status_code == 401
    assert as_basic.json()["error"] == "invalid_client"
    assert unknown.status_code == 401
    assert "access_token" not in unknown.json()


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "invalid_request"),
        ({"grant_type": "password", "username": "a", "password": "b"}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, "invalid_client"),
        (
            {
                "grant_type": "client_credentials",
                "client_assertion": "not-a-jwt",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            },
            "invalid_request",
        ),
    ],
)
def test_malformed_token_requests_get_oauth_errors(
    http: httpx.Client, form: dict[str, str], error: str
) -> None:
    answer = http.post(TOKEN, data=form)

    assert answer.status_code in (400, 401)
    assert answer.json()["error"] == error


def test_a_token_request_that_is_not_a_form_is_refused(http: httpx.Client) -> None:
    answer = http.post(TOKEN, json={"grant_type": "client_credentials"})

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


# --------------------------------------------------------------------------- JWT assertion


def test_a_jwt_client_assertion_issues_a_token(http: httpx.Client, sandbox: Endpoints) -> None:
    # The shared sandbox has no public key configured: the claims are checked, not the signature.
    assertion = _assertion(
        _key(),
        kid=NetSuiteSettings().certificate_id,
        iss=sandbox.netsuite.client_id,
        aud=sandbox.netsuite.token_url,
    )

    answer = http.post(TOKEN, data=_jwt_form(assertion))

    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    assert (
        http.get(
            f"{RECORD}/customer/1001", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"kid": "another-certificate"}, "invalid_client"),
        ({"iss": "another-client"}, "invalid_client"),
        ({"aud": "https://example.com/token"}, "invalid_grant"),
        ({"exp_in": -60}, "invalid_grant"),
    ],
)
def test_a_jwt_assertion_with_wrong_claims_is_refused(
    http: httpx.Client, sandbox: Endpoints, change: dict[str, object], error: str
) -> None:
    claims: dict[str, object] = {
        "kid": NetSuiteSettings().certificate_id,
        "iss": sandbox.netsuite.client_id,
        "aud": sandbox.netsuite.token_url,
        **change,
    }
    assertion = _assertion(_key(), **claims)  # type: ignore[arg-type]

    answer = http.post(TOKEN, data=_jwt_form(assertion))

    assert answer.status_code in (400, 401)
    assert answer.json()["error"] == error


def test_a_configured_public_key_verifies_the_assertion_signature(sandbox: Endpoints) -> None:
    key, stranger = _key(), _key()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = NetSuiteSettings(certificate_id="cert-1", jwt_public_key_pem=public_pem)
    with serve_in_thread(world_of(sandbox), settings) as base, httpx.Client(base_url=base) as http:
        token_url = base + TOKEN
        signed = http.post(
            TOKEN,
            data=_jwt_form(_assertion(key, kid="cert-1", iss=settings.client_id, aud=token_url)),
        )
        rs256 = http.post(
            TOKEN,
            data=_jwt_form(
                _assertion(
                    key, kid="cert-1", iss=settings.client_id, aud=token_url, algorithm="RS256"
                )
            ),
        )
        forged = http.post(
            TOKEN,
            data=_jwt_form(
                _assertion(stranger, kid="cert-1", iss=settings.client_id, aud=token_url)
            ),
        )

    assert signed.status_code == 200, signed.text
    assert rs256.status_code == 200, rs256.text
    assert forged.status_code == 401
    assert forged.json()["error"] == "invalid_client"


# --------------------------------------------------------------------------- Bearer check


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-token", "Basic YWJjOmRlZg==", "bearer ns.forged"],
)
def test_record_and_suiteql_calls_without_a_valid_token_get_invalid_login(
    http: httpx.Client, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    record = http.get(f"{RECORD}/customer/1001", headers=headers)
    query = http.post(
        SUITEQL, json={"q": "SELECT id FROM customer"}, headers={**headers, "Prefer": "transient"}
    )

    for answer in (record, query):
        assert answer.status_code == 401
        detail = error_detail(answer)
        assert answer.json()["title"] == "Unauthorized"
        assert detail == {"detail": INVALID_LOGIN, "o:errorCode": "INVALID_LOGIN"}


def test_an_expired_token_is_refused(sandbox: Endpoints) -> None:
    settings = NetSuiteSettings(token_ttl_seconds=1)
    with serve_in_thread(world_of(sandbox), settings) as base, httpx.Client(base_url=base) as http:
        token = http.post(
            TOKEN,
            data={"grant_type": "client_credentials"},
            auth=(settings.client_id, settings.client_secret),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        fresh = http.get(f"{RECORD}/customer/1001", headers=headers)
        time.sleep(1.2)
        stale = http.get(f"{RECORD}/customer/1001", headers=headers)

    assert fresh.status_code == 200
    assert stale.status_code == 401
    assert error_detail(stale)["o:errorCode"] == "INVALID_LOGIN"
