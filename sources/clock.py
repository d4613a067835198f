"""A source's own clock, read from the ``Date`` header of its HTTP answers.

Every HTTP answer from Salesforce and NetSuite carries ``Date`` (RFC 9110): the source's time
to the second when it answered. `SourceClock` keeps the offset between that and this machine's
clock, so Accord can tell what time it is *at the source* without a call of its own: a poller
never keeps a watermark later than the source's present (records stamped in the source's
future would otherwise hide every change made until that moment), and "overdue" is judged by
the source's date, not this machine's.

The header is truncated to the second and read after the answer left the source, so each
reading runs up to about a second behind the source, never ahead of it. The clock keeps the
closest reading (the largest offset), so its estimate never steps back between answers; a
reading more than `STEP_BACK` seconds behind it means the source's clock was set back, and
replaces it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

__all__ = ["STEP_BACK", "SourceClock", "utc_today"]

STEP_BACK = 5.0


class SourceClock:
    def __init__(self, *, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._offset: float | None = None  # source time minus local time, in seconds
        # the last header read and its instant: answers within one second carry the same
        self._last: tuple[str, float] = ("", 0.0)

    def observe(self, date_header: str | None) -> None:
        """Take the source's time from a ``Date`` header value (ignored when unreadable)."""
        if not date_header:
            return
        if date_header == self._last[0]:
            instant = self._last[1]
        else:
            try:
                stamp = parsedate_to_datetime(date_header)
            except (TypeError, ValueError, IndexError):
                return
            if stamp.tzinfo is None:  # "-0000": UTC with no claim about the local zone
                stamp = stamp.replace(tzinfo=dt.UTC)
            instant = stamp.timestamp()
            self._last = (date_header, instant)
        offset = instant - self._wall()
        if self._offset is None or offset > self._offset or offset < self._offset - STEP_BACK:
            self._offset = offset

    @property
    def known(self) -> bool:
        return self._offset is not None

    def now(self) -> dt.datetime | None:
        """The source's present, or None before any answer came with a ``Date``."""
        if self._offset is None:
            return None
        return dt.datetime.fromtimestamp(self._wall() + self._offset, dt.UTC)

    def today(self) -> dt.date:
        """The source's date (UTC); this machine's UTC date until the source has answered."""
        now = self.now()
        return (now or dt.datetime.now(dt.UTC)).date()


def utc_today() -> dt.date:
    """Today's date in UTC, whatever this machine's time zone."""
    return dt.datetime.now(dt.UTC).date()
