"""What the ways in report: a metric and a span per GraphQL operation, the request context
(request id, trace id) every log line carries, one access-log line per HTTP request and per
WebSocket, and the ``/metrics`` endpoint.

- `ObservedPipeline` is the request pipeline of every transport (HTTP, WebSocket, server-sent
  events) with ``accord_graphql_requests_total`` and ``..._duration_seconds`` recorded and,
  when tracing is on, a span per operation. The operation label is bounded
  (`telemetry.metrics.OPERATION_NAMES`): registered operations' names, then the first names
  seen in valid documents, then "other"; "anonymous" for an unnamed operation and "invalid"
  for a document that names none Accord could choose.
- `RequestTelemetry` (ASGI middleware) gives each HTTP request and WebSocket a request id
  (the caller's ``X-Request-Id`` when it is a short token, else a new one, echoed back) and a
  trace id (the caller's W3C ``traceparent``'s, else a new one), opens the request's span
  when tracing is on, and writes the access-log line on ``accord.access``.
- `MetricsEndpoint` answers ``/metrics`` to the ops role, or to a scraper presenting the
  metrics token (``ACCORD_METRICS_TOKEN``), which opens /metrics and nothing else.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from graphql import OperationDefinitionNode, parse
from opentelemetry.trace import Span
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import AuthenticationFailed, Authenticator
from api.callers import CallerSlots
from api.pipeline import ContextFor, Outcome, Pipeline, Transport
from api.responses import refusal
from domain.caller import Caller
from domain.ownership import Role
from telemetry import metrics, tracing
from telemetry.context import (
    CURRENT,
    RequestContext,
    new_span_id,
    new_trace_id,
    parse_traceparent,
)
from telemetry.metrics import Sample

__all__ = [
    "MetricsEndpoint",
    "ObservedPipeline",
    "RequestTelemetry",
    "caller_samples",
    "registered_names",
]

access_log = logging.getLogger("accord.access")
logger = logging.getLogger("accord.metrics")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class ObservedPipeline(Pipeline):
    """`Pipeline` with a metric (and, tracing on, a span) per operation."""

    async def run(
        self,
        caller: Caller,
        params: Mapping[str, Any],
        transport: Transport,
        context_for: ContextFor,
        *,
        client: str | None = None,
    ) -> Outcome:
        if not tracing.enabled():  # the common case: no span, not even a no-op one
            return await self._observed(None, caller, params, transport, context_for, client)
        with tracing.span("graphql.operation", {"graphql.transport": transport.value}) as span:
            return await self._observed(span, caller, params, transport, context_for, client)

    async def _observed(
        self,
        span: Span | None,
        caller: Caller,
        params: Mapping[str, Any],
        transport: Transport,
        context_for: ContextFor,
        client: str | None,
    ) -> Outcome:
        started = time.perf_counter()
        request = CURRENT.get()
        if request is not None:
            request.caller = caller.name
        try:
            outcome = await super().run(caller, params, transport, context_for, client=client)
        except Exception as exc:
            # Refused before it ran (budget, persisted-query protocol, transport, state).
            _record(request, "invalid", "unknown", "rejected", started)
            tracing.error(span, type(exc).__name__)
            raise
        kind = outcome.operation.value if outcome.operation is not None else "unknown"
        if outcome.operation is None:
            label = "invalid"
        elif outcome.name is None:
            label = "anonymous"
        else:
            label = metrics.OPERATION_NAMES.admit(outcome.name)
        result = outcome.result
        if outcome.pre_execution:
            status = "refused"
        elif result is not None and result.errors:
            status = "errors"
        else:
            status = "ok"
        _record(request, label, kind, status, started)
        if span is not None:
            span.update_name(f"graphql {kind} {label}")
            span.set_attribute("graphql.operation.type", kind)
            span.set_attribute("graphql.operation.name", label)
            span.set_attribute("accord.outcome", status)
            if status != "ok":
                tracing.error(span, status)
        return outcome


def _record(
    request: RequestContext | None, label: str, kind: str, status: str, started: float
) -> None:
    elapsed = time.perf_counter() - started
    metrics.child(metrics.GRAPHQL_REQUESTS, label, kind, status).inc()
    metrics.child(metrics.GRAPHQL_DURATION, label, kind).observe(elapsed)
    if request is not None:
        request.operation = label


def registered_names(documents: Iterable[str]) -> set[str]:
    """The operation names of registered documents (always admitted as metric labels)."""
    names: set[str] = set()
    for text in documents:
        try:
            document = parse(text)
        except Exception:  # a registered document that does not parse is refused elsewhere
            continue
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                names.add(definition.name.value)
    return names


# ---------------------------------------------------------------------- the request context


class RequestTelemetry:
    """ASGI middleware: request id, trace id, the request's span and the access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = traceparent = tracestate = ""
        for key, value in scope["headers"]:  # the headers read here, without a dict of all
            if key == b"x-request-id":
                given = value.decode("latin-1")
            elif key == b"traceparent":
                traceparent = value.decode("latin-1")
            elif key == b"tracestate":
                tracestate = value.decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else new_span_id()
        parent = parse_traceparent(traceparent)
        trace_id, parent_span, sampled = parent or (new_trace_id(), None, True)
        path = scope.get("path", "")
        method = scope.get("method", "WS")
        carrier = {"traceparent": traceparent, "tracestate": tracestate} if traceparent else {}
        with tracing.server_span(method, carrier) as span:
            if span is not None:  # the span continues the caller's trace or starts one
                trace_id = tracing.trace_id_of(span) or trace_id
            request = RequestContext(request_id, trace_id, sampled, parent_span)
            request.traced = span is not None or parent is not None
            token = CURRENT.set(request)
            status = 0
            started = time.perf_counter()

            async def send_with_id(message: Message) -> None:
                nonlocal status
                kind = message["type"]
                if kind == "http.response.start":
                    status = message["status"]
                    message.setdefault("headers", [])
                    message["headers"] = [
                        *message["headers"],
                        (b"x-request-id", request_id.encode()),
                    ]
                elif kind == "websocket.accept":
                    status = 101
                elif kind == "websocket.close" and status == 0:
                    status = 403  # refused before it was accepted
                await send(message)

            try:
                await self.app(scope, receive, send_with_id)
            finally:
                if span is not None:
                    route = _route(scope)
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        tracing.error(span, str(status))
                _access(request, scope, path, status, time.perf_counter() - started)
                CURRENT.reset(token)


def _route(scope: Scope) -> str:
    """The route that served the request (its path as declared), or "unmatched": a span's
    name must not grow with the paths callers make up."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _access(request: RequestContext, scope: Scope, path: str, status: int, elapsed: float) -> None:
    """The request's access-log line; a WebSocket's (method ``WS``) when it closes, with its
    last operation and the upstream calls of all of them."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    method = scope.get("method", "WS")
    access_log.info(
        "%s %s %s %.1f ms op=%s caller=%s upstream=%d",
        method,
        path,
        status,
        elapsed * 1000,
        request.operation or "-",
        request.caller or "-",
        request.upstream_calls,
        extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "operation": request.operation,
            "caller": request.caller,
            "upstream_calls": request.upstream_calls,
        },
    )


# ---------------------------------------------------------------------- /metrics


class MetricsEndpoint:
    """``/metrics``: for the ops role, or a scraper with the metrics token."""

    def __init__(
        self,
        authenticator: Authenticator,
        token: str | None = None,
        *,
        readings: Sequence[Callable[[], Awaitable[None]]] = (),
        reading_timeout: float = 1.0,
    ) -> None:
        """``readings`` update gauges whose values live in the shared state, before each
        scrape; one that fails or takes over ``reading_timeout`` seconds leaves its gauge
        as it was (a scrape never waits on an outage)."""
        self.authenticator = authenticator
        self._token = token.encode() if token else None
        self.readings = readings
        self.reading_timeout = reading_timeout

    async def handle(self, request: Request) -> Response:
        authorization = request.headers.get("authorization")
        if not self._scrape_token(authorization):
            try:
                caller = await self.authenticator.caller(authorization)
            except AuthenticationFailed as exc:
                return _unauthorized(str(exc))
            if caller.anonymous:
                return _unauthorized("send Authorization: Bearer <ops key or metrics token>")
            if caller.role is not Role.OPS:
                body = refusal("metrics are for the ops role", "FORBIDDEN")
                return JSONResponse(body, 403)
        if self.readings:
            await asyncio.gather(*(self._read(reading) for reading in self.readings))
        return Response(
            metrics.exposition(),
            headers={"Content-Type": metrics.CONTENT_TYPE, "Cache-Control": "no-store"},
        )

    async def _read(self, reading: Callable[[], Awaitable[None]]) -> None:
        try:
            await asyncio.wait_for(reading(), self.reading_timeout)
        except Exception as exc:  # an outage of the shared state: the gauge keeps its value
            logger.info("a metric could not be read for /metrics: %s", type(exc).__name__)

    def _scrape_token(self, authorization: str | None) -> bool:
        if self._token is None or authorization is None:
            return False
        scheme, _, credentials = authorization.strip().partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self._token
        )


def _unauthorized(message: str) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="accord"'}
    return JSONResponse(refusal(message, "UNAUTHENTICATED"), 401, headers=headers)


def caller_samples(slots: CallerSlots) -> Iterable[Sample]:
    """Open WebSocket connections and subscriptions (WebSocket and server-sent events)."""
    connections, subscriptions = slots.totals()
    yield Sample(
        "accord_websocket_connections",
        "gauge",
        "Open graphql-transport-ws connections (after connection_init).",
        {},
        float(connections),
    )
    yield Sample(
        "accord_subscriptions",
        "gauge",
        "Open subscriptions, over WebSocket and server-sent events.",
        {},
        float(subscriptions),
    )
