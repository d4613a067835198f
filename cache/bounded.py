"""In-process caches bounded by bytes as well as by entries.

A bound on entries alone is no bound on memory: ten thousand customers with a few invoices
each and ten thousand with a few hundred each are the same count and very different sizes,
and so are a thousand one-line GraphQL documents and a thousand of 100 KB. Every cache that
lives as long as the process is therefore one of these: it forgets its least recently used
entries as soon as either their number or their estimated size passes its limit. A value
larger than the whole byte budget is not kept at all (it is served, just not remembered).

`approximate_size` estimates what a value holds in CPython (object headers, string bytes,
the items of containers and the fields of dataclasses), closely enough to bound memory; it
does not follow cycles and counts shared singletons (None, booleans, enum members) as free.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from cachetools import LRUCache, TLRUCache

__all__ = ["SizedLRUCache", "SizedTLRUCache", "approximate_size"]

K = TypeVar("K")
V = TypeVar("V")

_MAX_DEPTH = 8


def approximate_size(value: Any, _depth: int = 0) -> int:
    """Bytes ``value`` and what it holds take, roughly (never less than 1)."""
    if value is None or isinstance(value, bool | enum.Enum):
        return 1
    if isinstance(value, str):
        return 49 + len(value) * (1 if value.isascii() else 4)
    if isinstance(value, bytes | bytearray):
        return 33 + len(value)
    if isinstance(value, int | float):
        return 28
    if isinstance(value, Decimal):
        return 104
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return 48
    if _depth >= _MAX_DEPTH:
        return 64
    if isinstance(value, Mapping):
        return 64 + sum(
            24 + approximate_size(k, _depth + 1) + approximate_size(v, _depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, list | tuple | set | frozenset):
        return 56 + sum(8 + approximate_size(item, _depth + 1) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return 16 + sum(
            8 + approximate_size(getattr(value, field.name), _depth + 1)
            for field in dataclasses.fields(value)
        )
    return 64


class SizedLRUCache(LRUCache[K, V]):
    """An LRU cache of at most ``max_entries`` entries and ``max_bytes`` estimated bytes."""

    def __init__(
        self,
        max_entries: int,
        max_bytes: int,
        sizeof: Callable[[V], int] = approximate_size,
    ) -> None:
        super().__init__(max_bytes, getsizeof=sizeof)
        self.max_entries = max_entries

    def __setitem__(self, key: K, value: V) -> None:
        if self.getsizeof(value) > self.maxsize:
            self.pop(key, None)  # too big to keep: served, not remembered
            return
        super().__setitem__(key, value)
        while len(self) > self.max_entries:
            self.popitem()


class SizedTLRUCache(TLRUCache[K, V]):
    """A TLRU cache (a time to use per entry) of at most ``max_entries`` entries and
    ``max_bytes`` estimated bytes."""

    def __init__(
        self,
        max_entries: int,
        max_bytes: int,
        ttu: Callable[[K, V, float], float],
        *,
        timer: Callable[[], float],
        sizeof: Callable[[V], int] = approximate_size,
    ) -> None:
        super().__init__(max_bytes, ttu, timer=timer, getsizeof=sizeof)
        self.max_entries = max_entries

    def __setitem__(self, key: K, value: V) -> None:
        if self.getsizeof(value) > self.maxsize:
            self.pop(key, None)
            return
        super().__setitem__(key, value)
        while len(self) > self.max_entries:
            self.popitem()
