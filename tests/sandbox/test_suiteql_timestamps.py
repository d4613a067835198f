"""SuiteQL date-times to the second and below: TO_CHAR in the select list, TO_TIMESTAMP in
comparisons, as pollers use them for watermarks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sandbox.querylang.suiteql import (
    SuiteQlError,
    execute_suiteql,
    parse_suiteql,
    to_char,
    to_timestamp,
)
from tests.sandbox.test_netsuite_support import NetSuiteHttp, error_detail, new_customer

ROWS: list[dict[str, Any]] = [
    {
        "id": 1,
        "lastmodifieddate": dt.datetime(2026, 1, 5, 10, 11, 12, 345678, tzinfo=dt.UTC),
        "trandate": None,
    },
    {
        "id": 2,
        "lastmodifieddate": dt.datetime(2026, 1, 5, 10, 11, 13, tzinfo=dt.UTC),
        "trandate": None,
    },
    {"id": 3, "lastmodifieddate": None, "trandate": dt.date(2026, 1, 5)},
]


def run(text: str) -> list[dict[str, Any]]:
    return execute_suiteql(parse_suiteql(text), {"t": ROWS})


def test_to_char_renders_a_datetime_to_the_second_and_below() -> None:
    rows = run(
        "SELECT id, TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS modified, "
        "TO_CHAR(lastmodifieddate, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF3') FROM t WHERE id = 1"
    )

    assert rows == [
        {"id": 1, "modified": "2026-01-05 10:11:12", "expr1": "2026-01-05T10:11:12.345"}
    ]


def test_to_char_of_null_is_null_and_of_a_date_is_midnight() -> None:
    rows = run("SELECT id, TO_CHAR(trandate, 'MM/DD/YYYY HH24:MI') AS d FROM t ORDER BY id")

    assert rows == [
        {"id": 1, "d": None},
        {"id": 2, "d": None},
        {"id": 3, "d": "01/05/2026 00:00"},
    ]
    assert to_char(None, "YYYY") is None


def test_to_timestamp_compares_below_the_second() -> None:
    found = run(
        "SELECT id FROM t WHERE lastmodifieddate >= "
        "TO_TIMESTAMP('2026-01-05 10:11:12.5', 'YYYY-MM-DD HH24:MI:SS.FF') ORDER BY id"
    )
    whole = run(
        "SELECT id FROM t WHERE lastmodifieddate >= "
        "TO_TIMESTAMP('2026-01-05 10:11:12', 'YYYY-MM-DD HH24:MI:SS') ORDER BY id"
    )

    assert [row["id"] for row in found] == [2]
    assert [row["id"] for row in whole] == [1, 2]
    assert to_timestamp("2026-01-05", "YYYY-MM-DD") == dt.datetime(2026, 1, 5)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT TO_CHAR(lastmodifieddate, 'YYYY-QQ') FROM t",
        "SELECT TO_CHAR(lastmodifieddate) FROM t",
        "SELECT TO_CHAR(lastmodifieddate, 42) FROM t",
        "SELECT TO_CHAR(lastmodifieddate, 'YYYY \"open) FROM t",
        "SELECT id FROM t WHERE lastmodifieddate > TO_DATE('2026-01-05 1.5', 'YYYY-MM-DD SS.FF')",
        "SELECT id FROM t WHERE lastmodifieddate > TO_TIMESTAMP('yesterday', 'YYYY-MM-DD')",
    ],
)
def test_unsupported_or_mismatched_formats_are_query_errors(text: str) -> None:
    with pytest.raises(SuiteQlError):
        run(text)


def test_to_char_of_a_number_is_a_query_error_not_a_crash() -> None:
    with pytest.raises(SuiteQlError):
        run("SELECT TO_CHAR(id, 'YYYY') AS x FROM t")


def test_the_emulator_keeps_modification_times_below_the_second(ns: NetSuiteHttp) -> None:
    customer = new_customer(ns)

    [row] = ns.rows(
        "SELECT TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS.FF6') AS at, "
        "TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS second "
        f"FROM customer WHERE id = {customer}"
    )
    at = dt.datetime.fromisoformat(str(row["at"]))
    [same] = ns.rows(
        f"SELECT id FROM customer WHERE id = {customer} AND lastmodifieddate >= "
        f"TO_TIMESTAMP('{row['second']}', 'YYYY-MM-DD HH24:MI:SS')"
    )

    assert str(row["at"]).startswith(str(row["second"]))
    assert abs(dt.datetime.now(dt.UTC).replace(tzinfo=None) - at) < dt.timedelta(minutes=5)
    assert same["id"] == customer


def test_a_bad_format_over_http_is_netsuites_400(ns: NetSuiteHttp) -> None:
    answer = ns.suiteql("SELECT TO_CHAR(lastmodifieddate, 'YYYY-QQ') FROM customer")

    assert answer.status_code == 400
    assert error_detail(answer)["o:errorCode"] == "INVALID_PARAMETER"
