"""Snapshots: the last state seen of each object, moved by compare-and-set, with its outbox.

Every decision of the normaliser is a move of one snapshot (`SnapshotStore._swap`): the
events a move emits go into the snapshot's outbox (`events.outbox`) in the same
compare-and-set, so that one move emits once however many replicas process the change, and
an event whose publication failed is published by a later processing (`flush_outbox`). Each
move is numbered (`events.transitions`) and the number goes into its events' ids, so two
distinct changes never share an id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from events import outbox, transitions
from events.model import Event
from sources.changes import RecordChange
from state.backend import StateBackend

logger = logging.getLogger("accord.events.normalize")

Publish = Callable[[Event], Awaitable[Any]]

SNAPSHOT_PREFIX = "events:snapshot:"
SNAPSHOT_TTL = 30 * 86400.0
"""Snapshots of objects untouched for this long expire; their next change is a first sight."""
CAS_ATTEMPTS = 8
OUTBOX_GRACE = 30.0
"""Seconds an event being published is left to its publisher before another may publish it."""

KEEP = object()
"""What a decision returns to leave a snapshot as it is."""

Decision = tuple[Any, list[Event]]


def keep(current: Any | None) -> Decision:
    return KEEP, []


@dataclass
class _Run:
    """The events one processing took on to publish: event id -> snapshot key."""

    keys: dict[str, str] = field(default_factory=dict)


_RUN: ContextVar[_Run | None] = ContextVar("accord_normalize_run", default=None)


class SnapshotStore:
    """The snapshots and their outboxes; `process` publishes what `normalize` decides."""

    def __init__(
        self,
        backend: StateBackend,
        *,
        publish: Publish | None = None,
        snapshot_ttl: float | None = SNAPSHOT_TTL,
        outbox_grace: float = OUTBOX_GRACE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.publish = publish
        self.snapshot_ttl = snapshot_ttl
        self.outbox_grace = outbox_grace
        self.clock = clock
        self._next_sweep = 0.0

    async def normalize(self, change: RecordChange) -> list[Event]:
        """The events ``change`` means that no earlier processing has emitted."""
        raise NotImplementedError

    async def process(self, change: RecordChange) -> list[Event]:
        """`normalize`, then publish each event in order (when a publisher was given).

        The events are kept in their snapshots' outbox until published: if publishing fails
        (raised to the caller, whose retry is the delivery guarantee), the next processing
        of those snapshots publishes them, as does `flush_outbox`. So a change's events reach
        the bus at least once, and exactly once unless a publication fails or is cut short.
        The returned events include any left over from such an earlier failure.
        """
        if self.publish is None:
            return await self.normalize(change)
        run = _Run()
        token = _RUN.set(run)
        try:
            events = await self.normalize(change)
        finally:
            _RUN.reset(token)
        await self._publish_run(run, events)
        await self._sweep_now_and_then()
        return events

    async def flush_outbox(self, *, limit: int = 100) -> list[Event]:
        """Publish events left in the outbox by a publication that failed or was cut short
        (claimed more than ``outbox_grace`` seconds ago, or released); the events published.

        `process` calls it at most once per ``outbox_grace``; a deployment may also call it
        periodically, so that leftovers go out even when no change comes in.
        """
        if self.publish is None:
            return []
        cutoff = self.clock() - self.outbox_grace
        published: list[Event] = []
        for key, score in await self.backend.index_range(outbox.INDEX, limit=limit):
            if score > cutoff:
                break
            run = _Run()
            token = _RUN.set(run)
            try:
                _, _, events = await self._swap(key, keep)
            finally:
                _RUN.reset(token)
            if events:
                await self._publish_run(run, events)
                published += events
            else:
                await self._unlist_if_empty(key)
        return published

    async def _sweep_now_and_then(self) -> None:
        now = self.clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + max(self.outbox_grace, 1.0)
        try:
            await self.flush_outbox()
        except Exception:
            logger.warning("publishing leftover events failed; tried again later", exc_info=True)

    async def _publish_run(self, run: _Run, events: list[Event]) -> None:
        """Publish ``events`` in order, then take them out of their outboxes. On a failure,
        release what was not published (a retry takes it at once) and raise."""
        assert self.publish is not None
        done = 0
        try:
            for event in events:
                await self.publish(event)
                done += 1
        except Exception:
            try:
                await self._settle(run, events[:done])
                await self._settle(run, events[done:], release=True)
            except Exception:
                logger.warning("could not release unpublished events", exc_info=True)
            raise
        try:
            await self._settle(run, events)
        except Exception:  # published: at worst published once more after the grace period
            logger.warning("could not clear published events from the outbox", exc_info=True)

    async def _settle(self, run: _Run, events: list[Event], *, release: bool = False) -> None:
        """Take ``events`` out of their snapshots' outboxes (``release``: mark them due)."""
        by_key: dict[str, set[str]] = {}
        for event in events:
            key = run.keys.get(event.id)
            if key is not None:
                by_key.setdefault(key, set()).add(event.id)
        for key, ids in by_key.items():
            for _ in range(CAS_ATTEMPTS):
                raw = await self.backend.get(key)
                state, pending = outbox.split(raw)
                if not any(outbox.event_id_of(item) in ids for item in pending):
                    break
                if release:
                    kept = [
                        {**item, "claimed": 0} if outbox.event_id_of(item) in ids else item
                        for item in pending
                    ]
                else:
                    kept = outbox.without(pending, ids)
                stored = outbox.join(state, kept)
                if await self.backend.compare_and_set(key, raw, stored, ttl=self.snapshot_ttl):
                    if not kept:
                        await self._unlist_if_empty(key)
                    break

    async def _unlist_if_empty(self, key: str) -> None:
        """Take ``key`` off the outbox index unless it holds pending events."""
        await self.backend.index_remove(outbox.INDEX, key)
        _, pending = outbox.split(await self.backend.get(key))
        if pending:  # added meanwhile: keep it listed
            await self.backend.index_add(outbox.INDEX, key, self.clock())

    # ------------------------------------------------------------------ snapshots

    def _key(self, source: str, kind: str, record_id: str) -> str:
        return f"{SNAPSHOT_PREFIX}{source}:{kind}:{record_id}"

    async def _swap(
        self, key: str, decide: Callable[[Any | None], Decision]
    ) -> tuple[bool, Any | None, list[Event]]:
        """Move the snapshot at ``key`` as ``decide(current)`` says, atomically.

        Returns (moved, the snapshot it replaced, events); the decision's events count only
        when this call moved the snapshot. Within `process`, the events go into the snapshot's
        outbox in the same compare-and-set, and events left there by a failed publication
        (due: see `events.outbox`) are taken over and returned first.
        """
        run = _RUN.get()
        for _ in range(CAS_ATTEMPTS):
            raw = await self.backend.get(key)
            held, pending = outbox.split(raw)
            current, moves = transitions.unnumbered(held)
            new, decided = decide(current)
            moved = not (new is KEEP or new == current)
            if moved:  # this move's number goes into its events' ids: never an id twice
                moves += 1
                decided = [transitions.renamed(event, moves) for event in decided]
            now = self.clock()
            taken = outbox.due(pending, now, self.outbox_grace) if run is not None else []
            if not moved and not taken:
                return False, current, []
            ids = {outbox.event_id_of(item) for item in pending}
            fresh = [event for event in decided if event.id not in ids] if moved else []
            if run is not None:
                taken_ids = {outbox.event_id_of(item) for item in taken}
                claimed = [{**item, "claimed": now} for item in taken]
                claimed += [outbox.entry(event, now) for event in fresh]
                pending = [item for item in pending if outbox.event_id_of(item) not in taken_ids]
                pending += claimed
                if claimed:  # listed first, so that a sweep finds it even if we stop here
                    await self.backend.index_add(outbox.INDEX, key, now)
            stored = outbox.join(transitions.numbered(new, moves) if moved else held, pending)
            if await self.backend.compare_and_set(key, raw, stored, ttl=self.snapshot_ttl):
                events = [outbox.event_of(item) for item in taken] + fresh
                if run is not None:
                    for event in events:
                        run.keys[event.id] = key
                return moved, current, events
        logger.warning("snapshot %s kept changing under us; left for the next change", key)
        return False, None, []

    async def _forget(self, key: str) -> list[Event]:
        """Clear the snapshot at ``key`` (its record is gone). Events still in its outbox stay
        there until published; those due are returned, as `_swap` does."""
        _, _, leftovers = await self._swap(
            key, lambda current: (None, []) if current is not None else (KEEP, [])
        )
        return leftovers
