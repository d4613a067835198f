"""Caller identity: who sends a request, from its ``Authorization`` header.

`Authenticator` is the interface (every way in calls its ``caller`` before anything else);
`ApiKeyAuthenticator` maps API keys (``Authorization: Bearer <key>``) to roles by
configuration (``ACCORD_API_KEYS``), and the sandbox adds its demo keys ``demo-sales``,
``demo-finance``, ``demo-ops`` and ``demo-analytics``; `api.identity` adds OpenID Connect
bearer tokens. A request without credentials is anonymous (reads only, and only where
anonymous reads are allowed: otherwise it is refused like unknown credentials, on every way
in); a request with credentials Accord does not know is refused with 401. Keys are compared
in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Protocol

from starlette.requests import HTTPConnection

from domain.caller import ANONYMOUS, Caller
from domain.ownership import Role

DEMO_KEYS: dict[str, Role] = {f"demo-{role.value}": role for role in Role}


class AuthenticationFailed(Exception):
    """The request carries credentials that identify nobody."""


class Authenticator(Protocol):
    async def caller(self, authorization: str | None) -> Caller:
        """The caller an ``Authorization`` header value names (None: no header); raises
        `AuthenticationFailed` for credentials that identify nobody."""


def bearer_token(authorization: str) -> str:
    """The credentials of ``Bearer <credentials>``; raises `AuthenticationFailed` otherwise."""
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise AuthenticationFailed("use Authorization: Bearer <API key or token>")
    return credentials.strip()


class ApiKeyAuthenticator:
    def __init__(self, keys: Mapping[str, Role], *, anonymous: bool = True) -> None:
        """``anonymous``: whether a request without credentials is served (as `ANONYMOUS`)."""
        # A digest names the key in the audit trail and idempotency records without showing it,
        # and two keys never share a name.
        self._keys = [
            (
                key.encode(),
                Caller(
                    name=f"api-key:{hashlib.sha256(key.encode()).hexdigest()[:12]}:{role.value}",
                    role=role,
                ),
            )
            for key, role in keys.items()
        ]
        self.anonymous = anonymous

    def caller_for_key(self, key: str) -> Caller:
        presented = key.encode()
        found: Caller | None = None
        for known, caller in self._keys:
            # Compare with every key, so the time taken does not tell which one matched.
            if hmac.compare_digest(known, presented):
                found = caller
        if found is None:
            raise AuthenticationFailed("unknown API key")
        return found

    async def caller(self, authorization: str | None) -> Caller:
        if authorization is None:
            if not self.anonymous:
                raise AuthenticationFailed("send Authorization: Bearer <API key>")
            return ANONYMOUS
        return self.caller_for_key(bearer_token(authorization))

    async def authenticate(self, connection: HTTPConnection) -> Caller:
        return await self.caller(connection.headers.get("authorization"))


def parse_api_keys(text: str) -> dict[str, Role]:
    """``key=role,key=role`` (roles: sales, finance, ops, analytics) into a mapping."""
    keys: dict[str, Role] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, role = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item!r} is not key=role")
        try:
            keys[key.strip()] = Role(role.strip())
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise ValueError(f"{role.strip()!r} is not a role ({roles})") from None
        if len(key.strip()) < 16:
            raise ValueError(f"the API key for {role.strip()} is shorter than 16 characters")
    return keys
