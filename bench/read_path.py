"""Read path benchmark: the portal's nested query for 100 customers.

Prints two ratios measured in one run:

- upstream requests / minimal plan: the requests the emulators counted for the query, over
  one call per source per entity level (1.0 is the target: no N+1);
- latency / critical path: with latency L injected on every upstream call, the query's
  median latency over the critical path of the plan (the ERP's customer page, then the
  accounts and the customers' orders, invoices and payments concurrently: 2 L);
- added latency / critical path: the same, counting only what the injected latency added to
  the median measured without it (so Accord's and the emulators' own work cancel out). It
  isolates the shape of the fan-out: 1.0 when the calls of a level run concurrently, the
  ratio of the sum of the calls (1.5) when they run one after another.

    python -m bench.read_path [--latency-ms 50] [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from bench.harness import AccordProcess, Control, cpu_seconds, write_result
from bench.queries import HEADERS, PORTAL_QUERY
from bench.suite import UNCACHED_ENV, Spread, repeated
from sandbox.endpoints import Endpoints
from sandbox.process import SandboxProcess

# One call per source and level: the ERP customer page; then the CRM accounts, and the ERP's
# orders, invoices and payments of those customers in one SuiteQL query.
MINIMAL_PLAN = {"salesforce": 1, "netsuite": 2}
CRITICAL_PATH_CALLS = 2  # customer page, then one concurrent wave


def run(latency_ms: float, runs: int) -> dict[str, Any]:
    """Start a 300-customer sandbox and Accord (its read cache off: the figures are of the
    upstream plan), and `measure`."""
    sandbox = SandboxProcess(customers=300)
    with sandbox as endpoints:
        return measure(sandbox.endpoints_file, Control(endpoints), latency_ms, runs, UNCACHED_ENV)


def measure(
    endpoints_file: Path,
    control: Control,
    latency_ms: float,
    runs: int,
    env: dict[str, str] | None = None,
    blocks: int = 3,
) -> dict[str, Any]:
    """The figures of the portal query, on a fresh Accord (started with ``env`` added to its
    environment) attached to a running sandbox: ``blocks`` runs of ``runs`` queries without
    and then with injected latency, the added-latency ratio of each run, their median."""
    with (
        AccordProcess(endpoints_file, env) as accord,
        httpx.Client(base_url=accord.url, timeout=60) as client,
    ):

        def query() -> float:
            started = time.perf_counter()
            response = client.post("/graphql", json={"query": PORTAL_QUERY}, headers=HEADERS)
            elapsed = time.perf_counter() - started
            body = response.json()
            if response.status_code != 200 or body.get("errors"):
                raise RuntimeError(f"query failed: {response.text[:500]}")
            return elapsed

        query()  # warm: tokens, connections, reference data
        control.reset()
        query()
        stats = control.stats()
        requests = {name: s["total"] for name, s in stats.items()}
        sandbox_pid = Endpoints.read(endpoints_file).sandbox.pid
        critical = CRITICAL_PATH_CALLS * latency_ms
        baseline: list[float] = []
        timings: list[float] = []
        cpu = [0.0, 0.0]

        def block() -> tuple[float, list[float], list[float]]:
            """One run: ``runs`` queries without injected latency, then ``runs`` with it;
            the latency added over the critical path, and both runs' timings."""
            before = cpu_seconds(accord.pid), cpu_seconds(sandbox_pid)
            plain = [query() for _ in range(runs)]
            cpu[0] += cpu_seconds(accord.pid) - before[0]
            cpu[1] += cpu_seconds(sandbox_pid) - before[1]
            control.fault(pattern="/services/*", latency_ms=latency_ms)
            try:
                query()
                slowed = [query() for _ in range(runs)]
            finally:
                control.reset()
            added = (statistics.median(slowed) - statistics.median(plain)) * 1000 / critical
            return added, plain, slowed

        # Injected latency cannot add less than the critical path: such a run is noise.
        kept, noise = repeated(block, runs=blocks, plausible=lambda run: run[0] >= 1.0)
        for _, plain, slowed in kept:
            baseline.extend(plain)
            timings.extend(slowed)

    total_requests = sum(requests.values())
    minimal = sum(MINIMAL_PLAN.values())
    p50 = statistics.median(timings) * 1000
    base = statistics.median(baseline) * 1000
    sequential = minimal * latency_ms
    added = Spread.of(
        [run[0] for run in kept],
        [run[0] for run in noise],
        suspect=any(run[0] < 1.0 for run in kept),
    )
    return {
        "upstream_requests": requests,
        "minimal_plan": MINIMAL_PLAN,
        "requests_ratio": round(total_requests / minimal, 3),
        "injected_latency_ms": latency_ms,
        "latency_p50_ms": round(p50, 1),
        "latency_min_ms": round(min(timings) * 1000, 1),
        "critical_path_ms": critical,
        "latency_ratio": round(p50 / critical, 3),
        "baseline_p50_ms": round(base, 1),
        "added_latency_ratio": round(added.median, 3),
        "added_latency_runs": added.json(),
        "added_latency_text": added.text(),
        "sequential_ratio": round(sequential / critical, 3),
        "accord_cpu_ms_per_query": round(cpu[0] * 1000 / (runs * len(kept) + runs * len(noise)), 1),
        "sandbox_cpu_ms_per_query": round(
            cpu[1] * 1000 / (runs * len(kept) + runs * len(noise)), 1
        ),
        "runs": runs,
        "blocks": len(kept),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.read_path", description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    result = run(args.latency_ms, args.runs)
    write_result("read_path", result)
    print(
        f"read_path upstream requests / minimal plan = {result['requests_ratio']:.2f} "
        f"({sum(result['upstream_requests'].values())} / {sum(MINIMAL_PLAN.values())})"
    )
    print(
        f"read_path latency / critical path = {result['latency_ratio']:.2f} "
        f"(p50 {result['latency_p50_ms']} ms / {result['critical_path_ms']:.0f} ms; "
        f"one call after another would be {result['sequential_ratio']:.2f})"
    )
    print(
        f"read_path added latency / critical path = {result['added_latency_ratio']:.2f} "
        f"(p50 {result['latency_p50_ms']} ms - {result['baseline_p50_ms']} ms without injected "
        f"latency; one call after another would be {result['sequential_ratio']:.2f})"
    )


if __name__ == "__main__":
    main()
