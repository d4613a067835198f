"""OpenTelemetry traces: off unless configured, and then a span per request, per GraphQL
operation, per DataLoader batch and per upstream call, exported with OTLP. The upstream
call's span has the HTTP requests to the upstream systems (OpenTelemetry's httpx
instrumentation) and Redis commands (its redis instrumentation) beneath it; both are
installed only while tracing is on. The request span is Accord's
own ASGI middleware (`api.telemetry`), which also gives log lines their ids, so the starlette
instrumentation is not used.

Off (the default) nothing here creates a span: `span` yields None after one check of a
module flag, and `outgoing_headers` still continues the caller's trace to the upstream
systems with a ``traceparent`` built from `telemetry.context` (so their logs correlate
with Accord's even without a collector). On, the SDK's tracer provider is Accord's own
(not the process-global one), so configuring it twice, as tests do, is harmless. The SDK
is imported when tracing is configured, not before: a process that does not trace does not
hold it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from telemetry.context import CURRENT, traceparent_of

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "SpanKind",
    "configure",
    "enabled",
    "error",
    "outgoing_headers",
    "server_span",
    "shutdown",
    "span",
    "trace_id_of",
]

_PROPAGATOR = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None


def enabled() -> bool:
    return _tracer is not None


def configure(
    exporter: SpanExporter | None = None,
    *,
    endpoint: str | None = None,
    service_name: str = "accord",
    batch: bool = True,
) -> TracerProvider:
    """Start recording spans into ``exporter`` (by default OTLP over HTTP to ``endpoint``, or
    where the standard ``OTEL_EXPORTER_OTLP_*`` variables say)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    global _provider, _tracer
    shutdown()
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=_traces_url(endpoint) if endpoint else None)
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    _provider, _tracer = provider, provider.get_tracer("accord")
    for instrumentor in _instrumentors():
        instrumentor.instrument(tracer_provider=provider)
    return provider


def _instrumentors() -> list[Any]:
    """OpenTelemetry's instrumentations of httpx (NetSuite, OIDC keys) and redis (state,
    cache, bus); each patches its library process-wide until uninstrumented."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    return [HTTPXClientInstrumentor(), RedisInstrumentor()]


def _traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base endpoint (as the standard variable
    OTEL_EXPORTER_OTLP_ENDPOINT names it)."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def shutdown() -> None:
    """Flush and stop: spans recorded so far are exported."""
    global _provider, _tracer
    if _provider is not None:
        for instrumentor in _instrumentors():
            instrumentor.uninstrument()
        _provider.shutdown()
    _provider = _tracer = None


@contextmanager
def span(
    name: str, attributes: Mapping[str, Any] | None = None, *, kind: SpanKind = SpanKind.INTERNAL
) -> Iterator[Span | None]:
    """A child span of the current one, or None when tracing is off."""
    tracer = _tracer
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(name, attributes=attributes, kind=kind) as current:
        yield current


@contextmanager
def server_span(name: str, headers: Mapping[str, str]) -> Iterator[Span | None]:
    """The span of one request, continuing the caller's ``traceparent`` when it sent one."""
    tracer = _tracer
    if tracer is None:
        yield None
        return
    parent = _PROPAGATOR.extract(dict(headers))
    token = otel_context.attach(parent)
    try:
        with tracer.start_as_current_span(name, kind=SpanKind.SERVER) as current:
            yield current
    finally:
        otel_context.detach(token)


def error(current: Span | None, description: str) -> None:
    """Mark ``current`` (if recording) as failed, with a short reason (a code, never data)."""
    if current is not None:
        current.set_status(Status(StatusCode.ERROR, description))


def trace_id_of(current: Span | None) -> str | None:
    if current is None:
        return None
    context = current.get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def outgoing_headers() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) for a request to an upstream system: the current
    span's when tracing is on, else the current request's trace with a new span id; empty
    outside any request."""
    if _tracer is not None:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        if carrier:
            return carrier
    request = CURRENT.get()
    if request is None:
        return {}
    return {"traceparent": traceparent_of(request)}
