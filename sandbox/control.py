"""The control API every emulator carries under ``/__sandbox__/``.

- ``GET  /__sandbox__/stats``  -> ``{"total": N, "by_endpoint": {"GET /path/{id}": n, ...}}``
- ``POST /__sandbox__/reset``  -> clears the stats, the faults, the traces and the timeline
  (the data stays)
- ``GET  /__sandbox__/requests`` -> ``{"requests": [{"endpoint", "started", "finished"}]}``:
  the last 500 requests, in the order they arrived, each with the system's monotonic clock
  (seconds) when it arrived and when its answer was sent, so a test can tell which requests
  waited for another's answer and which ran beside it
- ``GET  /__sandbox__/traces`` -> ``{"traceparents": [...]}``: the W3C ``traceparent`` headers
  of the last 500 requests that carried one, oldest first (to check that a caller's trace
  reaches the vendor)
- ``GET  /__sandbox__/faults`` -> the active faults
- ``POST /__sandbox__/faults`` -> adds a fault ``{"pattern", "latency_ms", "error_rate",
  "error_status", "outage", "garbage", "late_answer", "body_contains"}``, or removes them all
  with ``{"clear": true}``; with ``late_answer`` the request is carried out at once and only
  its answer waits ``latency_ms``, so a client that gives up first still has its write
  applied; with ``body_contains`` the fault hits only the requests whose body holds that text
  (one query among the others sent to the same path)

Faults and stats live in an ASGI middleware in front of the emulator, so an injected failure
looks to a client exactly like one from the vendor: the request is counted, delayed, and
answered with the vendor's error body. Requests to the control API itself are never counted
or faulted.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import random
import time
from collections import Counter, deque
from collections.abc import Callable, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

CONTROL_PREFIX = "/__sandbox__/"

PathNormalizer = Callable[[str], str]
"""Turns a request path into its stats key path, record ids replaced by ``{id}``."""

ErrorBody = Callable[[int, str], Response]
"""Builds the vendor-shaped error response for an injected failure: (status, message)."""


@dataclass(frozen=True)
class Fault:
    """One injected fault; ``pattern`` is a glob matched against the request path."""

    pattern: str = "*"
    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    outage: bool = False
    garbage: bool = False
    late_answer: bool = False  # carry the request out, then hold its answer for latency_ms
    body_contains: str = ""  # only requests whose body holds this text (e.g. one query)

    @classmethod
    def from_json(cls, body: Any) -> Fault:
        if not isinstance(body, dict):
            raise ValueError("a fault is a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        fault = cls(**body)
        if not isinstance(fault.pattern, str) or not fault.pattern:
            raise ValueError("pattern must be a non-empty glob")
        if not 0.0 <= float(fault.error_rate) <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if float(fault.latency_ms) < 0:
            raise ValueError("latency_ms must not be negative")
        if not 400 <= int(fault.error_status) <= 599:
            raise ValueError("error_status must be an HTTP error status")
        if not isinstance(fault.body_contains, str):
            raise ValueError("body_contains must be a string")
        return fault

    def matches(self, path: str) -> bool:
        return fnmatch.fnmatchcase(path, self.pattern)


class ControlState:
    """Stats and faults of one emulator."""

    def __init__(self, normalize: PathNormalizer, *, rng: random.Random | None = None) -> None:
        self.normalize = normalize
        self.counts: Counter[str] = Counter()
        self.faults: list[Fault] = []
        self.traceparents: deque[str] = deque(maxlen=500)
        self.timeline: deque[dict[str, Any]] = deque(maxlen=500)
        self.rng = rng or random.Random(0)
        # more of an emulator's own figures in the stats (name -> what to show), each with
        # a way to start it afresh on reset
        self.extra: dict[str, tuple[Callable[[], Any], Callable[[], None]]] = {}

    def record(self, method: str, path: str) -> None:
        self.counts[f"{method} {self.normalize(path)}"] += 1

    def stats(self) -> dict[str, Any]:
        found = {"total": sum(self.counts.values()), "by_endpoint": dict(self.counts)}
        return {**found, **{name: show() for name, (show, _) in self.extra.items()}}

    def reset(self) -> None:
        self.counts.clear()
        self.faults.clear()
        self.traceparents.clear()
        self.timeline.clear()
        for _, restart in self.extra.values():
            restart()

    def active(self, path: str) -> list[Fault]:
        return [fault for fault in self.faults if fault.matches(path)]


class ControlMiddleware:
    """Counts, delays and fails requests as the active faults say; serves the control API."""

    def __init__(self, app: ASGIApp, state: ControlState, error_body: ErrorBody) -> None:
        self.app = app
        self.state = state
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(CONTROL_PREFIX):
            response = await self._control(Request(scope, receive))
            await response(scope, receive, send)
            return
        self.state.record(scope["method"], path)
        entry = {
            "endpoint": f"{scope['method']} {self.state.normalize(path)}",
            "started": time.monotonic(),
            "finished": None,
        }
        self.state.timeline.append(entry)
        try:
            await self._serve(scope, receive, send, path)
        finally:
            entry["finished"] = time.monotonic()

    async def _serve(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        for name, value in scope["headers"]:
            if name == b"traceparent":
                self.state.traceparents.append(value.decode("latin-1"))
        faults = self.state.active(path)
        if any(fault.body_contains for fault in faults):
            body, receive = await _buffered(receive)
            faults = [f for f in faults if f.body_contains.encode() in body or not f.body_contains]
        late = sum(fault.latency_ms for fault in faults if fault.late_answer)
        latency = sum(fault.latency_ms for fault in faults if not fault.late_answer)
        if latency:
            await asyncio.sleep(latency / 1000.0)
        if late:
            send = _held(send, late / 1000.0)
        for fault in faults:
            if fault.outage:
                await self.error_body(503, "Service unavailable (sandbox outage)")(
                    scope, receive, send
                )
                return
            if fault.error_rate and self.state.rng.random() < fault.error_rate:
                message = f"Injected failure (sandbox fault {fault.pattern})"
                await self.error_body(fault.error_status, message)(scope, receive, send)
                return
            if fault.garbage:
                garbage = Response(b"<html>\x00not what you asked for", 200, media_type="text/html")
                await garbage(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _control(self, request: Request) -> Response:
        action = request.url.path[len(CONTROL_PREFIX) :].strip("/")
        if action == "stats" and request.method == "GET":
            return JSONResponse(self.state.stats())
        if action == "traces" and request.method == "GET":
            return JSONResponse({"traceparents": list(self.state.traceparents)})
        if action == "requests" and request.method == "GET":
            return JSONResponse({"requests": list(self.state.timeline)})
        if action == "reset" and request.method == "POST":
            self.state.reset()
            return JSONResponse({"reset": True})
        if action == "faults" and request.method == "GET":
            return JSONResponse({"faults": [asdict(fault) for fault in self.state.faults]})
        if action == "faults" and request.method == "POST":
            try:
                body = json.loads(await request.body() or b"null")
                if isinstance(body, dict) and body.get("clear") is True and len(body) == 1:
                    self.state.faults.clear()
                else:
                    self.state.faults.append(Fault.from_json(body))
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse({"faults": [asdict(fault) for fault in self.state.faults]})
        return JSONResponse({"error": f"no control action {request.method} {action}"}, 404)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that hands it to the app as if unread."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> MutableMapping[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _held(send: Send, seconds: float) -> Send:
    """``send`` whose first message waits ``seconds``: the work is done, the answer is late."""
    waiting = True

    async def held(message: MutableMapping[str, Any]) -> None:
        nonlocal waiting
        if waiting:
            waiting = False
            await asyncio.sleep(seconds)
        await send(message)

    return held
