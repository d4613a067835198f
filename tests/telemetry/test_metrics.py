"""The metrics module on its own: bounded label values, and several processes adding up
through prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from telemetry.labels import BoundedValues

ROOT = Path(__file__).resolve().parent.parent.parent

WORKER = """
from telemetry import metrics
metrics.child(metrics.GRAPHQL_REQUESTS, "CreditPanel", "query", "ok").inc({n})
metrics.child(metrics.UPSTREAM_DURATION, "netsuite", "suiteql").observe(0.02)
"""
SCRAPE = """
import sys
from telemetry import metrics
sys.stdout.write(metrics.exposition().decode())
"""


def python(code: str, directory: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_several_processes_add_up(tmp_path: Path) -> None:
    # given two worker processes that counted, each on its own
    python(WORKER.format(n=2), tmp_path)
    python(WORKER.format(n=3), tmp_path)

    # when a third answers /metrics
    text = python(SCRAPE, tmp_path)

    # then it shows what both counted
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    ok = (("operation", "CreditPanel"), ("outcome", "ok"), ("type", "query"))
    assert samples[("accord_graphql_requests_total", ok)] == 5
    timed = (("endpoint", "suiteql"), ("system", "netsuite"))
    assert samples[("accord_upstream_request_duration_seconds_count", timed)] == 2


def test_bounded_values_read_other_past_the_limit_and_keep_what_they_admitted() -> None:
    names = BoundedValues(2, known=["Registered"])
    assert names.admit("A") == "A"
    assert names.admit("B") == "B"
    assert names.admit("C") == "other"
    assert names.admit("A") == "A"  # still admitted
    assert names.admit("Registered") == "Registered"  # outside the limit
    names.know(["Later"])
    assert names.admit("Later") == "Later"
