"""SuiteQL over the emulator's tables, with the query language of `sandbox.querylang.suiteql`.

Only the tables a query names are handed to the executor, with their column lists, so a query
on ``customer`` never makes ``transactionline`` catch up with recent writes, and a column that
a table lacks is an error even when the table happens to be empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sandbox.netsuite.tables import SuiteQlTables
from sandbox.querylang.suiteql import execute_suiteql, parse_suiteql


def run_query(text: str, tables: SuiteQlTables) -> list[dict[str, Any]]:
    """Rows of ``text``; raises `sandbox.querylang.suiteql.SuiteQlError` (with ``.detail``)."""
    query = parse_suiteql(text)
    names = {query.source.table.lower(), *(join.table.table.lower() for join in query.joins)}
    subset: dict[str, Sequence[Mapping[str, Any]]] = {}
    schemas: dict[str, tuple[str, ...]] = {}
    for name in names:
        if name in tables:  # an unknown table is left out: the executor names it in its error
            subset[name] = tables[name]
            schemas[name] = tables.columns(name)
    return execute_suiteql(query, subset, schemas=schemas)
