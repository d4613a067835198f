"""Workers: the warm credit query on two worker processes against one, on the same Redis.

Two Accord servers run side by side on the same sandbox and Redis (a key prefix of this run):
``server.py --workers 1`` and ``server.py --workers 2``. Both caches are warmed with the
credit of ``ids`` accounts; then the load generator drives each in turn, in alternating rounds
of the same length at the same concurrency. Each round gives one ratio (two workers' requests
per second over one worker's, measured back to back); the figure is the median of the rounds,
with the lowest and highest printed beside it. A round in which two workers did more than
twice what one did is not possible (something else on the machine slowed the one-worker
half): it is flagged as noise and repeated. The target is 1.8: on a machine of two cores
that the load generator shares, it is close to the most that can be had.

Each worker's CPU time under the load is in the line: the kernel's spreading of connections
shows there (two similar figures), whatever the machine's other work does to the ratio.

Not available without a Redis (``ACCORD_TEST_REDIS_URL``, default redis://127.0.0.1:6379/0):
with state in memory Accord runs one worker only.
"""

from __future__ import annotations

import uuid

import httpx

from bench import loadgen
from bench.harness import AccordProcess, cpu_seconds, delete_keys, shared_redis
from bench.queries import CREDIT_QUERY, credit
from bench.suite import Bench, Outcome, Spread, at_least, figure, repeated

CONCURRENCY = 16
WORKERS = 2
TARGET = 1.8


def run(bench: Bench) -> Outcome:
    redis_url = shared_redis()
    if redis_url is None:
        return Outcome(
            "workers",
            "workers    not available: no Redis answers at ACCORD_TEST_REDIS_URL",
            available=False,
            reason="several workers need their state in Redis",
        )
    box = bench.sandbox()
    ids = box.upstream.salesforce_ids(int(bench.pick(100, 20)))
    duration = bench.pick(2.5, 1.0)
    rounds = int(bench.pick(4, 3))
    warmup = bench.pick(0.5, 0.3)
    prefix = f"bench-workers-{uuid.uuid4().hex[:8]}:"
    env = {"ACCORD_REDIS_URL": redis_url, "ACCORD_REDIS_PREFIX": prefix}
    try:
        with (
            AccordProcess(box.endpoints_file, env, workers=1) as one,
            AccordProcess(box.endpoints_file, env, workers=WORKERS) as two,
        ):
            servers = {"one": one, "two": two}
            requests = {
                name: [
                    loadgen.graphql_post(server.host, server.port, CREDIT_QUERY, {"id": i})
                    for i in ids
                ]
                for name, server in servers.items()
            }
            results = {name: loadgen.LoadResult() for name in servers}
            cpu: dict[str, dict[int, float]] = {name: {} for name in servers}
            box.control.reset()

            def one_round() -> float:
                rps: dict[str, float] = {}
                for name, server in servers.items():
                    # every id re-read first: the load meets a warm cache, never an expiry
                    with httpx.Client(base_url=server.url, timeout=30) as client:
                        for salesforce_id in ids:
                            credit(client, salesforce_id)
                    pids = server.worker_pids()
                    before = {pid: cpu_seconds(pid) for pid in pids}
                    result = loadgen.run(
                        server.host,
                        server.port,
                        requests[name],
                        concurrency=CONCURRENCY,
                        duration=duration,
                        warmup=warmup,
                    )
                    results[name].merge(result)
                    rps[name] = result.rps
                    for index, pid in enumerate(pids):
                        used = cpu_seconds(pid) - before[pid]
                        cpu[name][index] = cpu[name].get(index, 0.0) + used
                return rps["two"] / rps["one"] if rps["one"] else 0.0

            # two processes cannot do more than twice the work of one
            ratios, noise = repeated(one_round, runs=rounds, plausible=lambda r: 0 < r <= WORKERS)
    finally:
        delete_keys(redis_url, prefix)
    spread = Spread.of(ratios, noise, suspect=any(not 0 < r <= WORKERS for r in ratios))
    errors = results["one"].errors + results["two"].errors
    return Outcome(
        scenario="workers",
        line=(
            f"workers    requests/s 2 workers / 1 worker = {spread.text()} (target >= {TARGET}) "
            f"- {results['two'].rps:.0f} / {results['one'].rps:.0f} rps, p99 "
            f"{results['two'].percentile(0.99):.1f} / {results['one'].percentile(0.99):.1f} ms, "
            f"{CONCURRENCY} connections, state in Redis; CPU seconds of the 2 workers "
            f"{' / '.join(f'{v:.1f}' for v in cpu['two'].values())}; {errors} errors"
        ),
        figures={
            "rps_ratio": figure(
                spread.median,
                "ratio",
                "the same server with one worker, same Redis, alternating rounds",
                at_least(spread.median, TARGET),
            )
        },
        errors=errors,
        details={
            "ids": len(ids),
            "concurrency": CONCURRENCY,
            "rounds": rounds,
            "seconds_per_round": duration,
            "rps_ratio": spread.json(),
            # how the kernel spread the load: each worker's CPU time under it
            "worker_cpu_seconds": {
                name: [round(v, 2) for v in used.values()] for name, used in cpu.items()
            },
            "one_worker": results["one"].summary(),
            "two_workers": results["two"].summary(),
        },
    )
