"""Memory: the peak resident set of one Accord worker under load on a 10,000-customer sandbox.

Accord (one worker, default settings, read cache on) is driven with the Lightning credit
query over every account of a 10,000-customer world in turn, so each request asks for a
customer not asked for before until the list wraps: the per-request state and the read
cache both grow as they would in a day of Account page views. The baseline is the bare
strawberry app of `bench.baseline_app` under the same load. The figure is Accord's peak RSS
(``VmHWM`` of its process) over the baseline's; the absolute peaks and Accord's RSS at rest
before the load are in the details.
"""

from __future__ import annotations

from bench import loadgen
from bench.harness import AccordProcess, BaselineProcess, ServerProcess, peak_rss_kib, rss_kib
from bench.queries import CREDIT_QUERY
from bench.suite import Bench, Outcome, figure

CUSTOMERS = 10_000
CONCURRENCY = 16


def _load(bench: Bench, server: ServerProcess, ids: list[str]) -> loadgen.LoadResult:
    requests = [
        loadgen.graphql_post(server.host, server.port, CREDIT_QUERY, {"id": i}) for i in ids
    ]
    return loadgen.run(
        server.host,
        server.port,
        requests,
        concurrency=CONCURRENCY,
        duration=bench.pick(20.0, 3.0),
    )


def run(bench: Bench) -> Outcome:
    box = bench.sandbox(CUSTOMERS)
    ids = box.upstream.salesforce_ids(CUSTOMERS)
    with AccordProcess(box.endpoints_file) as accord:
        accord_rest = rss_kib(accord.pid)
        accord_load = _load(bench, accord, ids)
        accord_peak = peak_rss_kib(accord.pid)
    with BaselineProcess() as baseline:
        baseline_rest = rss_kib(baseline.pid)
        baseline_load = _load(bench, baseline, ids)
        baseline_peak = peak_rss_kib(baseline.pid)
    ratio = accord_peak / baseline_peak
    errors = accord_load.errors + baseline_load.errors
    mib = 1024.0
    return Outcome(
        scenario="memory",
        line=(
            f"memory     peak RSS Accord / bare strawberry = {ratio:.2f} - {accord_peak / mib:.0f}"
            f" / {baseline_peak / mib:.0f} MiB under load ({accord_load.requests} credit queries"
            f" over {len(ids)} accounts), Accord at rest {accord_rest / mib:.0f} MiB, "
            f"{errors} errors"
        ),
        figures={
            "peak_rss_ratio": figure(ratio, "ratio", "bare strawberry app under the same load"),
            "accord_peak_rss_mib": figure(
                accord_peak / mib, "MiB", "VmHWM of the Accord worker process"
            ),
        },
        errors=errors,
        details={
            "customers": CUSTOMERS,
            "accounts": len(ids),
            "concurrency": CONCURRENCY,
            "accord_rss_at_rest_kib": accord_rest,
            "accord_peak_rss_kib": accord_peak,
            "baseline_rss_at_rest_kib": baseline_rest,
            "baseline_peak_rss_kib": baseline_peak,
            "distinct_accounts_asked": min(accord_load.requests, len(ids)),
            "accord": accord_load.summary(),
            "baseline": baseline_load.summary(),
        },
    )
