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


class _Connection(asyncio.Protocol):
    """One keep-alive connection of the closed loop, as an asyncio protocol: the answer is
    parsed as its bytes arrive (status line, Content-Length, body), with no stream reader
    between, so that the generator takes as little of the machine as it can."""

    def __init__(
        self, requests: Iterator[bytes], deadline: float, result: LoadResult, record: bool
    ) -> None:
        self.requests = requests
        self.deadline = deadline
        self.result = result
        self.record = record
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.length = -1  # the body's length once the head is read
        self.head = 0  # where the body starts
        self.status = 0
        self.started = 0.0
        self.closed = asyncio.get_running_loop().create_future()
        self.ended = False  # closed by this side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's own class
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        request = next(self.requests)
        self.started = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.length < 0:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                problem = self._head(self.buffer[:end])
                if problem:
                    self._broken(problem)
                    return
                self.head = end + 4
            if len(self.buffer) < self.head + self.length:
                return
            body = self.buffer[self.head : self.head + self.length]
            self.buffer = self.buffer[self.head + self.length :]
            self.length = -1
            self._answered(body)
            if self.buffer:  # nothing was asked for: a broken server
                self._broken(f"{len(self.buffer)} bytes after the answer")
                return
            if time.perf_counter() >= self.deadline:
                self._close()
                return
            self._send()
            return

    def _head(self, head: bytes) -> str | None:
        status_line, _, headers = head.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            return f"not an HTTP answer: {status_line[:80]!r}"
        self.status = int(parts[1])
        for line in headers.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                self.length = int(value.strip())
                return None
        return "an answer without Content-Length"

    def _answered(self, body: bytes) -> None:
        elapsed = time.perf_counter() - self.started
        if self.status != 200 or b'"errors"' in body:
            self.result.error(f"HTTP {self.status}: {body[:250].decode('utf-8', 'replace')}")
        elif self.record:
            self.result.requests += 1
            self.result.latencies.append(elapsed)

    def _broken(self, problem: str) -> None:
        self.result.error(f"connection: {problem}")
        self._close()

    def _close(self) -> None:
        self.ended = True
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended:  # the server closed it, or the network broke it
            self.result.error(f"connection: closed by the server ({exc or 'EOF'})")
        if not self.closed.done():
            self.closed.set_result(None)


async def _connection(
    host: str,
    port: int,
    requests: Iterator[bytes],
    deadline: float,
    result: LoadResult,
    record: bool,
) -> None:
    """One connection's share of the load until ``deadline``; a broken connection counts as
    one error and is opened again."""
    loop = asyncio.get_running_loop()
    while time.perf_counter() < deadline:
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(requests, deadline, result, record), host, port
            )
        except OSError as exc:
            result.error(f"connection: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.05)
            continue
        await connection.closed


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
