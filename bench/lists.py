"""Lists: 300 customers with their credit and five invoices each, warm, against bare strawberry.

Accord (read cache on) answers ``customers(first: 300)`` with each customer's credit and
``invoices(first: 5)``: the ERP's customer page is read live (pages are not cached), the
invoices come from the read cache once warm. The baseline app answers the same shape from
constants. Both are asked one query at a time (no concurrency: this is the time of one
answer), alternately, in blocks; each block gives Accord's median time over the baseline's,
and the figure is the median block, with the lowest and highest (target at most 1.5). The
time per customer (the median over the customers answered: the sandbox's ERP holds 291 of its
300) is reported for both.
"""

from __future__ import annotations

import statistics
import time

import httpx

from bench.harness import AccordProcess, BaselineProcess
from bench.queries import HEADERS
from bench.suite import Bench, Outcome, Spread, at_most, figure, ms

CUSTOMERS = 300
TARGET = 1.5
LIST_QUERY = (
    "{ customers(first: %d) { nodes { name credit { limit { amount currency } "
    "balance { amount } overdue { amount } available { amount } status } "
    "invoices(first: 5) { nodes { number status amountDue { amount } dueDate } } } } }"
)


def _count(client: httpx.Client, query: str) -> int:
    response = client.post("/graphql", json={"query": query}, headers=HEADERS)
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"the list query failed: {response.text[:300]}")
    return len(body["data"]["customers"]["nodes"])


def _timed(client: httpx.Client, query: str) -> float:
    started = time.perf_counter()
    response = client.post("/graphql", json={"query": query}, headers=HEADERS)
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or b'"errors"' in response.content:
        raise RuntimeError(f"the list query failed: {response.text[:300]}")
    return elapsed


def run(bench: Bench) -> Outcome:
    box = bench.sandbox()
    query = LIST_QUERY % CUSTOMERS
    per_block = int(bench.pick(10, 3))
    blocks = 3
    with (
        AccordProcess(box.endpoints_file) as accord,
        BaselineProcess() as baseline,
        httpx.Client(base_url=accord.url, timeout=60) as mine,
        httpx.Client(base_url=baseline.url, timeout=60) as bare,
    ):
        # the sandbox's ERP holds a few less than 300: the baseline answers as many
        count = _count(mine, query)
        bare_query = LIST_QUERY % count
        if _count(bare, bare_query) != count:
            raise RuntimeError("the baseline did not answer as many customers as Accord")
        for _ in range(3):  # warm: the cache, the documents, the connections
            _timed(mine, query)
            _timed(bare, bare_query)
        box.control.reset()
        ratios: list[float] = []
        accord_times: list[float] = []
        bare_times: list[float] = []
        for _ in range(blocks):
            # every customer's invoices re-read first, so the block meets a warm cache
            _timed(mine, query)
            a = [_timed(mine, query) for _ in range(per_block)]
            b = [_timed(bare, bare_query) for _ in range(per_block)]
            accord_times += a
            bare_times += b
            ratios.append(statistics.median(a) / statistics.median(b))
        upstream = box.control.total()
    spread = Spread.of(ratios)
    accord_p50, bare_p50 = ms(statistics.median(accord_times)), ms(statistics.median(bare_times))
    per_accord, per_bare = accord_p50 / count, bare_p50 / count
    return Outcome(
        scenario="lists",
        line=(
            f"lists      {count} customers with credit and 5 invoices, Accord / bare "
            f"strawberry = {spread.text()} (target <= {TARGET:g}) - p50 {accord_p50:.1f} / "
            f"{bare_p50:.1f} ms, {per_accord:.3f} / {per_bare:.3f} ms per customer; "
            f"{upstream / (blocks * (per_block + 1)):.1f} upstream calls per Accord query"
        ),
        figures={
            "latency_ratio": figure(
                spread.median,
                "ratio",
                "bare strawberry app, same shape from constants",
                at_most(spread.median, TARGET),
            ),
            "ms_per_customer": figure(per_accord, "ms", f"one customer of the {count}"),
        },
        details={
            "customers": count,
            "queries_per_block": per_block,
            "latency_ratio": spread.json(),
            "accord_p50_ms": round(accord_p50, 2),
            "baseline_p50_ms": round(bare_p50, 2),
            "accord_ms_per_customer": round(per_accord, 4),
            "baseline_ms_per_customer": round(per_bare, 4),
            "upstream_requests": upstream,
        },
    )
