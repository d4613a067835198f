"""OAuth 2.0 for the emulator: the token endpoint and the Bearer check.

``POST /services/rest/auth/oauth2/v1/token`` with ``grant_type=client_credentials`` issues an
access token for either

- the client id and secret, in the form body or as HTTP Basic, or
- a JWT client assertion, as NetSuite's machine-to-machine flow sends it
  (``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``): the
  JWT's header ``kid`` must be the configured certificate id, its payload ``iss`` the client
  id, ``aud`` the token URL, and ``exp`` in the future. With a public key configured the
  PS256/RS256 signature is verified too; without one it is not (the sandbox ships no key pair).

The answer is ``{"access_token", "expires_in": "3600", "token_type": "bearer"}`` (NetSuite
sends ``expires_in`` as a string). Refusals are OAuth errors: 400 ``invalid_request`` /
``unsupported_grant_type`` / ``invalid_grant``, 401 ``invalid_client``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.responses import JSONResponse

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class AuthSettings:
    client_id: str
    client_secret: str
    certificate_id: str
    public_key_pem: str | None
    token_ttl_seconds: int


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.error, "error_description": self.description},
            status_code=self.status,
            headers={"Cache-Control": "no-store"},
        )


class TokenIssuer:
    """Issues access tokens and checks Bearer headers. Tokens live in memory."""

    def __init__(self, settings: AuthSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self._tokens: dict[str, float] = {}

    # ------------------------------------------------------------------ token endpoint

    def grant(self, form: Mapping[str, str], authorization: str | None, token_url: str) -> str:
        """Check a token request; answer the new access token or raise `OAuthError`."""
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError(400, "invalid_request", "grant_type is missing")
        if grant_type != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", f"unsupported grant {grant_type}")
        assertion_type = form.get("client_assertion_type")
        if assertion_type is not None or "client_assertion" in form:
            if assertion_type != JWT_BEARER:
                raise OAuthError(400, "invalid_request", "unsupported client_assertion_type")
            self._check_assertion(form.get("client_assertion") or "", token_url)
        else:
            self._check_secret(form, authorization)
        return self._issue()

    def _check_secret(self, form: Mapping[str, str], authorization: str | None) -> None:
        settings = self.settings
        basic = _basic_credentials(authorization)
        if basic is not None:
            client_id, secret = basic
            status = 401
        else:
            form_id, form_secret = form.get("client_id"), form.get("client_secret")
            if form_id is None or form_secret is None:
                raise OAuthError(401, "invalid_client", "client authentication is missing")
            client_id, secret = form_id, form_secret
            status = 400
        if not (
            hmac.compare_digest(client_id.encode(), settings.client_id.encode())
            and hmac.compare_digest(secret.encode(), settings.client_secret.encode())
        ):
            raise OAuthError(status, "invalid_client", "unknown client or wrong secret")

    def _check_assertion(self, assertion: str, token_url: str) -> None:
        settings = self.settings
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as exc:
            raise OAuthError(400, "invalid_request", "client_assertion is not a JWT") from exc
        if header.get("kid") != settings.certificate_id:
            raise OAuthError(401, "invalid_client", "unknown certificate id (kid)")
        algorithm = header.get("alg")
        if algorithm not in ("PS256", "RS256"):
            raise OAuthError(400, "invalid_request", "client_assertion must be signed PS256/RS256")
        try:
            if settings.public_key_pem:
                claims: dict[str, Any] = jwt.decode(
                    assertion,
                    settings.public_key_pem,
                    algorithms=["PS256", "RS256"],
                    options={"verify_aud": False, "require": ["exp", "iss", "aud"]},
                )
            else:
                claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.InvalidSignatureError as exc:
            raise OAuthError(
                401, "invalid_client", "client_assertion signature is invalid"
            ) from exc
        except jwt.PyJWTError as exc:
            raise OAuthError(400, "invalid_grant", f"client_assertion rejected: {exc}") from exc
        if claims.get("iss") != settings.client_id:
            raise OAuthError(401, "invalid_client", "client_assertion iss is not a known client")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if token_url not in audiences:
            raise OAuthError(400, "invalid_grant", "client_assertion aud is not the token URL")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires <= self.clock():
            raise OAuthError(400, "invalid_grant", "client_assertion has expired")

    def _issue(self) -> str:
        token = "ns." + secrets.token_urlsafe(32)
        now = self.clock()
        self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
        self._tokens[token] = now + self.settings.token_ttl_seconds
        return token

    def token_body(self, token: str) -> dict[str, str]:
        return {
            "access_token": token,
            "expires_in": str(self.settings.token_ttl_seconds),
            "token_type": "bearer",
        }

    # ------------------------------------------------------------------ Bearer check

    def valid(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        expires = self._tokens.get(token.strip())
        return expires is not None and expires > self.clock()


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError(401, "invalid_client", "malformed Basic credentials") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError(401, "invalid_client", "malformed Basic credentials")
    return client_id, secret
