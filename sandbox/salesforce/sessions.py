"""Session ids (access tokens) of the emulated org.

A session id looks like Salesforce's: the 15-character org id, ``!``, and a random tail. A
session expires after ``ttl_seconds`` without use, as Salesforce's session timeout does (each
authenticated call starts the inactivity clock again).
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass

_TAIL_ALPHABET = string.ascii_letters + string.digits + "._"
_PRUNE_AT = 10_000


@dataclass
class Session:
    token: str
    user_id: str
    issued: float
    last_used: float


class Sessions:
    def __init__(
        self, org_id: str, ttl_seconds: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.org_id = org_id
        self.ttl = ttl_seconds
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def issue(self, user_id: str) -> Session:
        if len(self._sessions) >= _PRUNE_AT:
            self._prune()
        tail = "".join(secrets.choice(_TAIL_ALPHABET) for _ in range(96))
        now = self._clock()
        session = Session(f"{self.org_id[:15]}!{tail}", user_id, now, now)
        self._sessions[session.token] = session
        return session

    def check(self, token: str) -> Session | None:
        """The live session for ``token`` (its inactivity clock restarted), or None."""
        session = self._sessions.get(token)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_used > self.ttl:
            del self._sessions[token]
            return None
        session.last_used = now
        return session

    def revoke(self, token: str) -> bool:
        return self._sessions.pop(token, None) is not None

    def expire_all(self) -> int:
        count = len(self._sessions)
        self._sessions.clear()
        return count

    def _prune(self) -> None:
        now = self._clock()
        for token in [t for t, s in self._sessions.items() if now - s.last_used > self.ttl]:
            del self._sessions[token]
