"""Idempotency records: a retried mutation returns its first result and posts nothing twice.

Every mutation takes an idempotency key. Before doing anything, it calls
`IdempotencyStore.begin` with its scope (the mutation's name), the client's key and the
`fingerprint` of its input, and acts on the outcome:

- `Started`: this caller claimed the key; it runs the mutation, then calls `complete` with the
  result (kept for `ttl`, 24 h by default) or, on a bug, `abandon` so that a retry may run.
- `Stored`: the key already ran with this input; answer with `Stored.result`, the first result.
- `Mismatch`: the key was used with a different input; refuse the call.

A caller that finds the key running elsewhere with the same input waits (polling) for that
run to finish and then gets `Stored`, so that two replicas receiving the same retry never both
post. A claim lasts `running_ttl` (2 min): a claim whose process died expires, and the next
caller takes it over (`Started`). Claims and results are one JSON record per key, written only
by compare-and-set, so the store is exact on any `StateBackend`:

    <p>kv:idem:<scope>:<key>
      {"state": "running",   "fingerprint": ..., "token": ...}              TTL running_ttl
      {"state": "done",      "fingerprint": ..., "token": ..., "result": ...} TTL ttl
      {"state": "abandoned"}                                                 TTL running_ttl
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from state.backend import StateBackend
from state.codec import encode
from state.errors import (
    IdempotencyClaimLost,
    IdempotencyTimeout,
    StateValueError,
)

__all__ = [
    "IdempotencyClaimLost",
    "IdempotencyStore",
    "IdempotencyTimeout",
    "Mismatch",
    "Started",
    "Stored",
    "fingerprint",
]

_RUNNING, _DONE, _ABANDONED = "running", "done", "abandoned"
_MAX_POLL = 0.25
"""Longest pause between two looks at a running key; pauses grow from `poll` to this."""


@dataclass(frozen=True)
class Stored:
    """The key already ran with the same input: `result` is its first result, to replay."""

    result: Any


@dataclass(frozen=True)
class Started:
    """This caller holds the key: run the mutation, then `complete` or `abandon` with `token`."""

    token: str


@dataclass(frozen=True)
class Mismatch:
    """The key was used with a different input, whose fingerprint this is: refuse the call."""

    fingerprint: str


def fingerprint(value: Any) -> str:
    """SHA-256 (hex) of `value`'s canonical JSON: sorted keys, no spaces, UTF-8.

    Stable across processes and releases, since records outlive both; every part of `value`
    counts. Normalise inputs first where two spellings mean one thing (``1`` vs ``1.0``).
    """
    return hashlib.sha256(encode(value).encode("utf-8")).hexdigest()


def _token_fingerprint(token: str) -> str:
    """The fingerprint a token was issued for: tokens are ``<nonce>:<fingerprint>``."""
    nonce, sep, value = token.partition(":")
    if not (sep and nonce and value):
        raise ValueError(f"{token!r} is not a token from IdempotencyStore.begin")
    return value


class IdempotencyStore:
    """Idempotency records over any `StateBackend`; see the module docstring."""

    def __init__(
        self,
        backend: StateBackend,
        *,
        ttl: float = 86400,
        running_ttl: float = 120,
        poll: float = 0.02,
        wait: float = 30.0,
    ) -> None:
        self._backend = backend
        self.ttl = ttl
        self.running_ttl = running_ttl
        self.poll = poll
        self.wait = wait

    @staticmethod
    def _key(scope: str, key: str) -> str:
        if not scope or ":" in scope:
            raise ValueError(f"an idempotency scope is a non-empty name without ':', not {scope!r}")
        return f"idem:{scope}:{key}"

    async def _record(self, name: str) -> dict[str, Any] | None:
        record = await self._backend.get(name)
        if record is None or isinstance(record, dict):
            return record
        raise StateValueError(f"key {name!r} does not hold an idempotency record")

    async def begin(
        self, scope: str, key: str, fingerprint: str, *, wait: float | None = None
    ) -> Stored | Started | Mismatch:
        """Claim (scope, key) for this input, or learn what became of it; see the module docs.

        Raises `IdempotencyTimeout` when another caller is still running the same key with
        the same input after `wait` seconds (default: the store's `wait`).
        """
        wait = self.wait if wait is None else wait
        name = self._key(scope, key)
        token = f"{secrets.token_hex(16)}:{fingerprint}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        pause = self.poll
        while True:
            record = await self._record(name)
            if record is None or record.get("state") == _ABANDONED:
                claim = {"state": _RUNNING, "fingerprint": fingerprint, "token": token}
                if await self._backend.compare_and_set(name, record, claim, ttl=self.running_ttl):
                    return Started(token)
                continue  # someone else changed it first: look again
            if record["fingerprint"] != fingerprint:
                return Mismatch(record["fingerprint"])
            if record["state"] == _DONE:
                return Stored(record["result"])
            left = deadline - loop.time()
            if left <= 0:
                raise IdempotencyTimeout(
                    f"{scope} {key!r} was still running elsewhere after {wait} s",
                    scope=scope,
                    key=key,
                )
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, max(self.poll, _MAX_POLL))

    async def extend(self, scope: str, key: str, token: str) -> bool:
        """Restart the running claim's `running_ttl`, so a long run keeps its claim while its
        process lives; False when `token` no longer holds a running claim."""
        name = self._key(scope, key)
        record = await self._record(name)
        if record is None or record.get("state") != _RUNNING or record.get("token") != token:
            return False
        return await self._backend.compare_and_set(name, record, record, ttl=self.running_ttl)

    async def complete(self, scope: str, key: str, token: str, result: Any) -> None:
        """Keep `result` for `ttl` seconds as the answer to every later call with this input.

        If the claim expired and nobody took the key over, the result is still kept (the
        mutation did run). Raises `IdempotencyClaimLost` if another caller took it over.
        """
        name = self._key(scope, key)
        done = {
            "state": _DONE,
            "fingerprint": _token_fingerprint(token),
            "token": token,
            "result": result,
        }
        encode(done)  # a result that is not JSON fails here, before the claim is touched
        while True:
            record = await self._record(name)
            if record is not None and record.get("state") != _ABANDONED:
                if record.get("token") != token:
                    raise IdempotencyClaimLost(
                        f"{scope} {key!r} was taken over by another caller; result not kept",
                        scope=scope,
                        key=key,
                    )
                if record["state"] == _DONE:
                    return  # completed already, with this very token
            if await self._backend.compare_and_set(name, record, done, ttl=self.ttl):
                return

    async def abandon(self, scope: str, key: str, token: str) -> None:
        """Give up the claim so that a retry may run; a no-op unless `token` still holds it.

        A completed key keeps its result: abandoning never undoes `complete`.
        """
        name = self._key(scope, key)
        while True:
            record = await self._record(name)
            if record is None or record.get("state") != _RUNNING or record.get("token") != token:
                return
            # A tombstone rather than a delete: compare-and-set is the only atomic write, and
            # begin treats the tombstone as absent.
            tombstone = {"state": _ABANDONED}
            if await self._backend.compare_and_set(name, record, tombstone, ttl=self.running_ttl):
                return
