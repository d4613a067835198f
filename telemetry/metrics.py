"""Accord's Prometheus metrics: one registry, the instruments every layer records into, and
the samples read from live objects when ``/metrics`` is scraped.

Two kinds of measurement, chosen by what each costs on the hot path:

- instruments (`Counter`, `Histogram`) updated where a thing happens: GraphQL operations,
  upstream calls, retries, concurrency waits, events, dead letters, workflows;
- samples taken at scrape time from objects that count anyway (`watch`): circuit-breaker
  state, the read cache's hits and misses, open WebSocket connections and subscriptions,
  Salesforce's API allowance. They cost nothing per request.

Label values are bounded (`telemetry.labels.BoundedValues`): operation names, endpoint kinds
and record types admit a fixed number of distinct values and read "other" past it; no label
ever holds an id, a key or a query's text.

Several processes (``PROMETHEUS_MULTIPROC_DIR`` set before start, as prometheus-client
wants): the instruments write to files in that directory and `exposition` adds up every
process's; scrape-time samples are the answering process's own. See docs/operations.md.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from telemetry.labels import BoundedValues

__all__ = [
    "CACHE_LEVELS",
    "CONTENT_TYPE",
    "DEAD_LETTERS",
    "ENDPOINTS",
    "EVENTS_DELIVERED",
    "EVENTS_PUBLISHED",
    "EVENTS_RECEIVED",
    "EVENT_LAG",
    "GRAPHQL_DURATION",
    "GRAPHQL_REQUESTS",
    "OPERATION_NAMES",
    "REGISTRY",
    "UPSTREAM_CALLS",
    "UPSTREAM_DURATION",
    "UPSTREAM_RETRIES",
    "UPSTREAM_WAIT",
    "WORKFLOWS",
    "WORKFLOW_DEAD_LETTERS",
    "Sample",
    "child",
    "exposition",
    "watch",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST
disable_created_metrics()  # type: ignore[no-untyped-call]  # a "_created" series per counter doubles what is scraped
REGISTRY = CollectorRegistry(auto_describe=False)

# Operation names: those of registered operations always, the first 200 others seen in valid
# documents, "other" after that; an operation without a name is "anonymous".
OPERATION_NAMES = BoundedValues(200)
ENDPOINTS = BoundedValues(100)  # upstream endpoint kinds ("get customer", "query", ...)
RECORD_KINDS = BoundedValues(20)  # kinds of record of changes received
CACHE_LEVELS = ("memory", "redis")

# Seconds: GraphQL answers range from a cached hit (~1 ms) to a slow source (10 s timeout).
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Event lag: from the change in its system to its delivery, polling included (seconds-minutes).
_LAG = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)

GRAPHQL_REQUESTS = Counter(
    "accord_graphql_requests",
    "GraphQL operations answered, by operation name, type (query, mutation, subscription, "
    "unknown) and outcome (ok, errors, refused, rejected).",
    ["operation", "type", "outcome"],
    registry=REGISTRY,
)
GRAPHQL_DURATION = Histogram(
    "accord_graphql_request_duration_seconds",
    "Time to answer a GraphQL operation (a subscription: until its first answer is ready).",
    ["operation", "type"],
    buckets=_LATENCY,
    registry=REGISTRY,
)
UPSTREAM_CALLS = Counter(
    "accord_upstream_requests",
    "Calls to an external system, by system, endpoint kind and status (ok or the error code "
    "the caller received).",
    ["system", "endpoint", "status"],
    registry=REGISTRY,
)
UPSTREAM_DURATION = Histogram(
    "accord_upstream_request_duration_seconds",
    "Time of a call to an external system, its retries included.",
    ["system", "endpoint"],
    buckets=_LATENCY,
    registry=REGISTRY,
)
UPSTREAM_RETRIES = Counter(
    "accord_upstream_retries",
    "Retries of calls to an external system, by the error that caused them.",
    ["system", "endpoint", "reason"],
    registry=REGISTRY,
)
UPSTREAM_WAIT = Histogram(
    "accord_upstream_concurrency_wait_seconds",
    "Time an upstream call waited for a slot of its system's concurrency limit (observed "
    "only when it had to wait).",
    ["system", "limit"],
    buckets=_LATENCY,
    registry=REGISTRY,
)
WORKFLOWS = Counter(
    "accord_workflow_transitions",
    "Workflows reaching a status, by kind and status.",
    ["kind", "status"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "accord_dead_letters",
    'Events a consumer group gave up on and moved to its dead letters; group "workflows": '
    "workflows that ran out of retries and went on the dead-letter list.",
    ["group"],
    registry=REGISTRY,
)
WORKFLOW_DEAD_LETTERS = Gauge(
    "accord_workflow_dead_letters",
    "Workflows on the dead-letter list now (read from the shared state at each scrape).",
    registry=REGISTRY,
    multiprocess_mode="max",  # every process reads the same shared list
)
EVENTS_RECEIVED = Counter(
    "accord_events_received",
    "Changes received from an external system (webhooks and scans), by system and kind of "
    "record (customer, order, invoice, payment).",
    ["source", "kind"],
    registry=REGISTRY,
)
EVENTS_PUBLISHED = Counter(
    "accord_events_published",
    "Canonical events published on the bus, by type.",
    ["type"],
    registry=REGISTRY,
)
EVENTS_DELIVERED = Counter(
    "accord_events_delivered",
    "Events handed to a consumer (subscription, cache invalidation, propagation), by "
    "consumer and type.",
    ["consumer", "type"],
    registry=REGISTRY,
)
EVENT_LAG = Histogram(
    "accord_event_lag_seconds",
    "Time from a change in its system to the event's delivery to a consumer.",
    ["consumer"],
    buckets=_LAG,
    registry=REGISTRY,
)


_CHILDREN: dict[tuple[int, tuple[str, ...]], Any] = {}


def child(metric: Counter | Histogram, *labels: str) -> Any:
    """``metric.labels(*labels)``, kept: a dictionary look-up instead of prometheus-client's
    checks and lock on every call (the label values are bounded, so is what is kept)."""
    key = (id(metric), labels)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*labels)
    return found


# ---------------------------------------------------------------------- scrape-time samples


@dataclass(frozen=True, slots=True)
class Sample:
    """One value read at scrape time."""

    name: str
    kind: Literal["counter", "gauge"]
    help: str
    labels: dict[str, str]
    value: float


class _Watched(Collector):
    """Samples from live objects, read when /metrics is scraped. Counters of several objects
    with the same labels add up; for a gauge the newest object's value wins."""

    def __init__(self) -> None:
        self._watched: list[tuple[weakref.ref[Any], Callable[[Any], Iterable[Sample]]]] = []
        self._lock = threading.Lock()

    def add(self, thing: object, read: Callable[[Any], Iterable[Sample]]) -> None:
        with self._lock:
            self._watched = [(ref, fn) for ref, fn in self._watched if ref() is not None]
            self._watched.append((weakref.ref(thing), read))

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            watched = list(self._watched)
        families: dict[str, tuple[str, str, dict[tuple[tuple[str, str], ...], float]]] = {}
        for ref, read in watched:
            thing = ref()
            if thing is None:
                continue
            for sample in read(thing):
                kind, _, values = families.setdefault(sample.name, (sample.kind, sample.help, {}))
                key = tuple(sorted(sample.labels.items()))
                if kind == "counter":
                    values[key] = values.get(key, 0.0) + sample.value
                else:
                    values[key] = sample.value
        for name, (kind, text, values) in sorted(families.items()):
            names = sorted({label for key in values for label, _ in key})
            family: CounterMetricFamily | GaugeMetricFamily = (
                CounterMetricFamily(name, text, labels=names)
                if kind == "counter"
                else GaugeMetricFamily(name, text, labels=names)
            )
            for key, value in values.items():
                labels = dict(key)
                family.add_metric([labels.get(label, "") for label in names], value)
            yield family


_WATCHED = _Watched()
REGISTRY.register(_WATCHED)


def watch(thing: object, read: Callable[[Any], Iterable[Sample]]) -> None:
    """Read ``read(thing)`` at every scrape while ``thing`` lives (held weakly)."""
    _WATCHED.add(thing, read)


def exposition() -> bytes:
    """The metrics in Prometheus' text format: this process's, or with
    ``PROMETHEUS_MULTIPROC_DIR`` set, every process's instruments added up (plus this
    process's scrape-time samples)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(_WATCHED)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
