"""The sandbox's clock: real time, or real time shifted so that the start reads a chosen instant.

Both emulators read "now" from one `SandboxClock`: record stamps (``SystemModstamp``,
``lastModifiedDate``), "today" for overdue balances and date literals, the daily API allowance
and the HTTP ``Date`` header. Started with ``--now 2026-12-05T00:30:00Z``, the sandbox behaves
as it would at that moment, and its clock then runs forward at the real rate, so a change made
one second after the start is stamped one second after it. The seed never stamps a record
later than `SandboxClock.start` (see `sandbox.world`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from email.utils import format_datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DateHeader", "SandboxClock", "parse_instant"]


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 timestamp (date and time; no offset means UTC), as an aware UTC datetime.

    Raises `ValueError` for anything else, a bare date included: a start instant needs its time.
    """
    value = text.strip()
    if "T" not in value.upper() and " " not in value:
        raise ValueError(f"{text!r} is not an ISO 8601 timestamp (date and time)")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


class SandboxClock:
    """Reads ``start`` at creation and advances with the machine's monotonic clock."""

    def __init__(
        self,
        start: dt.datetime | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("the start instant needs a time zone")
        self.start = (start or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        self._monotonic = monotonic
        self._origin = monotonic()

    @classmethod
    def fixed_at(cls, start: dt.datetime) -> SandboxClock:
        """A clock that reads ``start`` for ever (unit tests of seed data)."""
        return cls(start, monotonic=lambda: 0.0)

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self._monotonic() - self._origin)

    def today(self) -> dt.date:
        return self.now().date()

    def http_date(self) -> str:
        """``now`` as an HTTP ``Date`` header value (RFC 9110, IMF-fixdate)."""
        return format_datetime(self.now().replace(microsecond=0), usegmt=True)


class DateHeader:
    """ASGI middleware stamping every HTTP response with the sandbox clock's ``Date``.

    Clients read a source's own time from this header (a poller never takes a watermark from
    the source's future), so it must follow `SandboxClock`, not the machine's clock.
    """

    def __init__(self, app: ASGIApp, clock: SandboxClock) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"date"
                ]
                headers.append((b"date", self.clock.http_date().encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)
