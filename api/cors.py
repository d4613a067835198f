"""Cross-origin requests from browsers: which web origins may call Accord, and how.

`CorsPolicy` is the allowlist (``ACCORD_CORS_ORIGINS``): exact origins
(``https://portal.example.com``, ``http://127.0.0.1:5173``), patterns whose leftmost label is
``*`` (``https://*.lightning.force.com``: one DNS label, so ``acme.lightning.force.com``
matches and ``lightning.force.com.evil.example`` or ``a.b.lightning.force.com`` do not), or
``*`` alone (any origin, never with credentials). `parse_origins` turns the setting into one,
naming every entry it refuses.

`CorsMiddleware` serves the policy with Starlette's `CORSMiddleware` behind a gate, because
Starlette's on its own sends CORS headers to origins it refuses (``Access-Control-Allow-*``
on every preflight answer, ``Access-Control-Allow-Credentials`` on every response to a
request with an ``Origin``) and, given ``*`` with credentials, reflects any origin as
allowed. Here:

- a request from an origin off the list reaches Accord as if CORS did not exist: no
  ``Access-Control-*`` header, so the browser withholds the answer from the page;
- a preflight is answered 204 with the grant only when origin, method (GET, POST) and every
  requested header (``Authorization``, ``Content-Type`` and the CORS-safelisted ones) are
  allowed; any other preflight is refused with 403 and no ``Access-Control-*`` header;
- credentials (cookies) are allowed only when asked for and every entry is an exact origin:
  Accord's own credential is a bearer token, which needs no credentials mode.

WebSocket connections are not subject to CORS and pass through untouched.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware as StarletteCors
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("accord.cors")

ALLOWED_METHODS = ("GET", "POST")
# What a GraphQL client sends beyond the safelisted headers (Accept, Content-Language, ...).
ALLOWED_HEADERS = ("Authorization", "Content-Type")
# Chromium caps a preflight's cache at two hours; a refused origin loses access at once
# all the same, since every actual response must carry the grant too.
MAX_AGE_SECONDS = 7200
_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\]")


class OriginError(ValueError):
    """An ``ACCORD_CORS_ORIGINS`` entry that is not an origin or an origin pattern."""


@dataclass(frozen=True)
class CorsPolicy:
    """Who may call Accord from a browser page."""

    exact: tuple[str, ...] = ()  # "https://portal.example.com"
    patterns: tuple[str, ...] = ()  # "https://*.lightning.force.com"
    any_origin: bool = False  # "*"
    credentials: bool = False

    def __post_init__(self) -> None:
        if self.credentials and (self.any_origin or self.patterns):
            raise OriginError(
                "credentials need every allowed origin named exactly (no * and no *. pattern)"
            )

    def origin_regex(self) -> str | None:
        """One anchored regular expression for the patterns (None without patterns)."""
        if not self.patterns:
            return None
        alternatives = []
        for pattern in self.patterns:
            scheme, rest = pattern.split("://", 1)
            suffix = rest.removeprefix("*.")
            alternatives.append(rf"{re.escape(scheme)}://{_LABEL}\.{re.escape(suffix)}")
        # Starlette matches with fullmatch; the anchors say so to a reader as well.
        return r"\A(?:" + "|".join(alternatives) + r")\Z"

    def allows(self, origin: str) -> bool:
        if self.any_origin or origin in self.exact:
            return True
        regex = self.origin_regex()
        return regex is not None and re.fullmatch(regex, origin) is not None


def parse_origins(text: str, *, credentials: bool = False) -> CorsPolicy:
    """``ACCORD_CORS_ORIGINS`` (comma-separated) as a policy; raises `OriginError` listing
    every entry that is not usable."""
    exact: list[str] = []
    patterns: list[str] = []
    any_origin = False
    problems: list[str] = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        if entry == "*":
            any_origin = True
            continue
        try:
            origin = _origin(entry)
        except OriginError as exc:
            problems.append(f"{entry!r} {exc}")
            continue
        (patterns if "*" in origin else exact).append(origin)
    if problems:
        raise OriginError("; ".join(problems))
    return CorsPolicy(
        exact=tuple(dict.fromkeys(exact)),
        patterns=tuple(dict.fromkeys(patterns)),
        any_origin=any_origin,
        credentials=credentials,
    )


def _origin(entry: str) -> str:
    """One entry, checked and in the form browsers send (lower-case scheme and host)."""
    if entry.lower() == "null":
        raise OriginError(
            "is the opaque origin of sandboxed frames and files; it cannot be allowed"
        )
    scheme, sep, rest = entry.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise OriginError("is not an origin: use scheme://host[:port] with http or https")
    try:
        parts = urlsplit(entry)
    except ValueError:
        raise OriginError("does not name a host") from None
    if rest.rstrip("/") != rest or parts.path or parts.query or parts.fragment:
        raise OriginError("has a path, query or trailing slash: an origin is scheme://host[:port]")
    if "@" in parts.netloc:
        raise OriginError("has user information: an origin is scheme://host[:port]")
    host, port = parts.netloc.lower(), ""
    if ":" in host and not host.endswith("]"):
        host, _, port = host.rpartition(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise OriginError(f"has a port {port!r} that is not a number from 1 to 65535")
    if port == _DEFAULT_PORTS[scheme.lower()]:
        port = ""  # browsers leave the scheme's default port out of Origin
    name = host.removeprefix("*.")
    if "*" in name:
        raise OriginError(
            "has a * elsewhere than as the whole leftmost label (https://*.example.com)"
        )
    if host.startswith("*.") and "." not in name:
        raise OriginError("matches under a top-level domain: name at least two labels after *.")
    if not _HOST.fullmatch(name):
        raise OriginError("does not name a host")
    return f"{scheme.lower()}://{host}" + (f":{port}" if port else "")


class CorsMiddleware:
    """`CorsPolicy` at the edge of the application (see the module's docstring)."""

    def __init__(self, app: ASGIApp, policy: CorsPolicy) -> None:
        self.app = app
        self.policy = policy
        self._cors = StarletteCors(
            app,
            allow_origins=("*",) if policy.any_origin else policy.exact,
            allow_origin_regex=policy.origin_regex(),
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            allow_credentials=policy.credentials,
            max_age=MAX_AGE_SECONDS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self._cors.is_allowed_origin(origin)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(headers, allowed)(scope, receive, send)
        elif allowed:
            await self._cors(scope, receive, send)
        else:
            await self.app(scope, receive, _vary_origin(send))

    def _preflight(self, headers: Headers, allowed: bool) -> Response:
        granted = self._cors.preflight_response(request_headers=headers) if allowed else None
        if granted is not None and granted.status_code == 200:
            # The grant's headers with an empty 204: browsers need no body.
            response = Response(status_code=204)
            for name, value in granted.headers.items():
                if name.lower() not in ("content-length", "content-type"):
                    response.headers[name] = value
            return response
        reason = "origin" if not allowed else _refused_part(granted)
        # A client's mistake: worth a line for whoever debugs it, not an error of Accord's.
        logger.info(
            "CORS preflight refused (%s): origin %r, method %r, headers %r",
            reason,
            headers.get("origin"),
            headers.get("access-control-request-method"),
            headers.get("access-control-request-headers"),
        )
        return PlainTextResponse(
            f"CORS preflight refused: {reason} not allowed",
            status_code=403,
            headers={"Vary": _PREFLIGHT_VARY, "Cache-Control": "no-store"},
        )


def _refused_part(response: Response | None) -> str:
    """What Starlette's refusal names (its body reads "Disallowed CORS method, headers")."""
    if response is None:
        return "request"
    body = bytes(response.body).decode("utf-8", "replace")
    return body.removeprefix("Disallowed CORS ").strip() or "request"


def _vary_origin(send: Send) -> Send:
    """Say that the answer depends on ``Origin`` (another origin's may carry a grant), so that
    no shared cache serves one origin's answer to another."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            headers.add_vary_header("Origin")
        await send(message)

    return sending
