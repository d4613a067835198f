"""Lightning: the credit query by Salesforce id on a warm cache, Accord against a bare app.

The hottest caller is the Lightning component on every Account page. This scenario warms
Accord's read cache with the credit of ``ids`` accounts, then drives Accord and the bare
strawberry app of `bench.baseline_app` (the same query shape answered from constants) with
the same load generator, in alternating rounds of the same length, at the same concurrency.
Each round gives Accord's requests per second over the baseline's in that round; the figure
is the median of the rounds, printed with the lowest and highest (target at least 0.8).
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
from bench.queries import CREDIT_QUERY, credit, persisted_query, register
from bench.suite import Bench, Outcome, Spread, at_least, at_most, figure

CONCURRENCY = 16
TARGET = 0.8
PERSISTED_TARGET = 1.5  # requests per second over bare strawberry's
P99_TARGET = 1.0  # p99 over bare strawberry's


def run(bench: Bench) -> Outcome:
    """The credit query sent as text: the read cache, and the whole query run each time."""
    return _compare(bench, persisted=False)


def run_persisted(bench: Bench) -> Outcome:
    """The credit query sent by its hash, as a production Lightning client sends it: answers
    kept whole by the response cache (api/response_cache.py)."""
    return _compare(bench, persisted=True)


def _compare(bench: Bench, *, persisted: bool) -> Outcome:
    box = bench.sandbox()
    ids = box.upstream.salesforce_ids(int(bench.pick(100, 20)))
    # Short alternating rounds, so both servers see the same machine; the whole stays within
    # the 30 s freshness of the credit figures, and each Accord round starts with every id
    # re-read, so the load meets a warm cache and not the refresh of expired entries.
    duration = bench.pick(2.5, 0.5)
    rounds = int(bench.pick(4, 3))
    warmup = bench.pick(0.5, 0.2)
    with AccordProcess(box.endpoints_file) as accord, BaselineProcess() as baseline:
        client = httpx.Client(base_url=accord.url, timeout=30)
        if persisted:
            register(client, CREDIT_QUERY)
        for salesforce_id in ids:
            credit(client, salesforce_id, persisted=persisted)
        box.control.reset()
        for salesforce_id in ids:
            credit(client, salesforce_id, persisted=persisted)
        second_read_upstream = box.control.total()
        servers = {"accord": accord, "baseline": baseline}
        extensions = persisted_query(CREDIT_QUERY)
        requests = {
            name: [
                loadgen.graphql_post(server.host, server.port, CREDIT_QUERY, {"id": i})
                if name == "baseline" or not persisted
                else loadgen.graphql_post(server.host, server.port, None, {"id": i}, extensions)
                for i in ids
            ]
            for name, server in servers.items()
        }
        results = {name: loadgen.LoadResult() for name in servers}
        cpu = dict.fromkeys(servers, 0.0)
        round_ratios: list[float] = []
        p99_ratios: list[float] = []
        box.control.reset()
        for _ in range(rounds):
            this_round: dict[str, loadgen.LoadResult] = {}
            for name, server in servers.items():
                if server is accord:
                    for salesforce_id in ids:
                        credit(client, salesforce_id, persisted=persisted)
                before = cpu_seconds(server.pid)
                this_round[name] = loadgen.run(
                    server.host,
                    server.port,
                    requests[name],
                    concurrency=CONCURRENCY,
                    duration=duration,
                    warmup=warmup,
                )
                results[name].merge(this_round[name])
                cpu[name] += cpu_seconds(server.pid) - before
            mine, bare = this_round["accord"], this_round["baseline"]
            round_ratios.append(mine.rps / bare.rps if bare.rps else 0.0)
            bare_p99 = bare.percentile(0.99)
            p99_ratios.append(mine.percentile(0.99) / bare_p99 if bare_p99 else 0.0)
        upstream_under_load = box.control.total()
        client.close()
    accord_rps, baseline_rps = results["accord"].rps, results["baseline"].rps
    spread = Spread.of(round_ratios)
    ratio = spread.median
    p99 = Spread.of(p99_ratios)
    # CPU per request; the warm-up's requests are not counted, so both carry the same bias.
    per_request = {name: cpu[name] / max(1, result.requests) for name, result in results.items()}
    cpu_ratio = per_request["baseline"] / per_request["accord"] if per_request["accord"] else 0.0
    errors = results["accord"].errors + results["baseline"].errors
    warm = second_read_upstream == 0
    note = "" if warm else f" [NOT warm: {second_read_upstream} upstream calls on a second read]"
    if upstream_under_load:
        note += f" [{upstream_under_load} upstream calls during the rounds]"
    name = "persisted" if persisted else "lightning"
    target = PERSISTED_TARGET if persisted else TARGET
    figures = {
        "rps_ratio": figure(
            ratio,
            "ratio",
            "bare strawberry app, same query shape from constants",
            at_least(ratio, target),
        ),
        "cpu_ratio": figure(cpu_ratio, "ratio", "baseline CPU seconds per request over Accord's"),
    }
    p99_text = f"p99 Accord / bare = {p99.text()}"
    if persisted:
        figures["p99_ratio"] = figure(
            p99.median, "ratio", "bare strawberry app's p99, same round", at_most(p99.median, 1.0)
        )
        p99_text += f" (target <= {P99_TARGET:g})"
    return Outcome(
        scenario=name,
        line=(
            f"{name:<10} requests/s Accord / bare strawberry = {spread.text()} "
            f"(target >= {target}) - {accord_rps:.0f} / {baseline_rps:.0f} rps; {p99_text} - "
            f"{results['accord'].percentile(0.99):.1f} / "
            f"{results['baseline'].percentile(0.99):.1f} ms; {CONCURRENCY} connections; CPU per "
            f"request ratio {cpu_ratio:.2f}; {errors} errors{note}"
        ),
        figures=figures,
        errors=errors,
        details={
            "ids": len(ids),
            "concurrency": CONCURRENCY,
            "rounds": rounds,
            "seconds_per_round": duration,
            "warm_cache": warm,
            "upstream_requests_on_second_read": second_read_upstream,
            "upstream_requests_under_load": upstream_under_load,
            "rps_ratio": spread.json(),
            "p99_ratio": p99.json(),
            "persisted": persisted,
            "cpu_ms_per_request": {k: round(v * 1000, 4) for k, v in per_request.items()},
            "accord": results["accord"].summary(),
            "baseline": results["baseline"].summary(),
        },
    )
