"""The ``ACCORD_OIDC_*`` variables: the issuer whose bearer tokens (JWTs) name callers
(`api.identity`). Without ``ACCORD_OIDC_ISSUER`` only API keys identify callers.

    ACCORD_OIDC_ISSUER           the issuer, exactly as its tokens' iss (https://...)
    ACCORD_OIDC_AUDIENCE         the audience Accord's tokens are for (required with the issuer)
    ACCORD_OIDC_JWKS_URL         https URL of its key set; default: from the issuer's
                                 /.well-known/openid-configuration
    ACCORD_OIDC_ROLE_CLAIM       the claim holding the role (dotted path), default accord_role
    ACCORD_OIDC_ROLES            value=role,...: claim values to Accord roles; default: the
                                 role names themselves (sales, finance, ops, analytics)
    ACCORD_OIDC_ALGORITHMS       accepted, of RS256, ES256, PS256 (default: all three)
    ACCORD_OIDC_CA_FILE          an extra CA bundle (PEM) for the issuer's HTTPS
"""

from __future__ import annotations

import re
from typing import Protocol
from urllib.parse import urlparse

from api.identity import ALGORITHMS, OidcOptions
from domain.ownership import Role

_CLAIM = re.compile(r"[A-Za-z0-9_:/-]+(\.[A-Za-z0-9_:/-]+)*")


class Reader(Protocol):
    problems: list[str]

    def text(self, name: str) -> str | None: ...

    def file(self, name: str) -> str | None: ...


def read_oidc(read: Reader) -> OidcOptions | None:
    issuer = read.text("ACCORD_OIDC_ISSUER")
    others = [
        name
        for name in (
            "ACCORD_OIDC_AUDIENCE",
            "ACCORD_OIDC_JWKS_URL",
            "ACCORD_OIDC_ROLE_CLAIM",
            "ACCORD_OIDC_ROLES",
            "ACCORD_OIDC_ALGORITHMS",
            "ACCORD_OIDC_CA_FILE",
        )
        if read.text(name) is not None
    ]
    if issuer is None:
        if others:
            read.problems.append(f"{', '.join(others)} need ACCORD_OIDC_ISSUER")
        return None
    problems = len(read.problems)
    _https(read, "ACCORD_OIDC_ISSUER", issuer)
    audience = read.text("ACCORD_OIDC_AUDIENCE")
    if audience is None:
        read.problems.append("ACCORD_OIDC_ISSUER needs ACCORD_OIDC_AUDIENCE")
    jwks_url = read.text("ACCORD_OIDC_JWKS_URL")
    if jwks_url is not None:
        _https(read, "ACCORD_OIDC_JWKS_URL", jwks_url)
    claim = read.text("ACCORD_OIDC_ROLE_CLAIM") or "accord_role"
    if not _CLAIM.fullmatch(claim):
        read.problems.append(f"ACCORD_OIDC_ROLE_CLAIM={claim!r} is not a claim name")
    roles = _roles(read)
    algorithms = _algorithms(read)
    ca_file = read.file("ACCORD_OIDC_CA_FILE")
    if len(read.problems) > problems or audience is None:
        return None
    return OidcOptions(
        issuer=issuer,
        audience=audience,
        jwks_url=jwks_url,
        role_claim=claim,
        roles=roles,
        algorithms=algorithms,
        ca_file=ca_file,
    )


def _https(read: Reader, name: str, value: str) -> None:
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.netloc:
        read.problems.append(f"{name}={value!r} is not an https:// URL")


def _roles(read: Reader) -> dict[str, Role]:
    raw = read.text("ACCORD_OIDC_ROLES")
    if raw is None:
        return {role.value: role for role in Role}
    roles: dict[str, Role] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        value, sep, role = item.rpartition("=")
        try:
            if not sep or not value.strip():
                raise ValueError
            roles[value.strip()] = Role(role.strip())
        except ValueError:
            names = ", ".join(r.value for r in Role)
            read.problems.append(f"ACCORD_OIDC_ROLES: {item!r} is not value=role ({names})")
    return roles


def _algorithms(read: Reader) -> tuple[str, ...]:
    raw = read.text("ACCORD_OIDC_ALGORITHMS")
    if raw is None:
        return ALGORITHMS
    chosen = tuple(part.strip().upper() for part in raw.split(",") if part.strip())
    unknown = [a for a in chosen if a not in ALGORITHMS]
    if unknown or not chosen:
        read.problems.append(f"ACCORD_OIDC_ALGORITHMS={raw!r}: use some of {', '.join(ALGORITHMS)}")
        return ALGORITHMS
    return chosen
