"""What the resilience layer reports to `telemetry.metrics`: every call by system, endpoint
kind and status with its latency, every retry, and (read at scrape time, at no cost per call)
each source's circuit-breaker state, calls in flight and calls refused by an open breaker."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sources.errors import SourceError
from telemetry import metrics
from telemetry.context import CURRENT
from telemetry.metrics import Sample

if TYPE_CHECKING:
    from sources.concurrency import ConcurrencyBudget
    from sources.resilience import Resilience
    from sources.salesforce_client import SalesforceClient

__all__ = ["MetricsObserver", "account_slot", "allowance_samples", "breaker_samples"]

BREAKER_STATES = ("closed", "half_open", "open")


def status_of(error: BaseException | None) -> str:
    """A bounded status: ok, a `SourceError` code, "cancelled" or "internal_error"."""
    if error is None:
        return "ok"
    if isinstance(error, SourceError):
        return error.code
    if isinstance(error, BaseException) and type(error).__name__ == "CancelledError":
        return "cancelled"
    return "internal_error"


class MetricsObserver:
    """The default `ResilienceObserver`: counts calls and retries, times calls."""

    def on_attempt(self, source: str, name: str, attempt: int) -> None:
        return None

    def on_retry(
        self, source: str, name: str, attempt: int, error: SourceError, delay: float
    ) -> None:
        endpoint = metrics.ENDPOINTS.admit(name)
        metrics.UPSTREAM_RETRIES.labels(source, endpoint, error.code).inc()

    def on_result(
        self, source: str, name: str, *, attempts: int, elapsed: float, error: BaseException | None
    ) -> None:
        endpoint = metrics.ENDPOINTS.admit(name)
        metrics.child(metrics.UPSTREAM_CALLS, source, endpoint, status_of(error)).inc()
        request = CURRENT.get()
        if request is not None:  # for the request's access-log line
            request.upstream_calls += 1
        metrics.child(metrics.UPSTREAM_DURATION, source, endpoint).observe(elapsed)


def breaker_samples(resilience: Resilience) -> Iterator[Sample]:
    snapshot = resilience.snapshot()
    system = snapshot["source"]
    for state in BREAKER_STATES:
        yield Sample(
            "accord_circuit_breaker_state",
            "gauge",
            "1 for the circuit breaker's current state of each system (closed, half_open, open).",
            {"system": system, "state": state},
            1.0 if snapshot["state"] == state else 0.0,
        )
    yield Sample(
        "accord_circuit_breaker_opened_total",
        "counter",
        "Times a system's circuit breaker opened.",
        {"system": system},
        float(snapshot["breaker_opened"]),
    )
    yield Sample(
        "accord_upstream_short_circuited_total",
        "counter",
        "Calls refused by an open circuit breaker without reaching the system.",
        {"system": system},
        float(snapshot["short_circuited"]),
    )
    yield Sample(
        "accord_upstream_in_flight",
        "gauge",
        "Attempts running against a system now.",
        {"system": system},
        float(snapshot["in_flight"]),
    )


@asynccontextmanager
async def account_slot(budget: ConcurrencyBudget, system: str) -> AsyncIterator[None]:
    """A slot of the account's concurrency budget (shared by the replicas), timed: the wait,
    a Redis round trip included, is observed on every take."""
    started = time.perf_counter()
    async with budget.slot():
        metrics.UPSTREAM_WAIT.labels(system, "account").observe(time.perf_counter() - started)
        yield


def allowance_samples(client: SalesforceClient) -> Iterator[Sample]:
    """Salesforce's daily API allowance, as its last answer's ``Sforce-Limit-Info`` said."""
    usage = client.api_usage.get("api-usage")
    if not usage:
        return
    used, total = usage[0], usage[1]
    yield Sample(
        "accord_salesforce_api_requests_used",
        "gauge",
        "API requests the Salesforce org used in the last 24 hours (Sforce-Limit-Info).",
        {},
        float(used),
    )
    yield Sample(
        "accord_salesforce_api_requests_limit",
        "gauge",
        "The Salesforce org's API requests allowed per 24 hours (Sforce-Limit-Info).",
        {},
        float(total),
    )
