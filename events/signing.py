"""Webhook signatures: HMAC-SHA256 over a timestamp and the raw body.

A signed request carries::

    X-Accord-Signature: t=1767607872,v1=5257a869e7ec...,v1=9f3c...
    X-Accord-Event-Id: 3f0b6c1e-...

``t`` is the sender's clock in Unix seconds; each ``v1`` is the hex HMAC-SHA256, keyed with
a shared secret, of ``"<t>.<raw body>"``. A sender rotating its secret signs with the new and
the old one (two ``v1``); a receiver accepts any ``v1`` that matches any of its secrets.
Binding ``t`` into the MAC and refusing timestamps outside a tolerance window (300 s either
way by default) bounds how long a captured request can be replayed; the receiver's record of
event ids seen (`api.webhooks`) refuses a replay within that window.

Verification compares in constant time (`hmac.compare_digest`) and fails closed: a missing
or malformed header, no ``v1``, a stale or future timestamp, or no match each raise
`SignatureError` with a reason, which the intake answers with 401.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "X-Accord-Signature"
EVENT_ID_HEADER = "X-Accord-Event-Id"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300.0
MAX_HEADER_LENGTH = 2048  # a few signatures; anything longer is not ours

Secrets = str | bytes | Sequence[str | bytes]


class SignatureError(Exception):
    """The signature does not prove the request came from a holder of the secret, now.

    ``reason`` is one of ``missing``, ``malformed``, ``stale``, ``future``, ``mismatch``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _secrets(secrets: Secrets) -> list[bytes]:
    items = [secrets] if isinstance(secrets, str | bytes) else list(secrets)
    keys = [item.encode() if isinstance(item, str) else bytes(item) for item in items]
    if not keys or any(not key for key in keys):
        raise ValueError("a webhook secret must be a non-empty string")
    return keys


def compute(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with ``secret``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secrets: Secrets, body: bytes, *, timestamp: int | None = None) -> str:
    """The ``X-Accord-Signature`` value for ``body``: one ``v1`` per secret, newest first."""
    stamp = int(time.time()) if timestamp is None else timestamp
    signatures = [f"{SCHEME}={compute(key, stamp, body)}" for key in _secrets(secrets)]
    return ",".join([f"t={stamp}", *signatures])


def parse_header(header: str) -> tuple[int, list[str]]:
    """(timestamp, v1 signatures) of a header; `SignatureError` ``malformed`` when it is not one.

    Pairs of other schemes are ignored, so a sender may add one without breaking receivers.
    """
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError("malformed", "signature header too long")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or not key:
            raise SignatureError("malformed", "signature header is not t=<seconds>,v1=<hex>")
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                raise SignatureError("malformed", "signature timestamp is not one whole number")
            if len(value) > 12:
                raise SignatureError("malformed", "signature timestamp out of range")
            timestamp = int(value)
        elif key == SCHEME:
            if len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
                raise SignatureError("malformed", "a v1 signature is 64 lower-case hex digits")
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("malformed", "signature header without t=")
    if not signatures:
        raise SignatureError("malformed", "signature header without v1=")
    return timestamp, signatures


def verify(
    header: str | None,
    body: bytes,
    secrets: Secrets,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check ``header`` signs ``body`` with one of ``secrets``, within ``tolerance`` seconds.

    Returns the signed timestamp; raises `SignatureError` otherwise. Every candidate is
    compared (constant time each), so the time taken does not tell which secret matched.
    """
    if header is None or not header.strip():
        raise SignatureError("missing", f"{SIGNATURE_HEADER} header missing")
    timestamp, signatures = parse_header(header)
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise SignatureError("stale", "signature timestamp is outside the tolerance window")
    if timestamp > current + tolerance:
        raise SignatureError("future", "signature timestamp is in the future")
    matched = False
    for key in _secrets(secrets):
        expected = compute(key, timestamp, body)
        for candidate in signatures:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("mismatch", "no signature matches the body")
    return timestamp
