"""A closed-loop HTTP/1.1 load generator: fixed concurrency, fixed duration, every answer checked.

Each of ``concurrency`` connections sends one request, reads the whole answer, checks it and
sends the next, for ``duration`` seconds (keep-alive, no pipelining). Requests are encoded
once, before the clock starts, and answers are parsed only as far as the status line, the
``Content-Length`` and the body, so one benchmark process can keep a single-worker server
busy on a small machine. The same generator drives Accord and every baseline it is compared
with, so its own cost cancels out of the ratios.

An answer counts as an error when its status is not 200 or its body carries a GraphQL
``"errors"`` member; a broken connection counts as one error and is reopened. Errors are
never dropped: `LoadResult` keeps their number and the first few samples.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.queries import KEY

MAX_SAMPLES = 5


@dataclass
class LoadResult:
    requests: int = 0  # answered without error
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests only
    error_samples: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0..1) of the latencies, in milliseconds."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def error(self, sample: str) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_SAMPLES:
            self.error_samples.append(sample[:300])

    def merge(self, other: LoadResult) -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.latencies.extend(other.latencies)
        for sample in other.error_samples:
            if len(self.error_samples) < MAX_SAMPLES:
                self.error_samples.append(sample)
        self.errors += other.errors

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.percentile(0.5), 2),
            "p99_ms": round(self.percentile(0.99), 2),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else 0,
            "error_samples": self.error_samples,
        }


def graphql_post(
    host: str,
    port: int,
    query: str | None,
    variables: dict[str, Any] | None,
    extensions: dict[str, Any] | None = None,
) -> bytes:
    """One ``POST /graphql`` request as the benchmarks' caller (`bench.queries.KEY`), encoded
    for the wire; ``query`` None with ``extensions`` naming a persisted query by its hash."""
    fields: dict[str, Any] = {"variables": variables}
    if query is not None:
        fields["query"] = query
    if extensions is not None:
        fields["extensions"] = extensions
    body = json.dumps(fields).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n"
        f"Authorization: Bearer {KEY}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


class _BadAnswer(Exception):
    pass


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, headers = head.partition(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise _BadAnswer(f"not an HTTP answer: {status_line[:80]!r}")
    status = int(parts[1])
    length = None
    for line in headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
            break
    if length is None:
        raise _BadAnswer("an answer without Content-Length")
    return status, await reader.readexactly(length)


async def _connection(
    host: str,
    port: int,
    requests: Iterator[bytes],
    deadline: float,
    result: LoadResult,
    record: bool,
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        while time.perf_counter() < deadline:
            if writer is None or reader is None:
                reader, writer = await asyncio.open_connection(host, port)
            request = next(requests)
            started = time.perf_counter()
            try:
                writer.write(request)
                status, body = await _read_answer(reader)
            except (OSError, asyncio.IncompleteReadError, _BadAnswer, ValueError) as exc:
                result.error(f"connection: {type(exc).__name__}: {exc}")
                writer.close()
                reader = writer = None
                continue
            elapsed = time.perf_counter() - started
            if status != 200 or b'"errors"' in body:
                result.error(f"HTTP {status}: {body[:250].decode('utf-8', 'replace')}")
            elif record:
                result.requests += 1
                result.latencies.append(elapsed)
    finally:
        if writer is not None:
            writer.close()


async def run_load(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    concurrency: int,
    duration: float,
    warmup: float = 0.0,
) -> LoadResult:
    """Drive ``host:port`` with ``requests`` in turn (cycled) from ``concurrency`` connections
    for ``warmup`` seconds (not counted), then ``duration`` seconds (counted)."""
    if not requests:
        raise ValueError("no requests to send")
    cycle = itertools.cycle(requests)
    if warmup > 0:
        scratch = LoadResult()
        end = time.perf_counter() + warmup
        await asyncio.gather(
            *(_connection(host, port, cycle, end, scratch, False) for _ in range(concurrency))
        )
        if scratch.errors:
            return scratch  # a server that fails while warming up fails the measurement too
    result = LoadResult()
    started = time.perf_counter()
    end = started + duration
    await asyncio.gather(
        *(_connection(host, port, cycle, end, result, True) for _ in range(concurrency))
    )
    result.seconds = time.perf_counter() - started
    return result


def run(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    concurrency: int,
    duration: float,
    warmup: float = 0.0,
) -> LoadResult:
    """`run_load` on an event loop of its own (uvloop when installed, as the servers use)."""
    coroutine = run_load(
        host, port, requests, concurrency=concurrency, duration=duration, warmup=warmup
    )
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)
