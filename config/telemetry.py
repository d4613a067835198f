"""Settings of metrics, traces and logs (docs/operations.md).

ACCORD_METRICS_TOKEN                 a bearer token that opens /metrics (and nothing else)
                                     to a scraper, 16 characters or more; the ops role
                                     may always read it
ACCORD_LOG_FORMAT                    human (default) | json: one JSON object per line
ACCORD_OTLP_ENDPOINT                 an OTLP/HTTP collector (http://collector:4318):
                                     traces are recorded and exported there; unset, the
                                     standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
                                     OTEL_EXPORTER_OTLP_ENDPOINT; none set: no traces
OTEL_SERVICE_NAME                    the service name traces carry, default accord
"""

from __future__ import annotations

from typing import Protocol

from telemetry.options import TelemetryOptions


class _Reader(Protocol):
    problems: list[str]

    def text(self, name: str) -> str | None: ...

    def url(self, name: str) -> str | None: ...


def read_telemetry(read: _Reader) -> TelemetryOptions:
    token = read.text("ACCORD_METRICS_TOKEN")
    if token is not None and len(token) < 16:
        read.problems.append("ACCORD_METRICS_TOKEN: use 16 characters or more")
        token = None
    log_format = (read.text("ACCORD_LOG_FORMAT") or "human").lower()
    if log_format not in ("human", "json"):
        read.problems.append(f"ACCORD_LOG_FORMAT={log_format!r}: use human or json")
        log_format = "human"
    endpoint = (
        read.url("ACCORD_OTLP_ENDPOINT")
        or read.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or read.url("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    return TelemetryOptions(
        metrics_token=token,
        log_format="json" if log_format == "json" else "human",
        otlp_endpoint=endpoint,
        service_name=read.text("OTEL_SERVICE_NAME") or "accord",
    )
