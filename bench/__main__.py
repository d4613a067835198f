"""Accord's benchmark suite: one command, one line per scenario, JSON in bench/results/.

    python -m bench                      # every scenario
    python -m bench --lightning --cold   # some of them
    python -m bench --quick              # short runs (CI): checks the suite works, not targets

Scenarios (docs/performance.md says what each figure means):

    --lightning  credit query on a warm cache: requests/s against a bare strawberry app
    --persisted  the same query by its hash (answers kept whole): requests/s and p99
    --workers    the same query on two worker processes against one (state in Redis)
    --lists      300 customers with credit and invoices, warm: time against bare strawberry
    --portal     100 customers with their lists: upstream requests and latency against the plan
    --cold       credit query, nothing cached, 50 ms per upstream call: Accord's own time
    --freshness  payment posted in the ERP -> new balance served
    --events     payment posted in the ERP -> subscribers on another process (1 and 1,000)
    --memory     peak RSS of one worker under load on a 10,000-customer sandbox
    --connections RSS at rest; 10,000 subscriptions on 100 WebSocket connections; cycles
    --healing    after a NetSuite outage: how soon failures stop, bookings that finish alone
    --soak       ten minutes of mixed load with faults on two replicas: memory levels off

Each scenario writes ``<results>/<scenario>.json`` (``--results``, default bench/results/).
The command starts the sandbox and Accord (and the baseline app) as processes of their own
and stops them at the end. It exits with 1 when a scenario failed or saw errors in answers.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from bench import (
    cold,
    connections,
    events,
    freshness,
    healing,
    lightning,
    lists,
    memory,
    portal,
    soak,
    workers,
)
from bench.harness import RESULTS, write_result
from bench.suite import Bench, Outcome, Scenario, machine

SCENARIOS: dict[str, Scenario] = {
    "lightning": lightning.run,
    "persisted": lightning.run_persisted,
    "workers": workers.run,
    "lists": lists.run,
    "portal": portal.run,
    "cold": cold.run,
    "freshness": freshness.run,
    "events": events.run,
    "memory": memory.run,
    "connections": connections.run,
    "healing": healing.run,
    "soak": soak.run,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for name in SCENARIOS:
        parser.add_argument(f"--{name}", action="store_true", help=f"run the {name} scenario")
    parser.add_argument("--quick", action="store_true", help="short runs: the suite works")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help=f"where the JSON goes (default {RESULTS})"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [name for name in SCENARIOS if getattr(args, name)] or list(SCENARIOS)
    facts = machine()
    print(
        f"bench: {', '.join(chosen)}{' (quick)' if args.quick else ''} on {facts['cpu']}, "
        f"{facts['cpus']} CPUs, Python {facts['python']}",
        flush=True,
    )
    bad = 0
    with Bench(quick=args.quick) as bench:
        for name in chosen:
            started = time.monotonic()
            try:
                outcome = SCENARIOS[name](bench)
            except Exception as exc:
                detail = "".join(traceback.format_exception(exc))
                outcome = Outcome(
                    scenario=name,
                    line=f"{name:<10} FAILED: {type(exc).__name__}: {exc}",
                    available=False,
                    failed=True,
                    reason=detail,
                )
            outcome.details["seconds"] = round(time.monotonic() - started, 1)
            write_result(name, outcome.json(args.quick), args.results)
            print(outcome.line, flush=True)
            if outcome.failed:
                print(outcome.reason, file=sys.stderr, flush=True)
            bad += outcome.failed or outcome.errors > 0
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
