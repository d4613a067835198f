"""Log an outage as a person reads it: one line when it starts, one when it ends.

A loop that polls a source, or a task that keeps using the state backend, would otherwise
log every failed round (often with a traceback) for as long as the dependency stays down. An
`OutageLog` turns that into a warning when the first failure comes (with its reason), a
reminder at most every ``remind_every`` seconds while it lasts, and an info line when the
next success comes. The reason is the exception's message, never a traceback: an outage is
an expected condition, not a bug.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["OutageLog"]


class OutageLog:
    """The up/down log of one dependency, as seen by one loop (``what`` names both)."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        remind_every: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.what = what
        self.remind_every = remind_every
        self.clock = clock
        self.down_since: float | None = None
        self._told_at = 0.0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, reason: BaseException | str) -> None:
        """A round failed: logged when the outage starts, and now and then while it lasts."""
        now = self.clock()
        text = reason if isinstance(reason, str) else _reason(reason)
        if self.down_since is None:
            self.down_since = self._told_at = now
            self.logger.warning("%s is unavailable: %s", self.what, text)
        elif now - self._told_at >= self.remind_every:
            self._told_at = now
            self.logger.warning(
                "%s is still unavailable after %.0f s: %s", self.what, now - self.down_since, text
            )

    def succeeded(self) -> None:
        """A round succeeded: logged when it ends an outage."""
        if self.down_since is None:
            return
        lasted = self.clock() - self.down_since
        self.down_since = None
        self.logger.info("%s is available again after %.1f s", self.what, lasted)


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
