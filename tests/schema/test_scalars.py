"""Scalars read strictly: a Decimal is plain ASCII digits, a Date is YYYY-MM-DD near today."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from schema.scalars import date_window, parse_date, parse_decimal


@pytest.mark.parametrize("text", ["0", "12", "-12.50", "1234567890.123456789", "007.10"])
def test_plain_decimals_are_read_exactly(text: str) -> None:
    assert parse_decimal(text) == decimal.Decimal(text)


@pytest.mark.parametrize(
    "text",
    [
        "1_000",
        "１２",
        "+1",
        " 1",
        "1 ",
        "1e3",
        "1E3",
        "1.",
        ".5",
        "-",
        "NaN",
        "-Infinity",
        "٣",
        "1,5",
        "",
        "9" * 41,
    ],
)
def test_anything_else_is_not_a_decimal(text: str) -> None:
    with pytest.raises(ValueError, match=r"[Dd]ecimal"):
        parse_decimal(text)


def test_a_decimal_is_a_string_not_a_number() -> None:
    with pytest.raises(ValueError, match="written as a string"):
        parse_decimal(12.5)


def test_a_date_within_the_window_is_read_and_one_outside_refused() -> None:
    today = dt.datetime.now(dt.UTC).date()
    token = date_window.set(30)
    try:
        assert parse_date((today - dt.timedelta(days=30)).isoformat()) == today - dt.timedelta(
            days=30
        )
        with pytest.raises(ValueError, match="more than 30 days from today"):
            parse_date((today + dt.timedelta(days=31)).isoformat())
    finally:
        date_window.reset(token)


@pytest.mark.parametrize(
    "text", ["2026-1-5", "2026-01-05T00:00:00", "05/01/2026", "２０２６-01-05", " 2026-01-05"]
)
def test_a_date_is_written_yyyy_mm_dd(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date(text)
