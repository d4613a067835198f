"""Caches bounded by bytes as well as entries: whichever limit is reached first evicts."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cache.bounded import SizedLRUCache, SizedTLRUCache, approximate_size


@dataclass(frozen=True)
class Invoice:
    number: str
    amount: Decimal
    lines: tuple[str, ...]


def test_the_estimate_grows_with_what_a_value_holds() -> None:
    small = Invoice("INV-1", Decimal("10.00"), ("one line",))
    large = Invoice("INV-2", Decimal("10.00"), tuple(f"line {n}" for n in range(1000)))

    assert approximate_size(large) > 50 * approximate_size(small)
    assert approximate_size("x" * 10_000) > 10_000
    assert approximate_size({"a": ["b"] * 100}) > approximate_size({"a": ["b"]})


def test_bytes_evict_before_the_entry_count_is_reached() -> None:
    # given a cache of 1,000 entries but 10 KB, filled with 1 KB values
    cache: SizedLRUCache[int, str] = SizedLRUCache(1000, 10_000, lambda v: len(v))
    for n in range(50):
        cache[n] = "x" * 1000

    # then only the ten most recent fit
    assert sorted(cache) == list(range(40, 50))
    assert cache.currsize <= 10_000


def test_entries_evict_when_values_are_tiny() -> None:
    cache: SizedLRUCache[int, str] = SizedLRUCache(5, 10_000_000)
    for n in range(20):
        cache[n] = "v"
    assert sorted(cache) == [15, 16, 17, 18, 19]


def test_a_value_larger_than_the_whole_budget_is_not_kept() -> None:
    cache: SizedLRUCache[str, str] = SizedLRUCache(10, 100, lambda v: len(v))
    cache["small"] = "ok"
    cache["huge"] = "x" * 1000
    assert "huge" not in cache
    assert cache["small"] == "ok"


def test_the_timed_cache_keeps_both_bounds_and_its_times() -> None:
    now = [0.0]
    cache: SizedTLRUCache[int, str] = SizedTLRUCache(
        3, 2_000, lambda _k, _v, at: at + 10, timer=lambda: now[0], sizeof=len
    )
    for n in range(5):
        cache[n] = "x" * 600
    assert sorted(cache) == [2, 3, 4]  # 3 entries of 600 bytes fit in 2,000
    now[0] = 11.0
    assert list(cache) == []  # expired
