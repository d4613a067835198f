"""How values look on NetSuite's wire.

Record API (REST): amounts and quantities are JSON numbers, dates ``"2026-11-27"``,
date-times ``"2026-11-27T09:30:00Z"`` (NetSuite keeps minutes, not seconds), booleans JSON
booleans, ids strings.

SuiteQL: every value is a string: numbers as NetSuite (Oracle) renders them, without trailing
zeros and without a leading zero before the decimal point (``"1500"``, ``"1234.5"``, ``".5"``,
``"-.25"``), booleans ``"T"``/``"F"``, dates and date-times in the account's date format
(``M/D/YYYY``, the US default, e.g. ``"11/7/2026"``). NULL columns are left out of the row.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

SINGULAR = "application/vnd.oracle.resource+json; type=singular"
COLLECTION = "application/vnd.oracle.resource+json; type=collection"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return rest_number(value)
    if isinstance(value, dt.datetime):
        return rest_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(body: Any) -> bytes:
    """JSON for a response body; Decimals become numbers, dates ISO strings."""
    return json.dumps(body, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


def rest_number(value: Decimal) -> int | float:
    """A Decimal as the JSON number the record API shows (1500, 1234.5)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def rest_datetime(value: dt.datetime) -> str:
    utc = value.astimezone(dt.UTC) if value.tzinfo else value
    return utc.strftime("%Y-%m-%dT%H:%M:00Z")


def suiteql_number(value: int | Decimal) -> str:
    if isinstance(value, int):
        return str(value)
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text.startswith("0."):
        text = text[1:]
    elif text.startswith("-0."):
        text = "-" + text[2:]
    return "0" if text in ("", "-0") else text


def suiteql_date(value: dt.date) -> str:
    return f"{value.month}/{value.day}/{value.year}"


def suiteql_value(value: Any) -> str | None:
    """One SuiteQL result value as NetSuite renders it; None stays None (and is dropped)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int | Decimal):
        return suiteql_number(value)
    if isinstance(value, float):
        return suiteql_number(Decimal(repr(value)))
    if isinstance(value, dt.datetime):
        return suiteql_date(value.date())
    if isinstance(value, dt.date):
        return suiteql_date(value)
    return str(value)
