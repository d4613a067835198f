"""How many WebSocket connections and subscriptions each caller holds, across all of them.

A caller (an API key, a token's subject; an anonymous caller by its address) may hold at
most ``max_connections`` graphql-transport-ws connections and ``max_subscriptions``
subscriptions at once over all its connections and server-sent event streams, besides the
cap on operations per connection. The counts are of this process: each replica enforces
them on the connections it serves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


class TooMany(Exception):
    """The caller already holds as many as it may."""


@dataclass(frozen=True)
class CallerLimits:
    max_connections: int = 10  # graphql-transport-ws connections of one caller
    max_subscriptions: int = 50  # subscriptions of one caller, over all its connections


class CallerSlots:
    def __init__(self, limits: CallerLimits = CallerLimits()) -> None:
        self.limits = limits
        self._connections: Counter[str] = Counter()
        self._subscriptions: Counter[str] = Counter()

    def connect(self, caller: str) -> None:
        """Take a connection slot; raises `TooMany`."""
        if self._connections[caller] >= self.limits.max_connections:
            raise TooMany(f"this caller holds {self.limits.max_connections} connections already")
        self._connections[caller] += 1

    def disconnect(self, caller: str) -> None:
        self._connections[caller] -= 1
        if self._connections[caller] <= 0:
            del self._connections[caller]

    def subscribe(self, caller: str) -> None:
        """Take a subscription slot; raises `TooMany`."""
        if self._subscriptions[caller] >= self.limits.max_subscriptions:
            raise TooMany(
                f"this caller holds {self.limits.max_subscriptions} subscriptions already"
            )
        self._subscriptions[caller] += 1

    def unsubscribe(self, caller: str) -> None:
        self._subscriptions[caller] -= 1
        if self._subscriptions[caller] <= 0:
            del self._subscriptions[caller]

    def totals(self) -> tuple[int, int]:
        """(connections, subscriptions) held by every caller together."""
        return sum(self._connections.values()), sum(self._subscriptions.values())

    def held(self, caller: str) -> tuple[int, int]:
        """(connections, subscriptions) ``caller`` holds."""
        return self._connections[caller], self._subscriptions[caller]

    def subscriptions(self) -> int:
        """Subscriptions open, every caller's together."""
        return sum(self._subscriptions.values())
