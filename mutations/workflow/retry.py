"""How long a workflow step (or its undo) keeps trying a source that fails for now.

A retryable source error (outage, 5xx, 429, an open circuit breaker) says nothing about the
work itself: the same call is likely to succeed once the source is back, usually within
seconds. So a step gets its ``attempts`` tries, and beyond them keeps trying for ``retry_for``
seconds counted from its first failure (persisted in the step's record, so a workflow resumed
by another replica does not start the count again), before the workflow rests in EXCEPTION
for an operator. The pauses grow exponentially with jitter, so that many workflows failing
together do not come back together; a source's own hint (``Retry-After``, the breaker's next
trial) is waited out.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sources.errors import CircuitOpen, SourceError

__all__ = ["RetryWindow", "retry_delay"]


@dataclass(frozen=True)
class RetryWindow:
    """The retry rules of the engine's steps; times in seconds."""

    attempts: int  # tries a step always gets
    retry_for: float  # beyond them, how long after the first failure it keeps trying
    backoff: float  # the first pause's ceiling; doubles per attempt
    backoff_max: float  # the ceiling never grows past this


def retry_delay(
    window: RetryWindow,
    error: SourceError,
    attempt: int,
    since: dt.datetime,
    now: dt.datetime,
    rng: random.Random,
) -> float | None:
    """Seconds to wait before try ``attempt + 1``, or None when the step must give up.

    ``attempt`` is the number of the try that just failed (1-based); ``since`` when the
    step's first retryable failure of this run happened."""
    # an open breaker is no reason to retry at once (hence not retryable for the resilience
    # layer), but every reason to try again once it lets a trial through
    if not (error.retryable or isinstance(error, CircuitOpen)):
        return None
    left = window.retry_for - (now - since).total_seconds()
    if attempt >= window.attempts and left <= 0:
        return None
    ceiling = min(window.backoff_max, window.backoff * 2.0 ** (attempt - 1))
    delay = rng.uniform(ceiling / 2, ceiling)  # "equal jitter": spread out, never zero
    hint = getattr(error, "retry_after", None)
    if isinstance(hint, int | float) and hint > delay:
        delay = float(hint) + rng.uniform(0, window.backoff)
    if attempt >= window.attempts:
        delay = min(delay, max(left, 0.0))
    return delay
