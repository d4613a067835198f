"""Lightning: the credit query by Salesforce id on a warm cache, Accord against a bare app.

The hottest caller is the Lightning component on every Account page. This scenario warms
Accord's read cache with the credit of ``ids`` accounts, then drives Accord and the bare
strawberry app of `bench.baseline_app` (the same query shape answered from constants) with
the same load generator, in alternating rounds of the same length, at the same concurrency.
The figure is Accord's requests per second over the baseline's (target at least 0.8).
Beside it, the same comparison in CPU time: the baseline's CPU seconds per request over
Accord's, read from /proc for each server process. Both servers are CPU-bound under this
load, so the two agree; the CPU figure is the steadier when other work shares the machine.

While Accord is under load the emulators count the upstream requests it makes: on a warm
cache there should be none, and the figure is only what it says when there are none.
"""

from __future__ import annotations

import httpx

from bench import loadgen
from bench.harness import AccordProcess, BaselineProcess, cpu_seconds
from bench.queries import CREDIT_QUERY, credit
from bench.suite import Bench, Outcome, at_least, figure

CONCURRENCY = 16
TARGET = 0.8


def run(bench: Bench) -> Outcome:
    box = bench.sandbox()
    ids = box.upstream.salesforce_ids(int(bench.pick(100, 20)))
    # Short alternating rounds, so both servers see the same machine; the whole stays within
    # the 30 s freshness of the credit figures, and each Accord round starts with every id
    # re-read, so the load meets a warm cache and not the refresh of expired entries.
    duration = bench.pick(2.5, 1.5)
    rounds = int(bench.pick(4, 1))
    warmup = bench.pick(0.5, 0.3)
    with AccordProcess(box.endpoints_file) as accord, BaselineProcess() as baseline:
        client = httpx.Client(base_url=accord.url, timeout=30)
        for salesforce_id in ids:
            credit(client, salesforce_id)
        box.control.reset()
        for salesforce_id in ids:
            credit(client, salesforce_id)
        second_read_upstream = box.control.total()
        servers = {"accord": accord, "baseline": baseline}
        requests = {
            name: [
                loadgen.graphql_post(server.host, server.port, CREDIT_QUERY, {"id": i}) for i in ids
            ]
            for name, server in servers.items()
        }
        results = {name: loadgen.LoadResult() for name in servers}
        cpu = dict.fromkeys(servers, 0.0)
        box.control.reset()
        for _ in range(rounds):
            for name, server in servers.items():
                if server is accord:
                    for salesforce_id in ids:
                        credit(client, salesforce_id)
                before = cpu_seconds(server.pid)
                results[name].merge(
                    loadgen.run(
                        server.host,
                        server.port,
                        requests[name],
                        concurrency=CONCURRENCY,
                        duration=duration,
                        warmup=warmup,
                    )
                )
                cpu[name] += cpu_seconds(server.pid) - before
        upstream_under_load = box.control.total()
        client.close()
    accord_rps, baseline_rps = results["accord"].rps, results["baseline"].rps
    ratio = accord_rps / baseline_rps if baseline_rps else 0.0
    # CPU per request; the warm-up's requests are not counted, so both carry the same bias.
    per_request = {name: cpu[name] / max(1, result.requests) for name, result in results.items()}
    cpu_ratio = per_request["baseline"] / per_request["accord"] if per_request["accord"] else 0.0
    errors = results["accord"].errors + results["baseline"].errors
    warm = second_read_upstream == 0
    note = "" if warm else f" [NOT warm: {second_read_upstream} upstream calls on a second read]"
    if upstream_under_load:
        note += f" [{upstream_under_load} upstream calls during the rounds]"
    return Outcome(
        scenario="lightning",
        line=(
            f"lightning  requests/s Accord / bare strawberry = {ratio:.2f} (target >= {TARGET}) "
            f"- {accord_rps:.0f} / {baseline_rps:.0f} rps, p50 "
            f"{results['accord'].percentile(0.5):.1f} / {results['baseline'].percentile(0.5):.1f}"
            f" ms, {CONCURRENCY} connections; CPU per request ratio {cpu_ratio:.2f}; "
            f"{errors} errors{note}"
        ),
        figures={
            "rps_ratio": figure(
                ratio,
                "ratio",
                "bare strawberry app, same query shape from constants",
                at_least(ratio, TARGET),
            ),
            "cpu_ratio": figure(
                cpu_ratio, "ratio", "baseline CPU seconds per request over Accord's"
            ),
        },
        errors=errors,
        details={
            "ids": len(ids),
            "concurrency": CONCURRENCY,
            "rounds": rounds,
            "seconds_per_round": duration,
            "warm_cache": warm,
            "upstream_requests_on_second_read": second_read_upstream,
            "upstream_requests_under_load": upstream_under_load,
            "cpu_ms_per_request": {k: round(v * 1000, 4) for k, v in per_request.items()},
            "accord": results["accord"].summary(),
            "baseline": results["baseline"].summary(),
        },
    )
