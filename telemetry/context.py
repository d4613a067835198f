"""The request being served, as every layer below the ways in sees it: its request id and
trace id (for log lines and error extensions), what it is (operation, caller) and how many
upstream calls it made (for the access log).

The ways in set `CURRENT` once per request; tasks the request starts (DataLoader batches)
and worker threads it hands work to through ``asyncio.to_thread`` inherit it. Nothing here
is created per call beyond one small object per request.
"""

from __future__ import annotations

import random
import re
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["CURRENT", "RequestContext", "current", "parse_traceparent", "traceparent_of"]

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16


@dataclass(slots=True)
class RequestContext:
    request_id: str
    trace_id: str
    sampled: bool = True
    parent_span: str | None = None  # the caller's span, from its traceparent
    operation: str | None = None  # the operation's label (bounded, as in the metrics)
    caller: str | None = None  # the caller's name: never its key or token
    upstream_calls: int = 0
    traced: bool = False  # recorded by a tracer, or part of the caller's trace (traceparent)


CURRENT: ContextVar[RequestContext | None] = ContextVar("accord_request", default=None)


def current() -> RequestContext | None:
    return CURRENT.get()


def parse_traceparent(value: str | None) -> tuple[str, str, bool] | None:
    """(trace id, parent span id, sampled) of a W3C ``traceparent`` header, or None when it
    is absent or malformed (then a new trace starts, as the recommendation says)."""
    if not value:
        return None
    match = _TRACEPARENT.fullmatch(value.strip().lower())
    if match is None or match[1] == _INVALID_TRACE or match[2] == _INVALID_SPAN:
        return None
    return match[1], match[2], bool(int(match[3], 16) & 1)


# Ids identify, they guard nothing: the process's Mersenne Twister (seeded from the OS at
# start) gives them several times faster than the OS's random source.
_RANDOM = random.Random()


def new_trace_id() -> str:
    return f"{_RANDOM.getrandbits(128):032x}"


def new_span_id() -> str:
    return f"{_RANDOM.getrandbits(64):016x}"


def traceparent_of(context: RequestContext) -> str:
    """A ``traceparent`` continuing ``context``'s trace with a new span id: what goes to an
    upstream system when no tracer is recording (with one, its span's own is sent)."""
    flags = "01" if context.sampled else "00"
    return f"00-{context.trace_id}-{new_span_id()}-{flags}"
