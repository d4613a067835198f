"""Scalars of the canonical schema.

``Decimal`` is money and quantities as a string ("1234.50"), never a float, so no client
loses a cent to binary rounding; ``CurrencyCode`` is an ISO 4217 code and ``CountryCode`` an
ISO 3166-1 alpha-2 code. Fields are annotated with the Python types below and
`SCALAR_MAP` (passed to the schema's config) gives each its GraphQL definition.
"""

from __future__ import annotations

import decimal
import re
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

CurrencyCode = NewType("CurrencyCode", str)
CountryCode = NewType("CountryCode", str)

_CURRENCY = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")


def parse_decimal(value: object) -> decimal.Decimal:
    if not isinstance(value, str):
        raise ValueError('a Decimal is written as a string, e.g. "1234.50"')
    try:
        parsed = decimal.Decimal(value.strip())
    except decimal.InvalidOperation as exc:
        raise ValueError(f"not a decimal number: {value!r}") from exc
    if not parsed.is_finite():
        raise ValueError("a Decimal must be finite")
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
