"""Scalars of the canonical schema.

``Decimal`` is money and quantities as a string ("1234.50"), never a float, so no client
loses a cent to binary rounding; ``CurrencyCode`` is an ISO 4217 code and ``CountryCode`` an
ISO 3166-1 alpha-2 code. Fields are annotated with the Python types below and
`SCALAR_MAP` (passed to the schema's config) gives each its GraphQL definition.

Input is read strictly, so that what is posted is what the client meant: a Decimal is plain
ASCII digits with an optional minus and decimal point ("-12.50"; no exponent, underscore,
plus sign, space or non-ASCII digit, at most `MAX_DECIMAL_LENGTH` characters); a Date is
``YYYY-MM-DD`` within `date_window` days of today (the request pipeline sets the window).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from contextvars import ContextVar
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

CurrencyCode = NewType("CurrencyCode", str)
CountryCode = NewType("CountryCode", str)

_CURRENCY = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")
# `re.ASCII` keeps \d from matching other scripts' digits; spelled [0-9] to be plain.
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
MAX_DECIMAL_LENGTH = 40

DEFAULT_DATE_WINDOW = 1830  # days either side of today, about five years
date_window: ContextVar[int] = ContextVar("date_window", default=DEFAULT_DATE_WINDOW)
"""How far from today (UTC) a Date input may lie, in days; set per request."""


def parse_decimal(value: object) -> decimal.Decimal:
    if not isinstance(value, str):
        raise ValueError('a Decimal is written as a string, e.g. "1234.50"')
    if len(value) > MAX_DECIMAL_LENGTH:
        raise ValueError(f"a Decimal has at most {MAX_DECIMAL_LENGTH} characters")
    if not _DECIMAL.fullmatch(value):
        raise ValueError(
            f'not a plain decimal number: {value!r} (write digits and a point, e.g. "1234.50")'
        )
    return decimal.Decimal(value)


def parse_date(value: object) -> dt.date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError(f"not a date written YYYY-MM-DD: {value!r}")
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a calendar date: {value!r}") from None
    window = date_window.get()
    today = dt.datetime.now(dt.UTC).date()
    if abs((parsed - today).days) > window:
        raise ValueError(f"{value} is more than {window} days from today")
    return parsed


def parse_currency(value: object) -> CurrencyCode:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise ValueError(f"not an ISO 4217 currency code: {value!r}")
    return CurrencyCode(value)


def parse_country(value: object) -> CountryCode:
    if not isinstance(value, str) or not _COUNTRY.fullmatch(value):
        raise ValueError(f"not an ISO 3166-1 alpha-2 country code: {value!r}")
    return CountryCode(value)


SCALAR_MAP: dict[object, ScalarDefinition] = {
    dt.date: strawberry.scalar(
        name="Date",
        description="A calendar date, YYYY-MM-DD (ISO 8601). As input, within a configurable "
        "window around today (five years either side by default).",
        serialize=dt.date.isoformat,
        parse_value=parse_date,
    ),
    decimal.Decimal: strawberry.scalar(
        name="Decimal",
        description='An exact decimal number written as a string, e.g. "1234.50". Never a float.',
        serialize=lambda value: format(value, "f"),
        parse_value=parse_decimal,
        specified_by_url="https://speleotrove.com/decimal/decarith.html",
    ),
    CurrencyCode: strawberry.scalar(
        name="CurrencyCode",
        description='An ISO 4217 alphabetic currency code, e.g. "EUR".',
        serialize=str,
        parse_value=parse_currency,
        specified_by_url="https://www.iso.org/iso-4217-currency-codes.html",
    ),
    CountryCode: strawberry.scalar(
        name="CountryCode",
        description='An ISO 3166-1 alpha-2 country code, e.g. "DE".',
        serialize=str,
        parse_value=parse_country,
        specified_by_url="https://www.iso.org/iso-3166-country-codes.html",
    ),
}
