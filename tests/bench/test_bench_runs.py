"""The benchmark suite runs end to end: ``python -m bench --quick`` as an operator would run it.

This checks that every scenario starts its processes, measures, prints its line and writes
its JSON with sane values and no errors; it does not check the performance targets (those
are figures on a particular machine, in docs/performance.md, not pass/fail conditions).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.harness import ROOT

pytestmark = pytest.mark.bench

SCENARIOS = (
    "lightning",
    "persisted",
    "workers",
    "lists",
    "portal",
    "cold",
    "freshness",
    "events",
    "memory",
    "connections",
    "healing",
    "soak",
)
KEYS = {
    "scenario",
    "available",
    "failed",
    "reason",
    "errors",
    "figures",
    "line",
    "quick",
    "measured_at",
    "machine",
    "details",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    results = tmp_path_factory.mktemp("bench-results")
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--results", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return completed, results


def result(run: tuple[subprocess.CompletedProcess[str], Path], name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run[1] / f"{name}.json").read_text())
    return data


def test_the_suite_exits_cleanly_with_one_line_per_scenario(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    completed, _ = run

    lines = completed.stdout.splitlines()

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert lines[0].startswith(f"bench: {', '.join(SCENARIOS)} (quick)")
    assert [line.split()[0] for line in lines[1:]] == list(SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_scenario_writes_its_figures_without_errors(
    run: tuple[subprocess.CompletedProcess[str], Path], name: str
) -> None:
    data = result(run, name)

    assert set(data) == KEYS
    assert data["scenario"] == name
    assert data["quick"] is True
    assert data["failed"] is False, data["reason"]
    assert data["errors"] == 0
    assert data["machine"]["cpus"] >= 1
    assert data["available"] is True, data["reason"]
    assert data["figures"]
    for figure in data["figures"].values():
        assert set(figure) == {"value", "unit", "baseline", "target", "met"}
        assert math.isfinite(figure["value"])
        if figure["unit"] == "ratio":
            assert figure["value"] > 0
        if figure["target"] is not None:
            assert isinstance(figure["met"], bool)


def test_the_lightning_scenario_measures_a_warm_cache(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    details = result(run, "lightning")["details"]

    assert details["warm_cache"] is True
    assert details["accord"]["requests"] > 0
    assert details["baseline"]["requests"] > 0


def test_the_persisted_scenario_serves_kept_answers_by_hash(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    data = result(run, "persisted")
    details = data["details"]

    assert details["persisted"] is True
    assert details["warm_cache"] is True
    assert details["accord"]["requests"] > 0
    assert len(details["p99_ratio"]["runs"]) >= 3
    assert data["figures"]["p99_ratio"]["target"] == "<= 1"


def test_the_lists_scenario_compares_the_same_shape_per_customer(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    details = result(run, "lists")["details"]

    assert details["customers"] > 250
    assert len(details["latency_ratio"]["runs"]) >= 3
    assert details["accord_ms_per_customer"] > 0
    assert details["baseline_ms_per_customer"] > 0


def test_the_workers_scenario_measures_rounds_of_both_servers(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    data = result(run, "workers")
    details = data["details"]

    assert details["one_worker"]["requests"] > 0
    assert details["two_workers"]["requests"] > 0
    assert len(details["rps_ratio"]["runs"]) >= 3
    assert (
        details["rps_ratio"]["low"]
        <= details["rps_ratio"]["median"]
        <= details["rps_ratio"]["high"]
    )
    assert data["figures"]["rps_ratio"]["value"] == details["rps_ratio"]["median"]
    # the kernel gave both workers connections: each worked under the load
    spread = details["worker_cpu_seconds"]["two"]
    assert len(spread) == 2
    assert min(spread) > 0.2 * max(spread)
    assert "over 3 runs" in data["line"]


def test_the_portal_scenario_counts_the_upstream_plan(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    data = result(run, "portal")

    made = sum(data["details"]["upstream_requests"].values())

    assert made >= sum(data["details"]["minimal_plan"].values())
    assert data["figures"]["requests_ratio"]["value"] >= 1.0


def test_the_cold_scenario_reads_upstream_on_every_query(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    details = result(run, "cold")["details"]

    assert details["accord_upstream_requests_per_query"] == 2
    assert details["accord_p50_ms"] > details["injected_latency_ms"] * 2


def test_the_memory_scenario_reads_peak_rss_of_both_servers(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    details = result(run, "memory")["details"]

    assert details["accounts"] > 9_000
    assert details["accord_peak_rss_kib"] >= details["accord_rss_at_rest_kib"] > 0
    assert details["baseline_peak_rss_kib"] > 0


def test_the_connections_scenario_holds_ten_thousand_subscriptions(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    details = result(run, "connections")["details"]
    rss = details["accord_rss_kib"]

    assert details["connections"] * details["subscriptions_per_connection"] == 10_000
    assert rss["subscribed"] > rss["connected"] > 0
    assert len(rss["after_cycles"]) == details["cycles"]
    assert details["baseline_rss_at_rest_kib"] > 0


def test_the_healing_scenario_books_through_an_outage(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    details = result(run, "healing")["details"]

    assert details["read_failures"] > 0  # the outage was felt
    assert details["bookings_during_outage"] > 0
    assert sum(details["statuses_of_those"].values()) == details["bookings_during_outage"]


def test_the_soak_scenario_samples_both_replicas_under_mixed_load(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    details = result(run, "soak")["details"]

    assert len(details["samples"]) == 2
    assert all(len(samples) >= 10 for samples in details["samples"].values())
    assert details["requests"] > 0
    assert details["deliveries"] > 0
