"""The write path reports each record it changed, so that the change's events go out at once.

Webhooks and pollers report changes too, but later, and not one by one: a credit hold put
on, taken off and put on again within a second may reach the normaliser as one change, or
a webhook may be given up on while a source is slow. So each write, once it landed, hands
its record to the normaliser itself (`events.normalize.Normalizer.process`), which reads the
record and publishes what moved. The normaliser's snapshots make this, the webhook and the
poller one event per change whichever comes first; if this report fails (a source or the
state backend in trouble), the write still stands and the webhook or the poller publish its
events later.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from events.normalize import Change, ChangeType, RecordKind

__all__ = ["ChangeFeed", "RecordKind", "report"]

logger = logging.getLogger("accord.mutations")

ChangeFeed = Callable[[Change], Awaitable[object]]


async def report(
    feed: ChangeFeed | None,
    source: str,
    kind: RecordKind,
    record_id: str,
    change_type: ChangeType,
    previous: Mapping[str, Any] | None = None,
) -> None:
    """Hand one changed record to the normaliser (``source``: the adapter's name;
    ``previous``: old values of the attributes the write changed, by canonical attribute, as a
    notification may carry them); a failure is logged and left to the webhooks and pollers."""
    if feed is None:
        return
    change = Change(
        source,
        kind,
        record_id,
        change_type,
        dt.datetime.now(dt.UTC),
        previous=dict(previous or {}),
    )
    try:
        await feed(change)
    except Exception as exc:
        logger.warning(
            "the events of %s %s %s are left to the webhooks and pollers: %s",
            source,
            kind,
            record_id,
            exc,
        )
