"""The one resilience layer every upstream call passes through.

`Resilience.call` runs an operation (one vendor request, already mapped to `sources.errors`)
with, per source:

- a circuit breaker: after ``failure_threshold`` consecutive failures that say the source is
  unhealthy (unavailable, timeout, rate-limited), calls fail fast with `CircuitOpen` for
  ``recovery_time`` seconds (2 by default: a source back from a short outage is used again
  within seconds); then up to ``half_open_max_calls`` trial calls go through, and the first
  healthy answer closes the breaker while an unhealthy one opens it again, for twice as long
  as the last time, up to ``recovery_max`` (so a source that stays down is probed less and
  less often). A 404 or a validation error is a healthy answer. Exceptions that are not
  `SourceError` are bugs: they propagate unchanged and the breaker ignores them. The breaker
  logs one line when it opens (the source is down) and one when it closes again.
- a concurrency limit on attempts in flight (a retry waiting out its backoff holds no slot);
- a timeout per attempt, raised as `SourceTimeout`;
- retries of retryable errors for idempotent calls only (reads, and writes carrying an
  idempotency key or external id), with full-jitter exponential backoff, or the source's
  ``Retry-After`` (capped) when it rate-limits us;
- counters (`Resilience.snapshot`) and an observer hook where metrics plug in (by default
  `sources.instruments.MetricsObserver`; the breaker's state and the counters are read by
  ``/metrics`` at scrape time), and time spent waiting for a concurrency slot.

Cancellation propagates at once and gives back the concurrency slot.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol, TypedDict, TypeVar

from sources.errors import (
    CircuitOpen,
    SourceError,
    SourceRateLimited,
    SourceTimeout,
    SourceUnavailable,
)
from sources.instruments import MetricsObserver, breaker_samples
from telemetry import metrics, tracing
from telemetry.tracing import SpanKind

__all__ = [
    "BreakerState",
    "NullObserver",
    "Resilience",
    "ResilienceObserver",
    "ResiliencePolicy",
    "ResilienceSnapshot",
]

T = TypeVar("T")
logger = logging.getLogger("accord.sources")
BreakerState = Literal["closed", "open", "half_open"]

# Failures that say the source itself is in trouble; anything else is a healthy answer.
_UNHEALTHY = (SourceUnavailable, SourceTimeout, SourceRateLimited)
_INTERNAL = "INTERNAL_ERROR"  # failures key for exceptions that are not SourceError


@dataclass(frozen=True, slots=True)
class ResiliencePolicy:
    """How hard to try one source. Times are in seconds."""

    timeout: float = 10.0  # per attempt
    max_attempts: int = 3  # first try included
    backoff_base: float = 0.1  # ceiling of the first retry's delay; doubles per retry
    backoff_max: float = 2.0  # the ceiling never grows past this
    retry_after_max: float = 10.0  # longest Retry-After we wait out
    failure_threshold: int = 5  # consecutive unhealthy failures that open the breaker
    recovery_time: float = 2.0  # open -> half-open after this long, the first time
    recovery_max: float = 30.0  # each failed trial doubles the open time, up to this
    half_open_max_calls: int = 1  # trial calls let through while half-open
    max_concurrency: int = 16  # attempts in flight

    def __post_init__(self) -> None:
        positive = {
            "timeout": self.timeout,
            "max_attempts": self.max_attempts,
            "failure_threshold": self.failure_threshold,
            "half_open_max_calls": self.half_open_max_calls,
            "max_concurrency": self.max_concurrency,
        }
        non_negative = {
            "backoff_base": self.backoff_base,
            "backoff_max": self.backoff_max,
            "retry_after_max": self.retry_after_max,
            "recovery_time": self.recovery_time,
            "recovery_max": self.recovery_max,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"ResiliencePolicy.{name} must be positive, got {value!r}")
        for name, value in non_negative.items():
            if not value >= 0:
                raise ValueError(f"ResiliencePolicy.{name} must not be negative, got {value!r}")

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Delay before the ``retry``-th retry (1-based): uniform in [0, ceiling] ("full
        jitter"), ceiling = min(backoff_max, backoff_base * 2**(retry-1)), so that clients
        that failed together do not retry together."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** (retry - 1))
        return rng.uniform(0.0, ceiling)


class ResilienceObserver(Protocol):
    """Hooks for metrics and tracing; called synchronously, so keep them quick."""

    def on_attempt(self, source: str, name: str, attempt: int) -> None:
        """An attempt (1-based) is about to reach the source."""

    def on_retry(
        self, source: str, name: str, attempt: int, error: SourceError, delay: float
    ) -> None:
        """Attempt ``attempt`` failed with ``error``; the next one starts after ``delay`` s."""

    def on_result(
        self, source: str, name: str, *, attempts: int, elapsed: float, error: BaseException | None
    ) -> None:
        """The call ended: ``error`` is None on success, else what the caller receives
        (including `CircuitOpen` and `asyncio.CancelledError`)."""


class NullObserver:
    """The default observer: observes nothing."""

    def on_attempt(self, source: str, name: str, attempt: int) -> None:
        return None

    def on_retry(
        self, source: str, name: str, attempt: int, error: SourceError, delay: float
    ) -> None:
        return None

    def on_result(
        self, source: str, name: str, *, attempts: int, elapsed: float, error: BaseException | None
    ) -> None:
        return None


class ResilienceSnapshot(TypedDict):
    """Counters since the `Resilience` was built; calls = successes + failures + cancelled."""

    source: str
    state: BreakerState
    calls: int
    successes: int
    failures: dict[str, int]  # by error code; INTERNAL_ERROR for exceptions not SourceError
    retries: int
    short_circuited: int  # calls refused by the open breaker without reaching the source
    cancelled: int
    breaker_opened: int
    in_flight: int  # attempts running now


class _Breaker:
    """Consecutive-failure circuit breaker; open turns half-open lazily when the clock says so."""

    def __init__(self, source: str, policy: ResiliencePolicy, clock: Callable[[], float]) -> None:
        self._source = source
        self._policy = policy
        self._clock = clock
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._open_for = policy.recovery_time
        self._trials = 0
        self.opened = 0

    @property
    def state(self) -> BreakerState:
        if self._state == "open" and self._clock() - self._opened_at >= self._open_for:
            self._state = "half_open"
            self._trials = 0
        return self._state

    def admit(self) -> bool:
        """Let an attempt through (True when it is a half-open trial) or raise CircuitOpen."""
        state = self.state
        if state == "closed":
            return False
        if state == "open":
            wait = self._opened_at + self._open_for - self._clock()
            raise CircuitOpen(
                self._source,
                f"circuit open after repeated failures; next trial in {wait:.1f} s",
                retry_after=wait,
            )
        if self._trials >= self._policy.half_open_max_calls:
            raise CircuitOpen(self._source, "circuit half-open; trial calls in progress")
        self._trials += 1
        return True

    def settle(self, trial: bool, healthy: bool | None) -> None:
        """Record how an admitted attempt ended; ``healthy`` None means it says nothing
        about the source (a bug in our code, a cancellation)."""
        if trial:
            self._trials -= 1
        if healthy is None:
            return
        if self._state == "closed":
            self._failures = 0 if healthy else self._failures + 1
            if self._failures >= self._policy.failure_threshold:
                self._open(self._policy.recovery_time)
        elif self._state == "half_open" and trial:
            # Only trials decide: stragglers admitted before the breaker opened are old news.
            if healthy:
                self._state = "closed"
                self._failures = 0
                logger.info("%s answers again: its circuit breaker is closed", self._source)
            else:  # still down: probe less often
                ceiling = max(self._policy.recovery_max, self._policy.recovery_time)
                self._open(min(self._open_for * 2, ceiling))

    def _open(self, seconds: float) -> None:
        if self._state == "closed":  # one line when the source goes down, one when it is back
            logger.warning(
                "%s is unavailable after %d failures in a row: calls fail fast, next trial in "
                "%.0f s",
                self._source,
                self._failures,
                seconds,
            )
        self._state = "open"
        self._opened_at = self._clock()
        self._open_for = seconds
        self.opened += 1


class Resilience:
    """Timeout, retry, circuit breaker and concurrency limit for one source's calls."""

    def __init__(
        self,
        source: str,
        policy: ResiliencePolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        observer: ResilienceObserver | None = None,
    ) -> None:
        self.source = source
        self.policy = policy or ResiliencePolicy()
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._observer: ResilienceObserver = observer or MetricsObserver()
        self._breaker = _Breaker(source, self.policy, clock)
        self._slots = asyncio.Semaphore(self.policy.max_concurrency)
        self._calls = 0
        self._successes = 0
        self._failures: Counter[str] = Counter()
        self._retries = 0
        self._short_circuited = 0
        self._cancelled = 0
        self._in_flight = 0
        metrics.watch(self, breaker_samples)

    @property
    def state(self) -> BreakerState:
        """The breaker's state: "closed", "open" or "half_open"."""
        return self._breaker.state

    def snapshot(self) -> ResilienceSnapshot:
        """Counters and breaker state now, for metrics, /readyz and the ops view."""
        return ResilienceSnapshot(
            source=self.source,
            state=self.state,
            calls=self._calls,
            successes=self._successes,
            failures=dict(self._failures),
            retries=self._retries,
            short_circuited=self._short_circuited,
            cancelled=self._cancelled,
            breaker_opened=self._breaker.opened,
            in_flight=self._in_flight,
        )

    async def call(
        self, operation: Callable[[], Awaitable[T]], *, name: str, idempotent: bool
    ) -> T:
        """Run ``operation`` (a fresh awaitable per attempt) under this source's policy.

        ``name`` labels the call for observers (e.g. "account.fetch_many"). Retries happen
        only when ``idempotent`` is true, since a repeated write could post twice. With
        tracing on, the call (its retries included) is one client span.
        """
        if not tracing.enabled():
            return await self._call(operation, name, idempotent)
        attributes = {"accord.system": self.source, "accord.endpoint": name}
        with tracing.span(f"{self.source} {name}", attributes, kind=SpanKind.CLIENT) as span:
            try:
                return await self._call(operation, name, idempotent)
            except BaseException as exc:
                tracing.error(
                    span, exc.code if isinstance(exc, SourceError) else type(exc).__name__
                )
                raise

    async def _call(self, operation: Callable[[], Awaitable[T]], name: str, idempotent: bool) -> T:
        self._calls += 1
        started = self._clock()
        attempt = 0
        error: BaseException | None = None
        try:
            while True:
                attempt += 1
                try:
                    return await self._attempt(operation, name, attempt)
                except SourceError as failure:
                    delay = self._retry_delay(failure, attempt, idempotent)
                    if delay is None:
                        raise
                    self._retries += 1
                    self._observer.on_retry(self.source, name, attempt, failure, delay)
                await self._sleep(delay)
        except asyncio.CancelledError as cancelled:
            error = cancelled
            self._cancelled += 1
            raise
        except BaseException as failure:
            error = failure
            self._failures[failure.code if isinstance(failure, SourceError) else _INTERNAL] += 1
            raise
        finally:
            if error is None:
                self._successes += 1
            self._observer.on_result(
                self.source, name, attempts=attempt, elapsed=self._clock() - started, error=error
            )

    async def _attempt(self, operation: Callable[[], Awaitable[T]], name: str, attempt: int) -> T:
        try:
            trial = self._breaker.admit()
        except CircuitOpen:
            self._short_circuited += 1
            raise
        healthy: bool | None = None
        try:
            waiting = self._clock() if self._slots.locked() else None  # all slots taken
            async with self._slots:
                if waiting is not None:
                    waited = self._clock() - waiting
                    metrics.UPSTREAM_WAIT.labels(self.source, "process").observe(waited)
                self._in_flight += 1
                try:
                    self._observer.on_attempt(self.source, name, attempt)
                    deadline = asyncio.timeout(self.policy.timeout)
                    try:
                        async with deadline:
                            result = await operation()
                    except TimeoutError as exc:
                        if not deadline.expired():  # the operation's own TimeoutError: a bug
                            raise
                        raise SourceTimeout(
                            self.source, f"{name}: no answer within {self.policy.timeout:g} s"
                        ) from exc
                finally:
                    self._in_flight -= 1
        except SourceError as failure:
            healthy = not isinstance(failure, _UNHEALTHY)
            raise
        else:
            healthy = True
            return result
        finally:
            self._breaker.settle(trial, healthy)

    def _retry_delay(self, failure: SourceError, attempt: int, idempotent: bool) -> float | None:
        """Seconds to wait before the next attempt, or None when this failure is final."""
        if (
            not idempotent
            or not failure.retryable
            or isinstance(failure, CircuitOpen)
            or attempt >= self.policy.max_attempts
            or self._breaker.state != "closed"  # this failure opened it, or trials decide
        ):
            return None
        if isinstance(failure, SourceRateLimited) and failure.retry_after is not None:
            return min(failure.retry_after, self.policy.retry_after_max)
        return self.policy.backoff(attempt, self._rng)
