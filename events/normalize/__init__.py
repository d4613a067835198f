"""From "this record changed" to canonical finance events (`Normalizer`).

Split by job: `snapshots` (compare-and-set moves and their outbox), `standing` (credit
standing and invoice status transitions), `erp` (the ERP's records), `fields` (the customer
fields events carry, from the ownership registry) and `normalizer` (the dispatch).
"""

from __future__ import annotations

from events.normalize.normalizer import Normalizer
from events.normalize.snapshots import (
    CAS_ATTEMPTS,
    OUTBOX_GRACE,
    SNAPSHOT_PREFIX,
    SNAPSHOT_TTL,
    Publish,
)
from sources.changes import ChangeType, RecordChange, RecordKind, version

Change = RecordChange

__all__ = [
    "CAS_ATTEMPTS",
    "OUTBOX_GRACE",
    "SNAPSHOT_PREFIX",
    "SNAPSHOT_TTL",
    "Change",
    "ChangeType",
    "Normalizer",
    "Publish",
    "RecordKind",
    "version",
]
