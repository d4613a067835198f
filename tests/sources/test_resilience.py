"""The resilience layer: retries, backoff, Retry-After, circuit breaker, timeout, concurrency.

Unit tests drive `Resilience` with scripted async operations, a fake clock and a recording
sleep, so nothing waits for real except the timeout tests (50 ms). The last tests drive it
against a real HTTP server on loopback through httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sources.errors import (
    CircuitOpen,
    RecordNotFound,
    SourceAuthError,
    SourceError,
    SourceRateLimited,
    SourceTimeout,
    SourceUnavailable,
    SourceValidationError,
    parse_retry_after,
)
from sources.resilience import Resilience, ResiliencePolicy

# --- fakes for pure-logic tests ------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSleep:
    """Records each requested delay and moves the fake clock instead of waiting."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.clock.advance(delay)
        await asyncio.sleep(0)


class Script:
    """An upstream operation answering the scripted outcomes in turn (the last one repeats)."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self) -> object:
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        await asyncio.sleep(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def down() -> SourceUnavailable:
    return SourceUnavailable("erp", "service unavailable", status=503)


@dataclass
class Harness:
    resilience: Resilience
    clock: FakeClock
    sleep: RecordingSleep


def harness(**policy: Any) -> Harness:
    clock = FakeClock()
    sleep = RecordingSleep(clock)
    resilience = Resilience(
        "erp", ResiliencePolicy(**policy), clock=clock, sleep=sleep, rng=random.Random(7)
    )
    return Harness(resilience, clock, sleep)


async def fail_times(h: Harness, times: int) -> None:
    """Make ``times`` single-attempt calls that find the source down."""
    for _ in range(times):
        with pytest.raises(SourceUnavailable):
            await h.resilience.call(Script(down()), name="read", idempotent=False)


async def until(condition: Any, *, spins: int = 1000) -> None:
    """Let other tasks run until ``condition()`` holds."""
    for _ in range(spins):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


# --- retries -------------------------------------------------------------------------------


async def test_a_healthy_call_runs_once_and_is_counted() -> None:
    # given
    h = harness()
    operation = Script("ok")

    # when
    result = await h.resilience.call(operation, name="customer.get", idempotent=True)

    # then
    assert result == "ok"
    assert operation.calls == 1
    snapshot = h.resilience.snapshot()
    assert snapshot["calls"] == 1
    assert snapshot["successes"] == 1
    assert snapshot["failures"] == {}
    assert snapshot["retries"] == 0
    assert snapshot["state"] == "closed"
    assert snapshot["in_flight"] == 0


async def test_a_read_is_retried_through_transient_failures() -> None:
    # given a source that is down twice, then answers
    h = harness(max_attempts=3)
    operation = Script(down(), down(), "ok")

    # when
    result = await h.resilience.call(operation, name="customer.get", idempotent=True)

    # then
    assert result == "ok"
    assert operation.calls == 3
    assert len(h.sleep.delays) == 2
    assert h.resilience.snapshot()["retries"] == 2
    assert h.resilience.snapshot()["successes"] == 1


async def test_retries_stop_after_max_attempts_with_the_last_error() -> None:
    # given a source that stays down
    h = harness(max_attempts=3)
    operation = Script(down())

    # when / then
    with pytest.raises(SourceUnavailable) as raised:
        await h.resilience.call(operation, name="customer.get", idempotent=True)
    assert raised.value.status == 503
    assert operation.calls == 3
    snapshot = h.resilience.snapshot()
    assert snapshot["failures"] == {"SOURCE_UNAVAILABLE": 1}
    assert snapshot["retries"] == 2


async def test_a_write_without_idempotency_is_never_retried() -> None:
    # given a create that failed once (the source may have posted it anyway)
    h = harness(max_attempts=5)
    operation = Script(down(), "created")

    # when / then
    with pytest.raises(SourceUnavailable):
        await h.resilience.call(operation, name="salesOrder.create", idempotent=False)
    assert operation.calls == 1
    assert h.sleep.delays == []


@pytest.mark.parametrize(
    "error",
    [
        RecordNotFound("erp", "no such customer", status=404),
        SourceValidationError("erp", "bad input", status=400),
        SourceAuthError("erp", "invalid token", status=401),
        SourceRateLimited("erp", "daily allowance spent", retryable=False),
    ],
)
async def test_errors_that_are_not_retryable_are_raised_at_once(error: SourceError) -> None:
    # given
    h = harness(max_attempts=5)
    operation = Script(error, "ok")

    # when / then
    with pytest.raises(type(error)) as raised:
        await h.resilience.call(operation, name="customer.get", idempotent=True)
    assert raised.value is error
    assert operation.calls == 1


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    # given
    policy = ResiliencePolicy(backoff_base=0.1, backoff_max=0.5)
    rng = random.Random(3)

    for retry, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (9, 0.5)]:
        # when
        delays = [policy.backoff(retry, rng) for _ in range(2000)]

        # then: every delay is inside [0, ceiling] and the draws spread over the whole range
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.9 * ceiling
        assert min(delays) < 0.1 * ceiling


async def test_retries_wait_jittered_delays_within_the_backoff_ceiling() -> None:
    # given
    h = harness(max_attempts=6, backoff_base=0.1, backoff_max=0.5, failure_threshold=10)

    # when
    with pytest.raises(SourceUnavailable):
        await h.resilience.call(Script(down()), name="read", idempotent=True)

    # then
    ceilings = [0.1, 0.2, 0.4, 0.5, 0.5]
    assert len(h.sleep.delays) == len(ceilings)
    assert all(0.0 <= d <= c for d, c in zip(h.sleep.delays, ceilings, strict=True))
    assert len(set(h.sleep.delays)) == len(h.sleep.delays)  # jittered, not a fixed schedule


async def test_retry_after_replaces_the_backoff() -> None:
    # given a 429 asking for 2.5 s
    h = harness(backoff_base=0.1, retry_after_max=10.0)
    operation = Script(SourceRateLimited("erp", "too many requests", retry_after=2.5), "ok")

    # when
    result = await h.resilience.call(operation, name="read", idempotent=True)

    # then
    assert result == "ok"
    assert h.sleep.delays == [2.5]


async def test_retry_after_is_capped_by_the_policy() -> None:
    # given a 429 asking for two minutes
    h = harness(retry_after_max=5.0)
    operation = Script(SourceRateLimited("erp", "too many requests", retry_after=120.0), "ok")

    # when
    await h.resilience.call(operation, name="read", idempotent=True)

    # then
    assert h.sleep.delays == [5.0]


async def test_a_rate_limit_without_retry_after_backs_off() -> None:
    # given
    h = harness(backoff_base=0.1)
    operation = Script(SourceRateLimited("erp", "concurrency limit exceeded"), "ok")

    # when
    await h.resilience.call(operation, name="read", idempotent=True)

    # then
    assert len(h.sleep.delays) == 1
    assert 0.0 <= h.sleep.delays[0] <= 0.1


# --- circuit breaker -------------------------------------------------------------------------


async def test_the_breaker_opens_after_consecutive_failures_and_then_fails_fast() -> None:
    # given a source that failed as often as the threshold allows
    h = harness(failure_threshold=3, recovery_time=30.0)
    await fail_times(h, 3)
    assert h.resilience.state == "open"

    # when
    operation = Script("ok")
    with pytest.raises(CircuitOpen) as raised:
        await h.resilience.call(operation, name="read", idempotent=True)

    # then the source was not touched, and the error says when it will be tried again
    assert operation.calls == 0
    assert raised.value.code == "SOURCE_UNAVAILABLE"
    assert raised.value.source == "erp"
    assert raised.value.retry_after == pytest.approx(30.0)
    snapshot = h.resilience.snapshot()
    assert snapshot["breaker_opened"] == 1
    assert snapshot["short_circuited"] == 1
    assert snapshot["failures"] == {"SOURCE_UNAVAILABLE": 4}


async def test_only_consecutive_failures_count_towards_opening() -> None:
    # given
    h = harness(failure_threshold=3)

    # when two failures, a success, two failures
    await fail_times(h, 2)
    await h.resilience.call(Script("ok"), name="read", idempotent=False)
    await fail_times(h, 2)

    # then
    assert h.resilience.state == "closed"


async def test_healthy_refusals_do_not_trip_the_breaker() -> None:
    # given
    h = harness(failure_threshold=2)
    refusals = [RecordNotFound("erp", "no such record"), SourceValidationError("erp", "bad")]

    # when many 404s and validation errors, and one failure between two refusals
    for error in refusals * 5:
        with pytest.raises(type(error)):
            await h.resilience.call(Script(error), name="read", idempotent=True)
    await fail_times(h, 1)
    with pytest.raises(RecordNotFound):
        await h.resilience.call(Script(refusals[0]), name="read", idempotent=True)
    await fail_times(h, 1)

    # then
    assert h.resilience.state == "closed"
    assert h.resilience.snapshot()["breaker_opened"] == 0


async def test_the_breaker_turns_half_open_after_recovery_time() -> None:
    # given
    h = harness(failure_threshold=1, recovery_time=30.0)
    await fail_times(h, 1)

    # when / then
    h.clock.advance(29.9)
    before = h.resilience.state
    h.clock.advance(0.1)
    after = h.resilience.state
    assert (before, after) == ("open", "half_open")


async def test_a_successful_trial_closes_the_breaker() -> None:
    # given a breaker that is half-open
    h = harness(failure_threshold=2, recovery_time=30.0)
    await fail_times(h, 2)
    h.clock.advance(30.0)
    operation = Script("ok")

    # when
    result = await h.resilience.call(operation, name="read", idempotent=True)

    # then
    assert result == "ok"
    assert operation.calls == 1
    assert h.resilience.state == "closed"
    # and counting starts afresh: one failure does not reopen it
    await fail_times(h, 1)
    assert h.resilience.state == "closed"


async def test_a_failed_trial_opens_the_breaker_again() -> None:
    # given a breaker that is half-open
    h = harness(failure_threshold=2, recovery_time=30.0)
    await fail_times(h, 2)
    h.clock.advance(30.0)

    # when the trial fails
    operation = Script(down(), "ok")
    with pytest.raises(SourceUnavailable) as raised:
        await h.resilience.call(operation, name="read", idempotent=True)

    # then it is not retried, and the breaker is open for another recovery time
    assert not isinstance(raised.value, CircuitOpen)
    assert operation.calls == 1
    assert h.resilience.state == "open"
    assert h.resilience.snapshot()["breaker_opened"] == 2
    with pytest.raises(CircuitOpen) as refused:
        await h.resilience.call(operation, name="read", idempotent=True)
    assert refused.value.retry_after == pytest.approx(30.0)
    assert operation.calls == 1


async def test_the_breaker_probes_soon_then_less_often_while_the_source_stays_down() -> None:
    # given the default policy: a first trial 2 s after the breaker opens, at most 30 s apart
    h = harness(failure_threshold=1)
    await fail_times(h, 1)

    # when every trial finds the source still down
    waits = []
    for _ in range(6):
        with pytest.raises(CircuitOpen) as refused:
            await h.resilience.call(Script("ok"), name="read", idempotent=True)
        assert refused.value.retry_after is not None
        waits.append(round(refused.value.retry_after, 3))
        h.clock.advance(refused.value.retry_after)
        assert h.resilience.state == "half_open"
        await fail_times(h, 1)

    # then the open time doubles from 2 s, capped at 30 s
    assert waits == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]

    # and once a trial succeeds, the next outage is probed after 2 s again
    h.clock.advance(30.0)
    await h.resilience.call(Script("ok"), name="read", idempotent=True)
    await fail_times(h, 1)
    with pytest.raises(CircuitOpen) as refused:
        await h.resilience.call(Script("ok"), name="read", idempotent=True)
    assert refused.value.retry_after == pytest.approx(2.0)


async def half_open_with_a_trial(answer: asyncio.Event) -> tuple[Harness, asyncio.Task[str]]:
    """A half-open breaker allowing one trial, and that trial in flight: it answers "ok"
    once ``answer`` is set."""
    h = harness(failure_threshold=1, recovery_time=30.0, half_open_max_calls=1)
    await fail_times(h, 1)
    h.clock.advance(30.0)

    async def slow_trial() -> str:
        await answer.wait()
        return "ok"

    trial = asyncio.create_task(h.resilience.call(slow_trial, name="read", idempotent=True))
    await until(lambda: h.resilience.snapshot()["in_flight"] == 1)
    return h, trial


async def test_half_open_lets_through_only_the_allowed_number_of_trials() -> None:
    # given a half-open breaker allowing one trial, and a trial in flight
    answer = asyncio.Event()
    h, trial = await half_open_with_a_trial(answer)

    # when another call arrives meanwhile
    other = Script("ok")
    with pytest.raises(CircuitOpen) as refused:
        await h.resilience.call(other, name="read", idempotent=True)

    # then it fails fast; the trial's answer closes the breaker
    assert other.calls == 0
    assert refused.value.retry_after is None
    answer.set()
    assert await trial == "ok"
    assert h.resilience.state == "closed"


async def test_a_retry_loop_stops_when_its_failures_open_the_breaker() -> None:
    # given a threshold lower than the attempts a read may make
    h = harness(failure_threshold=2, max_attempts=5)
    operation = Script(down())

    # when / then the caller gets the source's own error, not CircuitOpen
    with pytest.raises(SourceUnavailable) as raised:
        await h.resilience.call(operation, name="read", idempotent=True)
    assert not isinstance(raised.value, CircuitOpen)
    assert operation.calls == 2
    assert h.resilience.state == "open"


async def test_a_bug_propagates_unchanged_and_does_not_trip_the_breaker() -> None:
    # given an operation with a bug in our own code
    h = harness(failure_threshold=1, max_attempts=3)
    bug = KeyError("Id")
    operation = Script(bug)

    # when / then
    with pytest.raises(KeyError) as raised:
        await h.resilience.call(operation, name="read", idempotent=True)
    assert raised.value is bug
    assert operation.calls == 1
    assert h.resilience.state == "closed"
    assert h.resilience.snapshot()["failures"] == {"INTERNAL_ERROR": 1}


# --- timeout ---------------------------------------------------------------------------------


async def test_an_attempt_that_outlasts_the_timeout_becomes_source_timeout() -> None:
    # given a 50 ms timeout and an upstream that takes seconds
    h = harness(timeout=0.05, max_attempts=2)
    started = 0

    async def hang() -> str:
        nonlocal started
        started += 1
        await asyncio.sleep(5)
        return "late"

    # when / then
    with pytest.raises(SourceTimeout) as raised:
        await h.resilience.call(hang, name="customer.get", idempotent=True)
    assert raised.value.code == "SOURCE_TIMEOUT"
    assert raised.value.source == "erp"
    assert "customer.get" in str(raised.value)
    assert started == 2
    assert h.resilience.snapshot()["failures"] == {"SOURCE_TIMEOUT": 1}
    assert h.resilience.snapshot()["in_flight"] == 0


async def test_a_timeout_error_raised_by_the_operation_itself_is_a_bug() -> None:
    # given
    h = harness(timeout=5.0)

    async def broken() -> str:
        raise TimeoutError("raised by our own code")

    # when / then
    with pytest.raises(TimeoutError) as raised:
        await h.resilience.call(broken, name="read", idempotent=True)
    assert not isinstance(raised.value, SourceTimeout)
    assert str(raised.value) == "raised by our own code"


# --- concurrency and cancellation ----------------------------------------------------------


async def test_attempts_in_flight_never_exceed_the_concurrency_limit() -> None:
    # given 50 concurrent calls and a limit of 5
    h = harness(max_concurrency=5)
    gate = asyncio.Event()
    running = 0
    peak = 0

    async def upstream(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await gate.wait()
        await asyncio.sleep(0)
        running -= 1
        return i

    calls = [
        asyncio.create_task(h.resilience.call(partial(upstream, i), name="read", idempotent=True))
        for i in range(50)
    ]

    # when the first five are stuck upstream
    await until(lambda: running == 5)
    for _ in range(20):
        await asyncio.sleep(0)

    # then no sixth has started, and all finish once the source answers
    assert running == 5
    assert h.resilience.snapshot()["in_flight"] == 5
    gate.set()
    assert await asyncio.gather(*calls) == list(range(50))
    assert peak == 5
    assert h.resilience.snapshot()["in_flight"] == 0
    assert h.resilience.snapshot()["successes"] == 50


async def test_cancelling_a_call_releases_its_slot() -> None:
    # given a limit of one, a call holding the slot and another waiting for it
    h = harness(max_concurrency=1)
    never = asyncio.Event()

    async def stuck() -> str:
        await never.wait()
        return "never"

    holder = asyncio.create_task(h.resilience.call(stuck, name="read", idempotent=True))
    await until(lambda: h.resilience.snapshot()["in_flight"] == 1)
    waiter = asyncio.create_task(h.resilience.call(Script("ok"), name="read", idempotent=True))
    await asyncio.sleep(0)
    assert not waiter.done()

    # when
    holder.cancel()

    # then the cancellation propagates and the waiting call gets the slot
    with pytest.raises(asyncio.CancelledError):
        await holder
    assert await waiter == "ok"
    snapshot = h.resilience.snapshot()
    assert snapshot["cancelled"] == 1
    assert snapshot["successes"] == 1
    assert snapshot["failures"] == {}
    assert snapshot["in_flight"] == 0
    assert snapshot["state"] == "closed"


async def test_cancelling_a_trial_frees_it_for_the_next_call() -> None:
    # given a half-open breaker whose single trial is cancelled
    h, trial = await half_open_with_a_trial(asyncio.Event())
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial

    # when
    result = await h.resilience.call(Script("ok"), name="read", idempotent=True)

    # then
    assert result == "ok"
    assert h.resilience.state == "closed"


# --- observer and policy ---------------------------------------------------------------------


@dataclass
class RecordingObserver:
    events: list[tuple[object, ...]] = field(default_factory=list)

    def on_attempt(self, source: str, name: str, attempt: int) -> None:
        self.events.append(("attempt", source, name, attempt))

    def on_retry(
        self, source: str, name: str, attempt: int, error: SourceError, delay: float
    ) -> None:
        self.events.append(("retry", attempt, error.code))

    def on_result(
        self, source: str, name: str, *, attempts: int, elapsed: float, error: BaseException | None
    ) -> None:
        self.events.append(("result", attempts, None if error is None else type(error).__name__))


async def test_the_observer_sees_attempts_retries_and_results() -> None:
    # given
    observer = RecordingObserver()
    clock = FakeClock()
    resilience = Resilience(
        "netsuite",
        ResiliencePolicy(failure_threshold=2, max_attempts=3),
        clock=clock,
        sleep=RecordingSleep(clock),
        observer=observer,
    )

    # when one call succeeds on its second attempt, then the source stays down
    await resilience.call(Script(down(), "ok"), name="customer.get", idempotent=True)
    with pytest.raises(SourceUnavailable):
        await resilience.call(Script(down()), name="customer.get", idempotent=True)
    with pytest.raises(CircuitOpen):
        await resilience.call(Script("ok"), name="customer.get", idempotent=True)

    # then
    assert observer.events == [
        ("attempt", "netsuite", "customer.get", 1),
        ("retry", 1, "SOURCE_UNAVAILABLE"),
        ("attempt", "netsuite", "customer.get", 2),
        ("result", 2, None),
        ("attempt", "netsuite", "customer.get", 1),
        ("retry", 1, "SOURCE_UNAVAILABLE"),
        ("attempt", "netsuite", "customer.get", 2),
        ("result", 2, "SourceUnavailable"),
        ("result", 1, "CircuitOpen"),
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"timeout": 0},
        {"max_attempts": 0},
        {"max_concurrency": 0},
        {"failure_threshold": 0},
        {"half_open_max_calls": 0},
        {"backoff_base": -1.0},
        {"retry_after_max": float("nan")},
    ],
)
def test_a_policy_rejects_impossible_settings(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        ResiliencePolicy(**bad)


# --- against real HTTP -----------------------------------------------------------------------


class _QuietServer(uvicorn.Server):
    """Leaves the test runner's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Upstream:
    """A tiny ERP-like HTTP server: /flaky is down twice, /throttled answers 429 once."""

    base_url: str = ""
    hits: dict[str, int] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> Starlette:
        async def flaky(request: Request) -> JSONResponse:
            if self._hit("flaky") <= 2:
                return JSONResponse(
                    {"title": "Service Unavailable", "status": 503}, status_code=503
                )
            return JSONResponse({"id": "647", "companyName": "Acme GmbH"})

        async def throttled(request: Request) -> JSONResponse:
            if self._hit("throttled") == 1:
                return JSONResponse(
                    {"title": "Too Many Requests", "status": 429},
                    status_code=429,
                    headers={"Retry-After": "1"},
                )
            return JSONResponse({"id": "648"})

        async def slow(request: Request) -> JSONResponse:
            self._hit("slow")
            await self.release.wait()
            return JSONResponse({"id": "649"})

        return Starlette(
            routes=[
                Route("/customer/647", flaky),
                Route("/customer/648", throttled),
                Route("/customer/649", slow),
            ]
        )

    def _hit(self, key: str) -> int:
        self.hits[key] = self.hits.get(key, 0) + 1
        return self.hits[key]


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    state = Upstream()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = _QuietServer(
        uvicorn.Config(state.app(), log_level="warning", access_log=False, lifespan="off")
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or serving.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "the test server did not start"
    state.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield state
    state.release.set()
    server.should_exit = True
    await serving
    sock.close()


async def get_customer(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    """One upstream read, its failures mapped the way adapters map them."""
    try:
        response = await client.get(path)
    except httpx.TransportError as exc:
        raise SourceUnavailable("netsuite", f"GET {path}: {exc!r}") from exc
    if response.status_code == 429:
        raise SourceRateLimited(
            "netsuite",
            "too many requests",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            status=429,
            details=response.text,
        )
    if response.status_code >= 500:
        raise SourceUnavailable(
            "netsuite", "server error", status=response.status_code, details=response.text
        )
    body: dict[str, Any] = response.json()
    return body


async def test_over_http_503s_are_retried_until_the_source_answers(upstream: Upstream) -> None:
    # given a server that answers 503 twice, then 200
    clock = FakeClock()
    sleep = RecordingSleep(clock)
    resilience = Resilience("netsuite", ResiliencePolicy(max_attempts=3), clock=clock, sleep=sleep)

    # when
    async with httpx.AsyncClient(base_url=upstream.base_url, timeout=5.0) as client:
        customer = await resilience.call(
            lambda: get_customer(client, "/customer/647"), name="customer.get", idempotent=True
        )

    # then
    assert customer == {"id": "647", "companyName": "Acme GmbH"}
    assert upstream.hits["flaky"] == 3
    assert len(sleep.delays) == 2
    assert resilience.snapshot()["retries"] == 2


async def test_over_http_a_429_waits_out_its_retry_after(upstream: Upstream) -> None:
    # given a server that answers 429 with Retry-After: 1 once
    clock = FakeClock()
    sleep = RecordingSleep(clock)
    resilience = Resilience("netsuite", ResiliencePolicy(), clock=clock, sleep=sleep)

    # when
    async with httpx.AsyncClient(base_url=upstream.base_url, timeout=5.0) as client:
        customer = await resilience.call(
            lambda: get_customer(client, "/customer/648"), name="customer.get", idempotent=True
        )

    # then
    assert customer == {"id": "648"}
    assert upstream.hits["throttled"] == 2
    assert sleep.delays == [1.0]


async def test_over_http_a_slow_answer_times_out(upstream: Upstream) -> None:
    # given a server that holds the request and a 50 ms timeout
    resilience = Resilience("netsuite", ResiliencePolicy(timeout=0.05, max_attempts=1))

    # when / then
    async with httpx.AsyncClient(base_url=upstream.base_url, timeout=5.0) as client:
        with pytest.raises(SourceTimeout):
            await resilience.call(
                lambda: get_customer(client, "/customer/649"), name="customer.get", idempotent=True
            )
    assert upstream.hits["slow"] == 1
    assert resilience.snapshot()["in_flight"] == 0


async def test_over_http_refused_connections_open_the_breaker() -> None:
    # given a port nobody listens on
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    probe.close()
    clock = FakeClock()
    resilience = Resilience(
        "netsuite",
        ResiliencePolicy(failure_threshold=2, max_attempts=3),
        clock=clock,
        sleep=RecordingSleep(clock),
    )
    connects = 0

    async with httpx.AsyncClient(base_url=url, timeout=5.0) as client:

        async def read() -> dict[str, Any]:
            nonlocal connects
            connects += 1
            return await get_customer(client, "/customer/1")

        # when
        with pytest.raises(SourceUnavailable) as raised:
            await resilience.call(read, name="customer.get", idempotent=True)
        with pytest.raises(CircuitOpen):
            await resilience.call(read, name="customer.get", idempotent=True)

    # then
    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    assert connects == 2
    assert resilience.state == "open"
