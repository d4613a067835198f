"""Change records: what a source's change feed says, in canonical terms.

A system's change feed has two halves, and each adapter fills them (`sources.ports.ChangeFeed`):
*notifications* it pushes (webhooks, parsed by ``parse_notification``) and *scans* Accord
runs on it (``change_scans``: what changed since a watermark). Both yield `RecordChange`: one
record of a canonical kind (`RecordKind`) changed at a time, under the id the source gives it
(opaque: compared and stored as text, never as a number). The record's content is not part of
a change: the normaliser (`events.normalize`) reads it through the port, so a late, repeated or
reordered change is harmless.

Scans keep a `Watermark` per scan, with these guarantees (the poller in `events.pollers` keeps
the watermark in the state backend; the scan only reads):

- inclusive whole seconds: ``since(mark)`` returns every record modified at or after
  ``mark.at`` cut to the second, oldest first (ties in id order), so a record modified later
  in the watermark's own second is still found; the records of that second come again each
  round and the normaliser's snapshots make them one event;
- a first run's ``start()`` is a watermark at the newest records there are, those records in
  its ``skip`` list, so history is not replayed as news;
- ``present()`` is the source's own time (`sources.clock.SourceClock`, from the ``Date`` of its
  answers): the poller never keeps a watermark later than it, so a record stamped in the
  source's future cannot hide the changes made until then.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "EPOCH",
    "ChangeScan",
    "ChangeType",
    "ErpChange",
    "MalformedNotification",
    "Notification",
    "RecordChange",
    "RecordKind",
    "Watermark",
    "checked_event_id",
    "checked_object",
    "checked_text",
    "newest_known",
    "version",
]

ChangeType = Literal["create", "update", "delete"]


class RecordKind(enum.StrEnum):
    """The canonical kinds of record a change feed reports.

    An ERP reports customers, sales orders, invoices and payments; a CRM reports its accounts
    as ``CUSTOMER``. Records of other kinds are not reported (an adapter drops them).
    """

    CUSTOMER = "customer"
    ORDER = "order"
    INVOICE = "invoice"
    PAYMENT = "payment"


@dataclass(frozen=True)
class RecordChange:
    """One record changed in one system; all a notification or a scan needs to say.

    ``source`` is the adapter's name (its ``source`` attribute, as events and the audit trail
    name the system). ``record_id`` is the source's id of the record, opaque. ``modified_at``
    is the record's modification time in its system (aware, UTC). ``key`` is the customer's
    cross-reference key when the source said it. ``changed_fields`` and ``previous`` (the old
    values of changed fields) are hints some senders give, by canonical record attribute
    (`sources.records`: ``credit_limit``, ``credit_hold``, ...); the normaliser reads the
    record itself regardless and uses them only to tell what a change moved.
    """

    source: str
    kind: RecordKind
    record_id: str
    change_type: ChangeType
    modified_at: dt.datetime
    changed_fields: tuple[str, ...] = ()
    previous: Mapping[str, Any] = field(default_factory=dict, hash=False)
    key: str | None = None


ErpChange = RecordChange
"""A change reported by the ERP's feed."""


@dataclass(frozen=True)
class Notification:
    """A pushed notification, parsed: the sender's event id (what replay protection binds to:
    it must be inside the signed body) and the changes it reports (none is fine)."""

    event_id: str
    changes: list[RecordChange]


class MalformedNotification(ValueError):
    """The body is not a change notification of the shape the source sends."""


MAX_EVENT_ID = 128


def checked_object(value: Any, where: str) -> dict[str, Any]:
    """``value`` when it is a JSON object; `MalformedNotification` naming ``where`` if not."""
    if not isinstance(value, dict):
        raise MalformedNotification(f"{where} must be a JSON object")
    return value


def checked_text(value: Any, where: str, *, limit: int = 255) -> str:
    """``value`` when it is a non-empty string of at most ``limit`` characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise MalformedNotification(f"{where} must be a non-empty string")
    return value


def checked_event_id(value: Any, where: str) -> str:
    """A sender's event id: printable ASCII, at most `MAX_EVENT_ID` characters."""
    text = checked_text(value, where, limit=MAX_EVENT_ID)
    if not text.isascii() or not text.isprintable():
        raise MalformedNotification(f"{where} must be printable ASCII")
    return text


def version(moment: dt.datetime) -> str:
    """A modification time as it identifies a change: UTC, to the whole second.

    Vendors' query APIs show modification times to the second while their notifications may
    carry milliseconds; cutting both to the second makes the same change the same event
    whichever way it arrived.
    """
    utc = moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return utc.replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Watermark:
    """Records modified at or after ``at`` are new, except those in ``skip``.

    ``skip`` maps record ids to the modification time (ISO 8601, as the scan reports it) at
    which they are known already: the records a first run found at its starting point.
    """

    at: dt.datetime
    skip: Mapping[str, str] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.astimezone(dt.UTC).isoformat(), "skip": dict(self.skip)}

    @classmethod
    def from_json(cls, value: Any) -> Watermark | None:
        try:
            at = dt.datetime.fromisoformat(str(value["at"]))
            skip = {str(k): str(v) for k, v in dict(value.get("skip") or {}).items()}
            return cls(at.astimezone(dt.UTC), skip)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def known(self, change: RecordChange) -> bool:
        return self.skip.get(change.record_id) == change.modified_at.isoformat()

    def no_later_than(self, present: dt.datetime | None) -> Watermark:
        """This watermark, moved back to ``present`` when it lies after it (``skip`` kept)."""
        if present is None or self.at <= present:
            return self
        return Watermark(present.astimezone(dt.UTC), self.skip)

    def moved_to(self, at: dt.datetime) -> Watermark:
        """The watermark at ``at``, still knowing the records of ``skip`` not before it."""
        return Watermark(
            at,
            {
                record: stamp
                for record, stamp in self.skip.items()
                if dt.datetime.fromisoformat(stamp) >= at
            },
        )


EPOCH = Watermark(dt.datetime(1970, 1, 1, tzinfo=dt.UTC))


def newest_known(changes: Sequence[RecordChange]) -> Watermark:
    """The watermark of a first run: at the newest of ``changes``, all of them known."""
    if not changes:
        return EPOCH
    at = max(change.modified_at for change in changes)
    return Watermark(at, {change.record_id: change.modified_at.isoformat() for change in changes})


class ChangeScan(Protocol):
    """One query over one table of a source: what changed since a watermark.

    ``name`` identifies the scan's watermark (stable across versions: renaming it makes the
    next run a first run).
    """

    name: str

    def present(self) -> dt.datetime | None:
        """The source's own time now, when known (from its last answer)."""

    async def start(self) -> Watermark:
        """Where a first run begins: the newest records there are now, as known ones."""

    async def since(self, mark: Watermark) -> list[RecordChange]:
        """The records modified at or after ``mark.at`` (whole seconds), oldest first."""
