"""Numbered snapshot moves: why two distinct changes never share an event id.

An event's id is derived from the change it reports (`events.model.event_id`), so that the
same change seen twice is the same event. What identifies a change was its record, its type,
its modification time to the second and its new value; but a value can come back within a
second (a credit hold ON, AUTO, ON again), and the third change then had the first one's id:
subscribers dropped it as a duplicate and propagation skipped it.

Every snapshot (`events.normalize`) therefore counts its moves: the stored snapshot carries
``"~seq": n``, the n-th move's events have ``n`` in their ids, and the count goes on when a
record's snapshot is forgotten (its record deleted), so an id is never reused. Only the
processing whose compare-and-set moved the snapshot from n-1 to n emits move n's events, so
the same change seen twice (webhook and poller, two replicas) still yields one event, with
one id.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from events.model import Event, event_id

__all__ = ["SEQUENCE", "numbered", "renamed", "unnumbered"]

SEQUENCE = "~seq"


def unnumbered(stored: Any | None) -> tuple[Any | None, int]:
    """(the snapshot, the number of its last move) of what a snapshot key holds."""
    if not isinstance(stored, dict) or SEQUENCE not in stored:
        return stored, 0
    number = stored[SEQUENCE]
    rest = {name: value for name, value in stored.items() if name != SEQUENCE}
    count = number if isinstance(number, int) and not isinstance(number, bool) else 0
    return (rest or None), count  # a bare count is a forgotten snapshot


def numbered(snapshot: Any | None, number: int) -> dict[str, Any]:
    """What to store for ``snapshot`` after its ``number``-th move (None: forgotten)."""
    if snapshot is None:
        return {SEQUENCE: number}
    if not isinstance(snapshot, dict):
        raise TypeError("snapshots are JSON objects")
    return {**snapshot, SEQUENCE: number}


def renamed(event: Event, number: int) -> Event:
    """``event`` with ``number``, the move that emits it, in its id."""
    return dataclasses.replace(event, id=event_id(event.id, number))
