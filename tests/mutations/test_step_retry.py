"""The retry window of a workflow step: its attempts, then a bounded time, then give up."""

from __future__ import annotations

import datetime as dt
import random

from mutations.workflow.retry import RetryWindow, retry_delay
from sources.errors import CircuitOpen, SourceUnavailable, SourceValidationError

WINDOW = RetryWindow(attempts=3, retry_for=20.0, backoff=0.2, backoff_max=2.0)
T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_a_source_that_stays_down_is_retried_for_the_window_then_given_up() -> None:
    # given a step whose source is down from its first try on
    rng = random.Random(3)
    error = SourceUnavailable("netsuite", "down")
    elapsed, attempt, pauses = 0.0, 1, []

    # when it follows the pauses it is given
    while (pause := retry_delay(WINDOW, error, attempt, T0, at(elapsed), rng)) is not None:
        pauses.append(pause)
        elapsed += pause
        attempt += 1

    # then it tried for the whole window and not past it, with growing, jittered pauses
    assert 19.0 <= elapsed <= 20.0 + 1e-6
    assert 0.1 <= pauses[0] <= 0.2
    assert all(pause <= 2.0 for pause in pauses)
    assert len(set(pauses)) == len(pauses)


def test_the_attempts_are_always_had_and_a_refusal_is_never_retried() -> None:
    rng = random.Random(1)
    late = at(3600)  # long past the window
    down = SourceUnavailable("netsuite", "down")
    assert retry_delay(WINDOW, down, 1, T0, late, rng) is not None
    assert retry_delay(WINDOW, down, 2, T0, late, rng) is not None
    assert retry_delay(WINDOW, down, 3, T0, late, rng) is None
    refused = SourceValidationError("netsuite", "bad item")
    assert retry_delay(WINDOW, refused, 1, T0, T0, rng) is None


def test_an_open_breaker_is_waited_out_within_the_window() -> None:
    rng = random.Random(2)
    breaker = CircuitOpen("netsuite", "open", retry_after=4.0)
    assert 4.0 <= (retry_delay(WINDOW, breaker, 5, T0, at(1), rng) or 0) <= 4.2
    # near the end of the window, the pause stops where the window ends
    assert retry_delay(WINDOW, breaker, 5, T0, at(18.5), rng) == 1.5
