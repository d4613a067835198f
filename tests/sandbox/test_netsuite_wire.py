"""How the NetSuite emulator renders values (pure functions, no server needed)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sandbox.netsuite.paths import normalize
from sandbox.netsuite.wire import rest_datetime, suiteql_value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1500.00"), "1500"),
        (Decimal("1234.50"), "1234.5"),
        (Decimal("0.50"), ".5"),
        (Decimal("-0.25"), "-.25"),
        (Decimal("-9480"), "-9480"),
        (Decimal("0"), "0"),
        (Decimal("1E+3"), "1000"),
        (1001, "1001"),
        (True, "T"),
        (False, "F"),
        (dt.date(2026, 11, 7), "11/7/2026"),
        (dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC), "1/5/2026"),
        ("O'Brien", "O'Brien"),
        (None, None),
    ],
)
def test_suiteql_values_render_as_netsuite_shows_them(value: object, shown: str | None) -> None:
    assert suiteql_value(value) == shown


def test_record_api_datetimes_keep_minutes_in_utc() -> None:
    moment = dt.datetime(2026, 11, 27, 10, 15, 42, tzinfo=dt.timezone(dt.timedelta(hours=1)))

    assert rest_datetime(moment) == "2026-11-27T09:15:00Z"


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/services/rest/record/v1/customer/1001", "/services/rest/record/v1/customer/{id}"),
        (
            "/services/rest/record/v1/salesOrder/eid:SO-1/item/2",
            "/services/rest/record/v1/salesOrder/{id}/item/{id}",
        ),
        ("/services/rest/record/v1/customer", "/services/rest/record/v1/customer"),
        ("/services/rest/query/v1/suiteql", "/services/rest/query/v1/suiteql"),
    ],
)
def test_stats_keys_replace_ids(path: str, key: str) -> None:
    assert normalize(path) == key
