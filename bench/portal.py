"""Portal: 100 customers with orders, invoices, payments and credit in one query.

The measurement is `bench.read_path.measure` (also runnable alone as ``python -m
bench.read_path``), on an Accord whose read cache is off, since the figures are of the
upstream plan:

- upstream requests over the minimal plan, one call per source and level (target 1.0);
- added latency over the critical path (target at most 1.15): with 50 ms injected on every
  upstream call, what that latency added to the query's median, over the critical path of
  the plan (two levels: 100 ms). 1.0 when every level's calls run concurrently; 1.5 when
  the three calls run one after another. Measured in three runs, each its queries without
  and then with the latency; the median run is the figure, printed with the lowest and
  highest. Less than 1.0 is impossible (the latency injected on the plan's two levels is
  there in every answer): such a run is flagged as noise and repeated;
- latency over the critical path plus Accord's own time: the median with injected latency
  over (the median without it + the critical path), the same question asked of the whole
  answer time. Reported without a target.
"""

from __future__ import annotations

from bench import read_path
from bench.suite import UNCACHED_ENV, Bench, Outcome, at_most, figure

LATENCY_MS = 50.0
REQUESTS_TARGET = 1.0
LATENCY_TARGET = 1.15


def run(bench: Bench) -> Outcome:
    box = bench.sandbox()
    runs = int(bench.pick(15, 3))
    result = read_path.measure(box.endpoints_file, box.control, LATENCY_MS, runs, UNCACHED_ENV)
    requests = float(result["requests_ratio"])
    added = float(result["added_latency_ratio"])
    whole = result["latency_p50_ms"] / (result["baseline_p50_ms"] + result["critical_path_ms"])
    made = sum(result["upstream_requests"].values())
    minimal = sum(result["minimal_plan"].values())
    return Outcome(
        scenario="portal",
        line=(
            f"portal     upstream requests / minimal plan = {requests:.2f} ({made} / {minimal}, "
            f"target {REQUESTS_TARGET:g}); added latency / critical path = "
            f"{result['added_latency_text']} (p50 "
            f"{result['latency_p50_ms']} - {result['baseline_p50_ms']} ms / "
            f"{result['critical_path_ms']:.0f} ms, target <= {LATENCY_TARGET}); "
            f"p50 / (own time + critical path) = {whole:.2f}"
        ),
        figures={
            "requests_ratio": figure(
                requests,
                "ratio",
                "one call per source and level",
                at_most(requests, REQUESTS_TARGET),
            ),
            "added_latency_ratio": figure(
                added,
                "ratio",
                f"critical path of {LATENCY_MS:g} ms injected per call (2 levels)",
                at_most(added, LATENCY_TARGET),
            ),
            "latency_ratio": figure(
                whole,
                "ratio",
                "median without injected latency + critical path",
            ),
        },
        details=result,
    )
