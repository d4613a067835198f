"""The normaliser's outbox: events decided but not yet known to be on the bus.

The normaliser emits an event when it moves a snapshot (`events.normalize`). If the event then
failed to reach the bus (Redis dropped the connection, the process stopped), a retry of the
same change would find the snapshot already moved and emit nothing: the event would be lost.
So the events a move decides are written into the snapshot itself, in the same
compare-and-set, and taken out again once published::

    {"~state": <the snapshot>, "~outbox": [{"event": <CloudEvents JSON>, "claimed": <unix s>}]}

A snapshot without pending events is stored bare, as before. ``claimed`` is when a processing
took the entry on to publish it (0: released after a failed publish). An entry claimed
longer ago than the grace period, or released, is *due*: the next processing of that snapshot
(a retry, the poller, `Normalizer.flush_outbox`) publishes it. Snapshots holding entries are
listed in the state backend's index ``events:outbox`` (scored by when an entry was added), so
that a sweep finds them without reading every snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from events.model import Event

__all__ = [
    "INDEX",
    "OUTBOX",
    "STATE",
    "due",
    "entry",
    "event_id_of",
    "event_of",
    "join",
    "split",
    "without",
]

INDEX = "events:outbox"
STATE = "~state"
OUTBOX = "~outbox"

Entry = dict[str, Any]


def split(raw: Any | None) -> tuple[Any | None, list[Entry]]:
    """(snapshot, pending entries) of what the state backend holds at a snapshot key."""
    if isinstance(raw, dict) and OUTBOX in raw:
        entries = raw.get(OUTBOX)
        pending = [item for item in entries if _valid(item)] if isinstance(entries, list) else []
        return raw.get(STATE), pending
    return raw, []


def join(snapshot: Any | None, pending: Sequence[Entry]) -> Any | None:
    """What to store for ``snapshot`` with ``pending`` entries (the bare snapshot if none)."""
    if not pending:
        return snapshot
    return {STATE: snapshot, OUTBOX: list(pending)}


def entry(event: Event, claimed: float) -> Entry:
    return {"event": event.to_cloudevent(), "claimed": claimed}


def event_of(item: Entry) -> Event:
    return Event.from_cloudevent(item["event"])


def event_id_of(item: Entry) -> str:
    return str(item["event"]["id"])


def due(pending: Iterable[Entry], now: float, grace: float) -> list[Entry]:
    """The entries nobody is publishing any more: released, or claimed over ``grace`` ago."""
    return [item for item in pending if now - float(item["claimed"]) >= grace]


def without(pending: Iterable[Entry], ids: set[str]) -> list[Entry]:
    return [item for item in pending if event_id_of(item) not in ids]


def _valid(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("event"), dict)
        and "id" in item["event"]
        and isinstance(item.get("claimed"), int | float)
        and not isinstance(item.get("claimed"), bool)
    )
