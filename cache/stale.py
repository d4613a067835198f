"""Per request: which values were served from the last known copy because a source failed.

The request's context holds one `StaleNotes`; the cache adds a `StaleValue` whenever it answers
a key with a stale copy, and the response carries them as ``extensions.stale``::

    {"stale": [{"source": "netsuite", "entity": "customer_by_key", "key": "CUST-000042",
                "ageSeconds": 41.2, "fields": ["Customer.erpId", "CreditSummary.balance", ...],
                "error": "SOURCE_UNAVAILABLE"}]}

``fields`` names the canonical fields the value feeds (registry paths), so a client can tell
which of its fields may be out of date and by how much.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["StaleNotes", "StaleValue"]


@dataclass(frozen=True)
class StaleValue:
    source: str
    entity: str
    key: str
    age: float  # seconds since the value was read from its source
    fields: tuple[str, ...]
    error: str  # the code of the failure that made it stale (SOURCE_UNAVAILABLE, ...)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "entity": self.entity,
            "key": self.key,
            "ageSeconds": round(self.age, 3),
            "fields": list(self.fields),
            "error": self.error,
        }


class StaleNotes:
    """The stale values one request was answered with, once each."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str, str], StaleValue] = {}

    def add(self, value: StaleValue) -> None:
        self._values.setdefault((value.source, value.entity, value.key), value)

    def __iter__(self) -> Iterator[StaleValue]:
        return iter(self._values.values())

    def __len__(self) -> int:
        return len(self._values)

    def to_json(self) -> list[dict[str, Any]]:
        return [value.to_json() for value in self._values.values()]
