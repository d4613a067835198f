"""SuiteQL over the emulator's tables, with the query language of `sandbox.querylang.suiteql`.

Only the tables a query names are handed to the executor, with their column lists, so a query
on ``customer`` never makes ``transactionline`` catch up with recent writes, and a column that
a table lacks is an error even when the table happens to be empty. The tables go in with their
indexes, so a query by ids reads those rows only; `run_page` builds only the rows of the page
asked for.
"""

from __future__ import annotations

from typing import Any

from sandbox.netsuite.tables import SuiteQlTables
from sandbox.querylang.ast import SuiteQlQuery
from sandbox.querylang.suiteql import (
    Strategy,
    execute_suiteql,
    execute_suiteql_page,
    parse_suiteql,
)
from sandbox.querylang.tables import Table


def run_query(
    text: str, tables: SuiteQlTables, *, strategy: Strategy = "indexed"
) -> list[dict[str, Any]]:
    """Rows of ``text``; raises `sandbox.querylang.suiteql.SuiteQlError` (with ``.detail``).

    ``strategy`` chooses the executor's plan (see `execute_suiteql`); the answer is the same.
    """
    query = parse_suiteql(text)
    subset, schemas = _tables_of(query, tables)
    return execute_suiteql(
        query, subset, schemas=schemas, strategy=strategy, today=tables.store.reference_date()
    )


def run_page(
    text: str,
    tables: SuiteQlTables,
    offset: int,
    limit: int,
    *,
    strategy: Strategy = "indexed",
) -> tuple[list[dict[str, Any]], int]:
    """The rows ``[offset : offset + limit]`` of ``text`` and how many rows it has in all."""
    query = parse_suiteql(text)
    subset, schemas = _tables_of(query, tables)
    return execute_suiteql_page(
        query,
        subset,
        offset=offset,
        limit=limit,
        schemas=schemas,
        strategy=strategy,
        today=tables.store.reference_date(),
    )


def _tables_of(
    query: SuiteQlQuery, tables: SuiteQlTables
) -> tuple[dict[str, Table], dict[str, tuple[str, ...]]]:
    names = {query.source.table.lower(), *(join.table.table.lower() for join in query.joins)}
    subset: dict[str, Table] = {}
    schemas: dict[str, tuple[str, ...]] = {}
    for name in names:
        if name in tables:  # an unknown table is left out: the executor names it in its error
            subset[name] = tables.table(name)
            schemas[name] = tables.columns(name)
    return subset, schemas
