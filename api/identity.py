"""OAuth 2.0 / OpenID Connect bearer tokens: JWTs signed by an issuer Accord trusts.

A token is accepted when:

- its header names an algorithm Accord allows (RS256, ES256, PS256 by default: asymmetric
  only, so ``none`` and HMAC with a public key as secret never pass) and a ``kid`` in the
  issuer's key set, whose key is of that algorithm;
- its signature verifies, and its ``iss`` is the issuer, its ``aud`` names the audience,
  ``exp`` is in the future and ``nbf`` (when present) in the past, within `OidcOptions.leeway`;
- it carries ``sub`` and exactly one Accord role in the claim `OidcOptions.role_claim` (a
  dotted path, e.g. ``realm_access.roles``; a string or a list), mapped by
  `OidcOptions.roles` (by default the role names themselves).

The key set (JWKS) is fetched over HTTPS from ``jwks_uri`` (given, or read from the issuer's
``/.well-known/openid-configuration``) when first needed, kept for `OidcOptions.refresh_after`
seconds, and fetched again early only for a ``kid`` it does not hold, at most once per
`OidcOptions.min_refresh_interval` (so tokens with made-up ``kid``s cannot make Accord fetch
on every request); concurrent requests share one fetch. Verification needs no network
otherwise.

A token's caller is named ``oidc:<sub>`` and carries the token's expiry, so that a WebSocket
it authenticated is closed when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from jwt import PyJWK

from api.auth import ApiKeyAuthenticator, AuthenticationFailed, bearer_token
from domain.caller import Caller
from domain.ownership import Role

logger = logging.getLogger("accord.identity")

ALGORITHMS = ("RS256", "ES256", "PS256")


@dataclass(frozen=True)
class OidcOptions:
    issuer: str
    audience: str
    jwks_url: str | None = None  # None: from the issuer's discovery document
    role_claim: str = "accord_role"
    roles: Mapping[str, Role] = field(default_factory=lambda: {r.value: r for r in Role})
    algorithms: tuple[str, ...] = ALGORITHMS
    leeway: float = 30.0  # seconds of clock skew tolerated on exp and nbf
    ca_file: str | None = None  # an extra CA bundle for the issuer's HTTPS
    refresh_after: float = 3600.0  # seconds a fetched key set is kept
    min_refresh_interval: float = 60.0  # the least time between two fetches
    timeout: float = 5.0  # seconds for one fetch


def looks_like_jwt(token: str) -> bool:
    """Three base64url parts: a JWS in compact form (an API key never has two dots)."""
    parts = token.split(".")
    return len(parts) == 3 and all(parts[:2])


class KeySet:
    """The issuer's signing keys by ``kid``, fetched as the module docstring says."""

    def __init__(self, options: OidcOptions) -> None:
        self.options = options
        self._keys: dict[str, dict[str, Any]] = {}  # JWKs by kid
        self._usable: dict[tuple[str, str], PyJWK] = {}  # by kid and algorithm
        self._fetched_at: float | None = None
        self._fetching: asyncio.Task[None] | None = None
        self._jwks_url = options.jwks_url
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=options.ca_file) if options.ca_file else True
        )
        self._client = httpx.AsyncClient(verify=verify, timeout=options.timeout)
        self.fetches = 0  # key sets fetched, for tests and metrics

    async def close(self) -> None:
        await self._client.aclose()

    async def key(self, kid: str, algorithm: str) -> PyJWK:
        """The issuer's key ``kid`` for ``algorithm``; raises `AuthenticationFailed`."""
        now = time.monotonic()
        fetched = self._fetched_at
        stale = fetched is None or now - fetched >= self.options.refresh_after
        unknown = kid not in self._keys
        may_refetch = fetched is None or now - fetched >= self.options.min_refresh_interval
        if stale or (unknown and may_refetch):
            await self._refresh()
        found = self._usable.get((kid, algorithm))
        if found is not None:
            return found
        import jwt  # PyJWT (and its cryptography) loads only where tokens are checked

        jwk = self._keys.get(kid)
        if jwk is None:
            raise AuthenticationFailed("the token's key is not one of the issuer's")
        if jwk.get("alg", algorithm) != algorithm:
            raise AuthenticationFailed("the token's algorithm is not its key's")
        try:
            # PyJWK checks that the key's type suits the algorithm (an RSA key for PS256...).
            found = jwt.PyJWK(jwk, algorithm=algorithm)
        except jwt.PyJWTError:
            raise AuthenticationFailed("the token's algorithm is not its key's") from None
        self._usable[(kid, algorithm)] = found
        return found

    async def _refresh(self) -> None:
        if self._fetching is None:
            self._fetching = asyncio.ensure_future(self._fetch())
        task = self._fetching
        try:
            await asyncio.shield(task)
        finally:
            if task.done() and self._fetching is task:
                self._fetching = None

    async def _fetch(self) -> None:
        # Counted as fetched even when it fails: an issuer that is down is not asked again
        # on every request; its keys already known stay in use.
        self._fetched_at = time.monotonic()
        self.fetches += 1
        try:
            url = self._jwks_url or await self._discover()
            response = await self._client.get(url)
            response.raise_for_status()
            listed = response.json()["keys"]
            if not isinstance(listed, list):
                raise ValueError("keys is not a list")
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            logger.warning("could not fetch the issuer's keys: %s", exc)
            return
        self._keys = {
            key["kid"]: key
            for key in listed
            if isinstance(key, dict)
            and isinstance(key.get("kid"), str)
            and key.get("use", "sig") == "sig"
        }
        self._usable = {}

    async def _discover(self) -> str:
        url = self.options.issuer.rstrip("/") + "/.well-known/openid-configuration"
        response = await self._client.get(url)
        response.raise_for_status()
        jwks_uri = response.json()["jwks_uri"]
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
            raise ValueError(f"the discovery document names no https jwks_uri: {jwks_uri!r}")
        self._jwks_url = jwks_uri
        return jwks_uri


class TokenVerifier:
    def __init__(self, options: OidcOptions) -> None:
        self.options = options
        self.keys = KeySet(options)

    async def close(self) -> None:
        await self.keys.close()

    async def caller(self, token: str) -> Caller:
        """The caller a JWT names; raises `AuthenticationFailed` with the reason."""
        import jwt  # see KeySet.key

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationFailed("the bearer token is not a JWT") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in self.options.algorithms:
            raise AuthenticationFailed(f"the token's algorithm {algorithm!r} is not accepted")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationFailed("the token names no key (kid)")
        key = await self.keys.key(kid, algorithm)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.options.audience,
                issuer=self.options.issuer,
                leeway=self.options.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationFailed("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthenticationFailed("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationFailed("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationFailed("the token is from another issuer") from None
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"the token is not valid: {exc}") from None
        role = self._role(claims)
        return Caller(name=f"oidc:{claims['sub']}", role=role, expires_at=float(claims["exp"]))

    def _role(self, claims: Mapping[str, Any]) -> Role:
        value: Any = claims
        for step in self.options.role_claim.split("."):
            value = value.get(step) if isinstance(value, Mapping) else None
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        known = self.options.roles
        found = {known[v] for v in values if isinstance(v, str) and v in known}
        if not found:
            raise AuthenticationFailed(
                f"the token carries no Accord role in its {self.options.role_claim} claim"
            )
        if len(found) > 1:
            raise AuthenticationFailed("the token carries several Accord roles")
        return found.pop()


class BearerAuthenticator:
    """Callers by API key, and by JWT when an issuer is configured (`api.auth.Authenticator`).

    A bearer credential shaped like a JWT goes to the token verifier, anything else is an
    API key; without credentials, the API keys' rule on anonymous callers applies."""

    def __init__(self, keys: ApiKeyAuthenticator, tokens: TokenVerifier | None = None) -> None:
        self.keys = keys
        self.tokens = tokens

    async def caller(self, authorization: str | None) -> Caller:
        if authorization is None:
            return await self.keys.caller(None)
        credentials = bearer_token(authorization)
        if self.tokens is not None and looks_like_jwt(credentials):
            return await self.tokens.caller(credentials)
        return self.keys.caller_for_key(credentials)

    async def close(self) -> None:
        if self.tokens is not None:
            await self.tokens.close()
