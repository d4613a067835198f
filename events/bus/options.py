"""The bus's tunables, shared by the memory and Redis implementations."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["BusOptions"]

_SECONDS = (
    "claim_idle",
    "block",
    "reconnect_min",
    "reconnect_max",
    "connect_timeout",
    "command_timeout",
    "close_timeout",
)


@dataclass(frozen=True, slots=True)
class BusOptions:
    """Limits and timings of an event bus; the defaults suit production."""

    max_length: int = 10_000
    """Entries the durable log keeps (Redis trims with ``MAXLEN ~``: at least this many)."""
    subscriber_queue: int = 1_000
    """Events buffered for one subscriber; one more and it is dropped (`SubscriberOverflow`)."""
    claim_idle: float = 30.0
    """Seconds an unacknowledged entry waits before another consumer of its group takes it.

    Must exceed the longest a handler runs, or a slow (not dead) consumer's entry is handled
    twice; idempotent handlers make that harmless, but not free.
    """
    max_deliveries: int = 5
    """Deliveries of one entry to a group before it is moved to the group's dead letters."""
    batch: int = 100
    """Entries read or claimed per round trip."""
    block: float = 2.0
    """Seconds one blocking read waits on Redis before it is issued again."""
    reconnect_min: float = 0.1
    reconnect_max: float = 5.0
    """Pause after a failed Redis call: doubles from `reconnect_min` up to `reconnect_max`."""
    dead_letter_max_length: int = 10_000
    """Dead letters kept per group (oldest dropped first)."""
    connect_timeout: float = 2.0
    command_timeout: float = 5.0
    close_timeout: float = 5.0
    """Seconds `close` waits for running handlers to finish before it drops the connections."""

    def __post_init__(self) -> None:
        for name in ("max_length", "subscriber_queue", "max_deliveries", "batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if self.dead_letter_max_length < 1:
            raise ValueError("dead_letter_max_length must be a positive integer")
        for name in _SECONDS:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("reconnect_max must not be less than reconnect_min")
