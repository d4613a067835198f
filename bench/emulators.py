"""Emulator query cost: the sandbox's own CPU time per query, on a small and a large world.

The emulators stand in for NetSuite and Salesforce in Accord's benchmarks, so their own work
per request adds to what those benchmarks measure. This builds a 300-customer and a
10,000-customer world in this process (no HTTP) and runs each query shape Accord sends
(`sources.netsuite`, `sources.salesforce`) through the code the HTTP handlers call: the
NetSuite app's query runner (`sandbox.netsuite.query.run_page`) and the Salesforce
`QueryEngine.run`. For each shape it prints the median CPU milliseconds per query on both
worlds and their ratio (close to 1: the cost follows the rows a query touches, not the size
of the tables), next to the same for a reference plan measured in the same run:

- NetSuite: the previous executor, WHERE pushdown without indexes, building every row of the
  answer before the handler takes its page (``strategy="pushdown"``);
- Salesforce: the query engine without its indexes (``use_indexes=False``, a table scan).

Id lists are 100 ids spread over the world, as Accord batches them. Times are thread CPU
time, so other processes on the machine disturb them little.

    python -m bench.emulators [--runs 15] [--sizes 300,10000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.harness import write_result
from sandbox.netsuite import NetSuiteEmulator
from sandbox.netsuite.query import run_query
from sandbox.salesforce import SalesforceEmulator
from sandbox.world import World, build_world
from sources.netsuite import CUSTOMER_COLUMNS, TRANSACTION_COLUMNS
from sources.salesforce_records import ACCOUNT_FIELDS, OPPORTUNITY_FIELDS, OPPORTUNITY_LINE_FIELDS

BATCH = 100  # ids per IN list
PAGE = 1000  # the SuiteQL page Accord asks for, unless a shape says otherwise
SF_VERSION = "59.0"

Query = Callable[[], Any]


@dataclass(frozen=True)
class Shape:
    name: str
    fast: Query  # the emulator as it runs
    reference: Query  # the reference plan on the same data


def _numbers(values: list[int]) -> str:
    return ", ".join(str(value) for value in values)


def _quoted(values: list[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _spread(values: list[Any], count: int, seed: int) -> list[Any]:
    return sorted(random.Random(seed).sample(values, min(count, len(values))))


def netsuite_shapes(world: World, emulator: NetSuiteEmulator) -> list[Shape]:
    store, tables = emulator.store, emulator.tables
    runner = emulator.api.run_query  # what the SuiteQL handler calls with (text, tables, ...)
    customers = _spread(sorted(store.customers), BATCH, 1)
    keys = _spread(
        sorted(c.external_id for c in store.customers.values() if c.external_id), BATCH, 2
    )
    invoices = _spread(
        sorted(t.id for t in store.transactions.values() if t.type == "CustInvc"), BATCH, 3
    )
    orders = _spread(
        sorted(t.id for t in store.transactions.values() if t.type == "SalesOrd"), BATCH, 4
    )
    invoice_query = (
        f"SELECT {TRANSACTION_COLUMNS}, tl.createdfrom FROM transaction t "
        "INNER JOIN transactionline tl ON tl.transaction = t.id "
        "WHERE t.type = 'CustInvc' AND tl.mainline = 'T'"
    )
    payment_query = (
        f"SELECT {TRANSACTION_COLUMNS}, l.previousdoc AS applied_invoice, "
        "l.foreignamount AS applied_amount FROM transaction t "
        "LEFT JOIN nexttransactionlink l ON l.nextdoc = t.id "
        "WHERE t.type = 'CustPymt' AND (l.linktype = 'Payment' OR l.linktype IS NULL)"
    )
    newest = " ORDER BY t.trandate DESC, t.id DESC"
    texts = {
        "ns customers by id": (
            f"SELECT {CUSTOMER_COLUMNS} FROM customer c WHERE c.id IN ({_numbers(customers)})",
            PAGE,
        ),
        "ns customers by external id": (
            f"SELECT {CUSTOMER_COLUMNS} FROM customer c WHERE c.externalid IN ({_quoted(keys)})",
            PAGE,
        ),
        "ns customer page (keyset)": (
            f"SELECT {CUSTOMER_COLUMNS} FROM customer c WHERE c.isinactive = 'F' "
            f"AND c.id > {min(store.customers) + 42} ORDER BY c.id",
            100,
        ),
        "ns invoices by customer": (
            f"{invoice_query} AND t.entity IN ({_numbers(customers)}){newest}",
            PAGE,
        ),
        "ns invoices by order (semi-join)": (
            f"{invoice_query} AND tl.createdfrom IN ({_numbers(orders)}){newest}",
            PAGE,
        ),
        "ns payments by customer": (
            f"{payment_query} AND t.entity IN ({_numbers(customers)}){newest}",
            PAGE,
        ),
        "ns lines by transaction": (
            "SELECT tl.transaction, tl.linesequencenumber, tl.quantity, tl.rate, "
            "tl.foreignamount, tl.memo, i.itemid, i.displayname FROM transactionline tl "
            "LEFT JOIN item i ON i.id = tl.item WHERE tl.mainline = 'F' AND tl.taxline = 'F' "
            f"AND tl.transaction IN ({_numbers(invoices)}) "
            "ORDER BY tl.transaction, tl.linesequencenumber",
            PAGE,
        ),
    }

    def fast(text: str, limit: int) -> Query:
        return lambda: runner(text, tables, 0, limit)

    def previous(text: str, limit: int) -> Query:
        def run() -> Any:  # the former handler: every row built, then the page cut
            rows = run_query(text, tables, strategy="pushdown")
            return rows[0:limit], len(rows)

        return run

    return [Shape(name, fast(t, n), previous(t, n)) for name, (t, n) in texts.items()]


def salesforce_shapes(world: World, emulator: SalesforceEmulator) -> list[Shape]:
    store = emulator.store
    accounts = _spread([r["Id"] for r in store.rows("Account")], BATCH, 1)
    keys = _spread(
        [r["ERP_Customer_Id__c"] for r in store.rows("Account") if r.get("ERP_Customer_Id__c")],
        BATCH,
        2,
    )
    wanted = set(accounts)
    opportunities = _spread(
        [r["Id"] for r in store.rows("Opportunity") if r.get("AccountId") in wanted], BATCH, 3
    )
    account_fields = ", ".join(ACCOUNT_FIELDS)
    texts = {
        "sf accounts by id": (
            f"SELECT {account_fields} FROM Account WHERE Id IN ({_quoted(accounts)})"
        ),
        "sf accounts by ERP key": (
            f"SELECT {account_fields} FROM Account WHERE ERP_Customer_Id__c IN ({_quoted(keys)})"
        ),
        "sf opportunities by account": (
            f"SELECT {', '.join(OPPORTUNITY_FIELDS)} FROM Opportunity "
            f"WHERE AccountId IN ({_quoted(accounts)}) ORDER BY CloseDate DESC, Id ASC"
        ),
        "sf opportunity lines": (
            f"SELECT {', '.join(OPPORTUNITY_LINE_FIELDS)} FROM OpportunityLineItem "
            f"WHERE OpportunityId IN ({_quoted(opportunities)}) ORDER BY OpportunityId, Id"
        ),
        "sf account search (DE, LIMIT 51)": (
            f"SELECT {account_fields} FROM Account WHERE ERP_Customer_Id__c != null "
            "AND BillingCountryCode = 'DE' ORDER BY ERP_Customer_Id__c ASC LIMIT 51"
        ),
    }
    engine = emulator.queries

    def run(text: str, indexed: bool) -> Query:
        def query() -> Any:
            engine.use_indexes = indexed
            try:
                return engine.run(text, include_deleted=False, version=SF_VERSION)
            finally:
                engine.use_indexes = True

        return query

    return [Shape(name, run(text, True), run(text, False)) for name, text in texts.items()]


def shapes_of(size: int) -> list[Shape]:
    world = build_world(seed=42, customers=size)
    return [
        *netsuite_shapes(world, NetSuiteEmulator(world)),
        *salesforce_shapes(world, SalesforceEmulator(world)),
    ]


def cpu_ms(query: Query) -> float:
    start = time.thread_time()
    query()
    return (time.thread_time() - start) * 1000


def measure(small: list[Shape], large: list[Shape], runs: int) -> dict[str, list[float]]:
    """Median ms per shape: [small, large, small reference, large reference].

    The four are measured in turns, run after run, so that whatever else the machine does
    falls on all of them alike."""
    results: dict[str, list[float]] = {}
    for a, b in zip(small, large, strict=True):
        queries = (a.fast, b.fast, a.reference, b.reference)
        for query in queries:
            query()  # warm: first-use indexes and compiled plans
        samples: list[list[float]] = [[], [], [], []]
        for _ in range(runs):
            for sample, query in zip(samples, queries, strict=True):
                sample.append(cpu_ms(query))
        results[a.name] = [statistics.median(sample) for sample in samples]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sizes", default="300,10000", help="small,large customer counts")
    args = parser.parse_args()
    small, large = (int(part) for part in args.sizes.split(","))
    measured = measure(shapes_of(small), shapes_of(large), args.runs)
    header = (
        f"{'shape':34} {'ms@' + str(small):>9} {'ms@' + str(large):>9} {'ratio':>6}   "
        f"{'ref@' + str(small):>9} {'ref@' + str(large):>9} {'ratio':>6}   {'speedup':>7}"
    )
    print(header)
    print("-" * len(header))
    summary: dict[str, dict[str, float]] = {}
    for name, (ms_small, ms_large, ref_small, ref_large) in measured.items():
        ratio = ms_large / ms_small
        ref_ratio = ref_large / ref_small
        speedup = ref_large / ms_large
        print(
            f"{name:34} {ms_small:9.2f} {ms_large:9.2f} {ratio:6.2f}   "
            f"{ref_small:9.2f} {ref_large:9.2f} {ref_ratio:6.2f}   {speedup:6.1f}x"
        )
        summary[name] = {
            f"ms_{small}": round(ms_small, 3),
            f"ms_{large}": round(ms_large, 3),
            "ratio": round(ratio, 3),
            f"reference_ms_{small}": round(ref_small, 3),
            f"reference_ms_{large}": round(ref_large, 3),
            "reference_ratio": round(ref_ratio, 3),
            f"speedup_{large}": round(speedup, 2),
        }
    print(
        "\nratio: median CPU ms per query on the large world over the small one; "
        "ref: the reference plan (NetSuite: pushdown without indexes, whole answer built; "
        "Salesforce: no indexes); speedup: ref / ms on the large world."
    )
    path = write_result(
        "emulators", {"runs": args.runs, "sizes": [small, large], "shapes": summary}
    )
    print(f"written to {path}")


if __name__ == "__main__":
    main()
