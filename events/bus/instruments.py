"""What the bus reports to `telemetry.metrics`: events published, delivered (with the lag
from the change in its system to the delivery) and dead-lettered."""

from __future__ import annotations

import datetime as dt

from events.model import Event
from telemetry import metrics

__all__ = ["dead_lettered", "delivered", "published", "received"]

SUBSCRIBER = "subscriber"  # a process's subscriptions: GraphQL subscribers, cache invalidation


def published(event: Event) -> None:
    metrics.child(metrics.EVENTS_PUBLISHED, event.type.value).inc()


def delivered(consumer: str, event: Event) -> None:
    """Once per event and subscriber (a thousand subscribers: a thousand times): cheap."""
    metrics.child(metrics.EVENTS_DELIVERED, consumer, event.type.value).inc()
    lag = (dt.datetime.now(dt.UTC) - event.time).total_seconds()
    metrics.child(metrics.EVENT_LAG, consumer).observe(max(lag, 0.0))


def dead_lettered(group: str) -> None:
    metrics.DEAD_LETTERS.labels(group).inc()


def received(source: str, kind: str) -> None:
    """A change came in from ``source`` (a notification or a scan)."""
    metrics.EVENTS_RECEIVED.labels(source, metrics.RECORD_KINDS.admit(kind)).inc()
