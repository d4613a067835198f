"""Tryton's JSON-RPC values: what Accord sends and how it reads the server's tagged objects."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from sources.tryton import wire


def test_values_json_lacks_travel_as_tryton_tags() -> None:
    # given a call's parameters with a decimal, dates, a time, a duration and bytes
    params = [
        Decimal("1500.00"),
        dt.date(2026, 12, 5),
        dt.datetime(2026, 12, 5, 8, 59, 1, 250, tzinfo=dt.UTC),
        dt.time(9, 30),
        dt.timedelta(days=1, seconds=1.5),
        b"\x00pdf",
    ]

    # when it is written
    sent = json.loads(wire.dumps({"params": params}))["params"]

    # then each value is tagged as Tryton's own encoder tags it
    assert sent[0] == {"__class__": "Decimal", "decimal": "1500.00"}
    assert sent[1] == {"__class__": "date", "year": 2026, "month": 12, "day": 5}
    assert sent[2] == {
        "__class__": "datetime",
        "year": 2026,
        "month": 12,
        "day": 5,
        "hour": 8,
        "minute": 59,
        "second": 1,
        "microsecond": 250,
    }
    assert sent[3] == {"__class__": "time", "hour": 9, "minute": 30, "second": 0, "microsecond": 0}
    assert sent[4] == {"__class__": "timedelta", "seconds": 86401.5}
    assert sent[5] == {"__class__": "bytes", "base64": "AHBkZg=="}


def test_an_aware_datetime_is_sent_in_utc_and_read_back_aware() -> None:
    # given a datetime two hours east of UTC
    local = dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))

    # when it goes to the server and comes back
    back = wire.loads(wire.dumps(local))

    # then Tryton saw 08:00 (its timestamps are naive UTC) and Accord reads 08:00 UTC
    assert json.loads(wire.dumps(local))["hour"] == 8
    assert back == dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.UTC)


def test_an_answer_reads_back_as_python_values() -> None:
    # given a search_read row as a Tryton server writes it
    text = (
        '[{"id": 7, "credit_limit_amount": {"__class__": "Decimal", "decimal": "25000.00"},'
        ' "invoice_date": {"__class__": "date", "year": 2026, "month": 2, "day": 28},'
        ' "quantity": 2.0, "code": "CUST-000001"}]'
    )

    # when it is read
    rows = wire.loads(text)

    # then money is exact and dates are dates
    assert rows == [
        {
            "id": 7,
            "credit_limit_amount": Decimal("25000.00"),
            "invoice_date": dt.date(2026, 2, 28),
            "quantity": 2.0,
            "code": "CUST-000001",
        }
    ]
    assert isinstance(rows[0]["credit_limit_amount"], Decimal)


def test_an_object_of_unknown_class_is_left_as_it_is() -> None:
    assert wire.loads('{"__class__": "Point", "x": 1}') == {"__class__": "Point", "x": 1}


@pytest.mark.parametrize(
    "tagged",
    [
        {"__class__": "Decimal", "decimal": "12,50"},
        {"__class__": "Decimal", "decimal": "NaN"},
        {"__class__": "Decimal"},
        {"__class__": "date", "year": 2026, "month": 13, "day": 1},
        {"__class__": "date", "year": "2026", "month": 1, "day": 1},
        {"__class__": "datetime", "year": 2026, "month": 1, "day": 1},
        {"__class__": "timedelta", "seconds": "a day"},
        {"__class__": "bytes", "base64": 42},
    ],
)
def test_a_known_tag_with_missing_or_wrong_parts_is_refused(tagged: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message depends on the part
        wire.loads(json.dumps({"result": tagged}))


def test_something_json_cannot_carry_is_refused_before_sending() -> None:
    with pytest.raises(TypeError, match="object cannot be sent to Tryton"):
        wire.dumps({"params": [object()]})
