"""Callers named by OpenID Connect bearer tokens, verified against a local issuer's keys served
over HTTPS: algorithms, claims, key rotation, and the key set fetched once, not per request."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from api.auth import DEMO_KEYS, AuthenticationFailed
from api.identity import OidcOptions, TokenVerifier, looks_like_jwt
from domain.ownership import Role
from sandbox.deals import Deals
from sandbox.endpoints import Endpoints
from server import AppOptions
from tests.accord import AccordServer
from tests.api.issuer import AUDIENCE, Issuer, SigningKey
from tests.api.ws_support import closed_with, connect, run


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with Issuer() as running:
        yield running


def options(issuer: Issuer, **changes: Any) -> OidcOptions:
    return OidcOptions(issuer=issuer.url, audience=AUDIENCE, ca_file=issuer.ca_file, **changes)


@pytest.fixture
async def verifier(issuer: Issuer) -> AsyncIterator[TokenVerifier]:
    checking = TokenVerifier(options(issuer))
    yield checking
    await checking.close()


@pytest.mark.parametrize(
    ("algorithm", "role"),
    [("RS256", Role.FINANCE), ("ES256", Role.SALES), ("PS256", Role.OPS)],
)
async def test_a_token_of_each_algorithm_names_its_caller_and_role(
    issuer: Issuer, verifier: TokenVerifier, algorithm: str, role: Role
) -> None:
    token = issuer.token(role.value, algorithm=algorithm)

    caller = await verifier.caller(token)

    assert caller.name == "oidc:user-42"
    assert caller.role is role
    assert caller.expires_at == jwt.decode(token, options={"verify_signature": False})["exp"]


async def test_the_key_set_is_fetched_once_not_on_every_request(
    issuer: Issuer, verifier: TokenVerifier
) -> None:
    before = issuer.key_set_requests

    callers = await asyncio.gather(*(verifier.caller(issuer.token()) for _ in range(20)))
    await verifier.caller(issuer.token(algorithm="ES256"))

    assert {caller.role for caller in callers} == {Role.FINANCE}
    assert issuer.key_set_requests - before == 1


def unsigned(claims: dict[str, Any], kid: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'kid': kid})}.{part(claims)}."


def public_pem(key: SigningKey) -> bytes:
    public: Any = key.private.public_key()
    return public.public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def forged(issuer: Issuer, how: str) -> str:
    """A token that must be refused, made as ``how`` says."""
    rsa = issuer.keys["RS256"]
    if how == "another issuer":
        return issuer.token(iss="https://evil.example")
    if how == "another audience":
        return issuer.token(aud="someone-else")
    if how == "expired":
        return issuer.token(lifetime=-120)
    if how == "not yet valid":
        return issuer.token(nbf=int(time.time()) + 600)
    if how == "no subject":
        return issuer.token(sub=None)
    if how == "no role":
        return issuer.token(role=None)
    if how == "an unknown role":
        return issuer.token(role="admin")
    if how == "two roles":
        return issuer.token(role=["finance", "ops"])
    if how == "alg none":
        return unsigned({"iss": issuer.url, "aud": AUDIENCE, "sub": "x", "exp": 2**40}, rsa.kid)
    if how == "HS256 with the public key as secret":
        claims = {
            "iss": issuer.url,
            "aud": AUDIENCE,
            "sub": "x",
            "exp": 2**40,
            "accord_role": "ops",
        }
        return _hmac_with_public_key(claims, rsa)
    if how == "signed by another key under a known kid":
        return issuer.token(key=_impostor(rsa))
    if how == "RS256 header on the PS256 key":
        return issuer.token(key=_relabelled(issuer.keys["PS256"], "RS256"))
    if how == "an unknown kid":
        return issuer.token(headers={"kid": f"nobody-{uuid.uuid4().hex}"})
    raise AssertionError(how)


def _hmac_with_public_key(claims: dict[str, Any], key: SigningKey) -> str:
    """The algorithm-confusion forgery: HMAC keyed with the issuer's public key (PyJWT
    refuses to make one, so it is made by hand)."""
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    head = part(json.dumps(header).encode()) + "." + part(json.dumps(claims).encode())
    mac = hmac.new(public_pem(key), head.encode(), hashlib.sha256).digest()
    return head + "." + part(mac)


def _impostor(key: SigningKey) -> SigningKey:
    return SigningKey(key.kid, key.algorithm)  # same kid, a key the issuer never published


def _relabelled(key: SigningKey, algorithm: str) -> SigningKey:
    relabelled = SigningKey.__new__(SigningKey)
    relabelled.kid, relabelled.algorithm, relabelled.private = key.kid, algorithm, key.private
    relabelled.jwk = key.jwk
    return relabelled


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("another issuer", "another issuer"),
        ("another audience", "another audience"),
        ("expired", "expired"),
        ("not yet valid", "not valid yet"),
        ("no subject", "sub"),
        ("no role", "no Accord role"),
        ("an unknown role", "no Accord role"),
        ("two roles", "several Accord roles"),
        ("alg none", "algorithm 'none' is not accepted"),
        ("HS256 with the public key as secret", "algorithm 'HS256' is not accepted"),
        ("signed by another key under a known kid", "Signature verification failed"),
        ("RS256 header on the PS256 key", "algorithm is not its key's"),
        ("an unknown kid", "not one of the issuer's"),
    ],
)
async def test_a_token_that_does_not_hold_is_refused_with_the_reason(
    issuer: Issuer, verifier: TokenVerifier, how: str, reason: str
) -> None:
    with pytest.raises(AuthenticationFailed) as refused:
        await verifier.caller(forged(issuer, how))

    assert reason in str(refused.value)


async def test_a_new_key_is_fetched_once_and_made_up_kids_fetch_nothing(issuer: Issuer) -> None:
    # Given a verifier that fetched the key set more than its least interval ago
    verifier = TokenVerifier(options(issuer, min_refresh_interval=1.0))
    try:
        await verifier.caller(issuer.token())
        await asyncio.sleep(1.1)
        before = issuer.key_set_requests

        # when the issuer rotates in a new key and signs with it
        new = issuer.rotate("RS256")
        caller = await verifier.caller(issuer.token(key=new))
        # and then tokens naming kids nobody published keep coming
        for _ in range(10):
            with pytest.raises(AuthenticationFailed):
                await verifier.caller(forged(issuer, "an unknown kid"))
    finally:
        await verifier.close()

    # then the new key was fetched once, and the made-up kids caused no fetch at all
    assert caller.role is Role.FINANCE
    assert issuer.key_set_requests - before == 1


async def test_the_role_claim_can_be_a_nested_list_mapped_to_roles(issuer: Issuer) -> None:
    verifier = TokenVerifier(
        options(issuer, role_claim="realm_access.roles", roles={"Accord-Analyst": Role.ANALYTICS})
    )
    try:
        caller = await verifier.caller(
            issuer.token(role=None, realm_access={"roles": ["offline_access", "Accord-Analyst"]})
        )
    finally:
        await verifier.close()

    assert caller.role is Role.ANALYTICS


def test_only_compact_jws_look_like_tokens() -> None:
    assert looks_like_jwt("aGVhZA.Ym9keQ.c2ln")
    assert not looks_like_jwt("demo-finance")
    assert not looks_like_jwt("k3y-0f-s1xteen-chars")
    assert not looks_like_jwt("a..c")


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def accord_with_issuer(sandbox: Endpoints, issuer: Issuer) -> Iterator[AccordServer]:
    app_options = AppOptions(api_keys=DEMO_KEYS, anonymous_reads=False, oidc=options(issuer))
    with AccordServer(sandbox, options=app_options) as server:
        yield server


def test_a_token_names_the_caller_over_http_and_api_keys_still_work(
    accord_with_issuer: AccordServer, issuer: Issuer
) -> None:
    query = "{ customers(first: 1) { nodes { name } } }"
    by_token = accord_with_issuer.graphql(query, key=issuer.token("sales", algorithm="ES256"))
    by_key = accord_with_issuer.graphql(query, key="demo-sales")

    assert by_token["data"] == by_key["data"]
    assert by_token["data"]["customers"]["nodes"][0]["name"]


def test_a_bad_token_is_refused_before_its_document_is_parsed(
    accord_with_issuer: AccordServer, issuer: Issuer
) -> None:
    document = f"{{ customers(first: 1) {{ totalCount }} }} # {uuid.uuid4()}"
    with accord_with_issuer.client() as client:
        expired = client.post(
            "/graphql",
            json={"query": document},
            headers={"Authorization": f"Bearer {forged(issuer, 'expired')}"},
        )

    assert expired.status_code == 401
    assert expired.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in expired.json()["errors"][0]["message"]
    assert expired.headers["WWW-Authenticate"].startswith("Bearer")
    assert accord_with_issuer.app.state.pipeline.cached(document) is None


async def test_a_websocket_opened_with_a_token_closes_when_the_token_expires(
    accord_with_issuer: AccordServer, issuer: Issuer
) -> None:
    socket = await connect(accord_with_issuer.url, issuer.token("ops", lifetime=2))
    answer = await run(socket, "{ __typename }")

    code, reason = await closed_with(socket, wait=10)

    assert answer["payload"]["data"] == {"__typename": "Query"}
    assert (code, reason) == (4403, "Token expired")


def test_a_mutation_by_token_is_written_in_the_callers_name(
    accord_with_issuer: AccordServer, issuer: Issuer, deals: Deals
) -> None:
    # given a finance user signed in with the identity provider
    deal = deals.on_existing_customer()
    subject = f"jane.doe.{uuid.uuid4().hex[:6]}@example.com"
    token = issuer.token("finance", sub=subject)
    idempotency_key = f"k-{uuid.uuid4()}"

    # when they put a customer on hold
    body = accord_with_issuer.graphql(
        """mutation($i: SetCreditHoldInput!) { setCreditHold(input: $i) { errors { code } } }""",
        {
            "i": {
                "idempotencyKey": idempotency_key,
                "customerId": f"cus:{deal.erp_key}",
                "hold": "ON",
                "reason": "overdue",
            }
        },
        key=token,
    )

    # then the audit trail names them, by their subject, with their role
    assert body["data"]["setCreditHold"]["errors"] == []
    trail = accord_with_issuer.graphql(
        "{ auditTrail(first: 50) { nodes { actor role action outcome idempotencyKey } } }",
        key="demo-ops",
    )["data"]["auditTrail"]["nodes"]
    mine = [entry for entry in trail if entry["idempotencyKey"] == idempotency_key]
    assert mine == [
        {
            "actor": f"oidc:{subject}",
            "role": "finance",
            "action": "setCreditHold",
            "outcome": "applied",
            "idempotencyKey": idempotency_key,
        }
    ]


async def test_keys_served_by_a_host_whose_certificate_is_not_trusted_are_not_used(
    issuer: Issuer,
) -> None:
    # Given a verifier that does not trust the issuer's certificate authority
    verifier = TokenVerifier(OidcOptions(issuer=issuer.url, audience=AUDIENCE))
    try:
        with pytest.raises(AuthenticationFailed) as refused:
            await verifier.caller(issuer.token())
    finally:
        await verifier.close()

    assert "not one of the issuer's" in str(refused.value)
