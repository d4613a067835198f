"""The OAuth 2.0 token endpoint, ``POST /services/oauth2/token``, and ``/revoke``.

Grants: ``password`` (client id and secret, username, password with the security token
appended), ``client_credentials`` (the connected app's run-as user is the integration user;
client credentials in the form or as HTTP Basic) and the JWT bearer grant (``assertion`` with
``iss`` = client id, ``sub`` = username and a future ``exp``; the emulated org holds no
certificate, so the signature is not checked). Answers are Salesforce's: 200
``{access_token, instance_url, id, token_type, issued_at, signature}`` or 400
``{"error", "error_description"}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from sandbox.salesforce.errors import json_response
from sandbox.salesforce.sessions import Sessions

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_NO_STORE = {"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"}


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str  # password + security token
    client_id: str
    client_secret: str
    user_id: str
    org_id: str


def _error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status, _NO_STORE)


def _client(form: dict[str, str], request: Request) -> tuple[str, str]:
    client_id = form.get("client_id", "")
    secret = form.get("client_secret", "")
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _jwt_claims(assertion: str) -> dict[str, Any] | None:
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


async def token(request: Request, creds: Credentials, sessions: Sessions) -> Response:
    body = await request.body()
    if len(body) > 100_000:
        return _error("invalid_request", "request too large")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        return _error("invalid_request", "malformed request body")
    form = {key: values[0] for key, values in parsed.items()}
    grant = form.get("grant_type", "")
    if grant not in ("password", "client_credentials", JWT_BEARER):
        return _error("unsupported_grant_type", "grant type not supported")
    if grant == JWT_BEARER:
        claims = _jwt_claims(form.get("assertion", ""))
        if claims is None:
            return _error("invalid_grant", "invalid assertion")
        if claims.get("iss") != creds.client_id:
            return _error("invalid_client_id", "client identifier invalid")
        if str(claims.get("sub", "")).lower() != creds.username.lower():
            return _error("invalid_grant", "user hasn't approved this consumer")
        try:
            expires = float(claims.get("exp", 0))
        except (TypeError, ValueError):
            expires = 0
        if expires < time.time():
            return _error("invalid_grant", "invalid assertion")
        return _issued(request, creds, sessions)
    client_id, secret = _client(form, request)
    if client_id != creds.client_id:
        return _error("invalid_client_id", "client identifier invalid")
    if not hmac.compare_digest(secret.encode(), creds.client_secret.encode()):
        return _error("invalid_client", "invalid client credentials")
    if grant == "password":
        username_ok = form.get("username", "").lower() == creds.username.lower()
        password_ok = hmac.compare_digest(
            form.get("password", "").encode(), creds.password.encode()
        )
        if not (username_ok and password_ok):
            return _error("invalid_grant", "authentication failure")
    return _issued(request, creds, sessions)


def _issued(request: Request, creds: Credentials, sessions: Sessions) -> Response:
    session = sessions.issue(creds.user_id)
    base = str(request.base_url).rstrip("/")
    identity = f"{base}/id/{creds.org_id}/{creds.user_id}"
    issued_at = str(int(session.issued * 1000))
    digest = hmac.new(
        creds.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
    ).digest()
    return json_response(
        {
            "access_token": session.token,
            "instance_url": base,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(digest).decode("ascii"),
        },
        200,
        _NO_STORE,
    )


async def revoke(request: Request, sessions: Sessions) -> Response:
    body = (await request.body()).decode("utf-8", "replace")
    try:
        form = {key: values[0] for key, values in parse_qs(body, max_num_fields=10).items()}
    except ValueError:
        form = {}
    tokens = form.get("token") or request.query_params.get("token")
    if not tokens or not sessions.revoke(tokens):
        return _error("unsupported_token_type", "this token type is not supported")
    return Response(b"", 200)
