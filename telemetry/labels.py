"""Label values with a bound: a metric's label sets must not grow with what callers send."""

from __future__ import annotations

import threading
from collections.abc import Iterable

__all__ = ["BoundedValues"]


class BoundedValues:
    """Admits at most ``limit`` distinct values (besides those ``known`` up front); any value
    after that reads as ``overflow``. A value once admitted stays admitted, so a series never
    changes its label mid-way."""

    def __init__(self, limit: int, *, overflow: str = "other", known: Iterable[str] = ()) -> None:
        self.limit = limit
        self.overflow = overflow
        self._known = set(known)
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def admit(self, value: str) -> str:
        if value in self._known or value in self._seen:
            return value
        with self._lock:
            if len(self._seen) >= self.limit:
                return self.overflow
            self._seen.add(value)
        return value

    def know(self, values: Iterable[str]) -> None:
        """Values always admitted, outside the limit (e.g. registered operations' names)."""
        self._known.update(values)
