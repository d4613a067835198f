"""Settings of metrics, traces and logs: defaults, the standard OTLP variables, mistakes."""

from __future__ import annotations

import pytest

from config.settings import SettingsError, load_settings
from telemetry.options import TelemetryOptions


def test_nothing_set_means_human_logs_no_traces_and_metrics_for_ops_only() -> None:
    assert load_settings({}).telemetry == TelemetryOptions()


def test_each_setting_is_read() -> None:
    telemetry = load_settings(
        {
            "ACCORD_METRICS_TOKEN": "scrape-token-0123456789",
            "ACCORD_LOG_FORMAT": "JSON",
            "ACCORD_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_SERVICE_NAME": "accord-eu",
        }
    ).telemetry
    assert telemetry == TelemetryOptions(
        metrics_token="scrape-token-0123456789",
        log_format="json",
        otlp_endpoint="http://collector:4318",
        service_name="accord-eu",
    )


@pytest.mark.parametrize(
    ("env", "endpoint"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, "http://otel:4318"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/v1/traces",
            },
            "http://traces:4318/v1/traces",
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
                "ACCORD_OTLP_ENDPOINT": "http://a:1",
            },
            "http://a:1",
        ),
    ],
)
def test_the_standard_otlp_variables_are_read_when_accords_is_unset(
    env: dict[str, str], endpoint: str
) -> None:
    assert load_settings(env).telemetry.otlp_endpoint == endpoint


def test_mistakes_are_reported_by_variable_name() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(
            {
                "ACCORD_METRICS_TOKEN": "short",
                "ACCORD_LOG_FORMAT": "xml",
                "ACCORD_OTLP_ENDPOINT": "collector:4318",
            }
        )
    text = str(refused.value)
    assert "ACCORD_METRICS_TOKEN: use 16 characters or more" in text
    assert "ACCORD_LOG_FORMAT='xml': use human or json" in text
    assert "ACCORD_OTLP_ENDPOINT='collector:4318' is not an http(s) URL" in text
