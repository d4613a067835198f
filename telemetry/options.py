"""How Accord reports on itself, as the settings say (`config.telemetry` reads them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["LogFormat", "TelemetryOptions"]

LogFormat = Literal["human", "json"]


@dataclass(frozen=True)
class TelemetryOptions:
    metrics_token: str | None = None  # opens /metrics to a scraper (besides the ops role)
    log_format: LogFormat = "human"
    otlp_endpoint: str | None = None  # None: no traces are recorded
    service_name: str = "accord"
