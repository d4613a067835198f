"""The storage contract shared by every replica, and the factory that picks its implementation.

Both implementations keep exactly these semantics; the test-suite in ``tests/state`` runs
against each. Values are JSON (dict, list, str, int, float, bool, None) stored as canonical
JSON (`state.codec`); reads return fresh objects. Keys, index, log and lease names are free
strings; the backend puts its prefix (default ``accord:``) and a namespace per kind in front,
so a value, an index, a log and a lease may share a name. TTLs are seconds (floats); an
expired key behaves exactly like an absent one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from state.codec import DEFAULT_PREFIX
from state.memory_backend import MemoryBackend

if TYPE_CHECKING:
    pass

__all__ = ["DEFAULT_PREFIX", "StateBackend", "open_backend"]


class StateBackend(Protocol):
    name: str
    """``"memory"`` or ``"redis"``."""

    async def ping(self) -> None:
        """Check the backend answers; raises `StateUnavailable` with the reason when not."""

    # -- values ---------------------------------------------------------------------------

    async def get(self, key: str) -> Any | None:
        """The value at `key`, or None when absent or expired."""

    async def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        """The values at `keys`, in order, None for each one absent."""

    async def set(
        self, key: str, value: Any, *, ttl: float | None = None, only_if_absent: bool = False
    ) -> bool:
        """Store `value`, expiring after `ttl` seconds (None: never; a previous TTL is dropped).

        With `only_if_absent`, nothing is written and False returned when the key exists.
        """

    async def delete(self, key: str) -> bool:
        """Remove `key`; True when it existed."""

    async def compare_and_set(
        self, key: str, expected: Any | None, value: Any, *, ttl: float | None = None
    ) -> bool:
        """Atomically replace the value with `value` only if it currently equals `expected`.

        Equality is of canonical JSON (so ``1 != 1.0``; key order does not matter). `expected`
        None matches an absent key and a stored None alike, since `get` cannot tell them
        apart. `ttl` applies to the new value as in `set`. Returns whether it replaced.
        """

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Add `amount` to the integer at `key` (absent: 0) and return the new value.

        `ttl` applies only when this call creates the counter: an existing counter keeps its
        expiry, which makes fixed-window counters. Raises `StateValueError` when the key holds
        something other than an integer, or the result leaves the signed 64-bit range.
        """

    # -- ordered indexes --------------------------------------------------------------------

    async def index_add(self, index: str, member: str, score: float) -> None:
        """Put `member` in `index` at `score` (a finite float), moving it if already there."""

    async def index_remove(self, index: str, member: str) -> None:
        """Take `member` out of `index`, if it is there."""

    async def index_range(
        self,
        index: str,
        *,
        after: tuple[float, str] | None = None,
        limit: int = 50,
        reverse: bool = False,
    ) -> list[tuple[str, float]]:
        """Up to `limit` (member, score) pairs in (score, member) order, descending if `reverse`.

        Ties in score are ordered by member, byte-wise (UTF-8). `after` is the (score,
        member) of the last entry of the previous page: the page starts strictly beyond it
        in the direction of travel, whether or not that entry still exists (keyset paging).
        """

    async def index_count(self, index: str) -> int:
        """How many members `index` holds."""

    # -- append-only logs ---------------------------------------------------------------------

    async def log_append(self, log: str, entry: Any, *, max_length: int | None = None) -> str:
        """Append `entry` and return its id, ``"<ms>-<seq>"``, greater than every earlier id.

        With `max_length`, older entries are dropped so that the log keeps at least the
        newest `max_length` entries and not many more: memory keeps exactly that many; Redis
        trims whole stream nodes (``MAXLEN ~``), so it may keep up to about 100 extra.
        """

    async def log_read(
        self, log: str, *, after: str | None = None, limit: int = 100, reverse: bool = False
    ) -> list[tuple[str, Any]]:
        """Up to `limit` (id, entry) pairs, oldest first (newest first if `reverse`).

        `after` is an entry id: the page holds entries strictly beyond it in the direction of
        travel (newer, or with `reverse` older). A missing log reads as empty.
        """

    async def log_length(self, log: str) -> int:
        """How many entries `log` holds now."""

    # -- leases -------------------------------------------------------------------------------

    async def lease(self, name: str, owner: str, ttl: float) -> bool:
        """Take the lease `name` for `ttl` seconds if it is free or already `owner`'s.

        True when `owner` holds it afterwards (its TTL then restarts at `ttl`).
        """

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        """Restart the lease's TTL at `ttl`; False (and nothing changed) unless `owner` holds it."""

    async def release(self, name: str, owner: str) -> bool:
        """Free the lease; False (and nothing changed) unless `owner` holds it."""

    async def close(self) -> None:
        """Release connections; the backend is not used afterwards."""


def open_backend(
    redis_url: str | None, *, prefix: str = DEFAULT_PREFIX, timeout: float | None = None
) -> StateBackend:
    """Redis at `redis_url`, or the in-process memory backend when it is None.

    `timeout` bounds connecting and each command, in seconds (default: the backend's own):
    a Redis that answers too slowly fails as `StateUnavailable` rather than holding a request.
    Nothing connects here: call `StateBackend.ping` at startup to fail early and clearly.
    """
    if redis_url is None:
        return MemoryBackend(prefix=prefix)
    from state.redis_backend import RedisBackend  # the Redis client loads only when used

    if timeout is None:
        return RedisBackend(redis_url, prefix=prefix)
    return RedisBackend(redis_url, prefix=prefix, connect_timeout=timeout, command_timeout=timeout)
