"""Errors from the event bus.

Hierarchy::

    BusError
    ├── BusUnavailable        Redis cannot be reached (refused, reset, timed out)
    ├── BusClosed             the bus was closed; it is not used afterwards
    └── SubscriberOverflow    a subscriber fell too far behind and was dropped
"""

from __future__ import annotations

__all__ = ["BusClosed", "BusError", "BusUnavailable", "SubscriberOverflow"]


class BusError(Exception):
    """Base of every event-bus failure."""


class BusUnavailable(BusError):
    """The bus's Redis cannot be reached; nothing can be assumed about the last operation."""


class BusClosed(BusError):
    """The bus was closed before or during the call."""


class SubscriberOverflow(BusError):
    """Raised from a subscription's iterator after it fell `limit` events behind.

    The bus never skips events silently: a subscriber that cannot keep up is dropped. It
    received every event before the overflow, in order; to go on, subscribe again and re-read
    the current state, since events published meanwhile are gone for it.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the subscriber fell more than {limit} events behind and was dropped; "
            "subscribe again and re-read the current state"
        )
        self.limit = limit
