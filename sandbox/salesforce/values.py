"""Field values between JSON and the store.

Stored values are Python natives: ``str``, ``bool``, ``Decimal`` for every number, ``date``,
and timezone-aware UTC ``datetime``. On the wire numbers are JSON numbers (``int`` fields as
integers), dates ``YYYY-MM-DD`` and datetimes ``2024-01-15T09:30:00.000+0000``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.schema import FieldDef

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)


def format_datetime(value: dt.datetime) -> str:
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def to_json(field: FieldDef, value: Any) -> Any:
    """The JSON form of a stored value of ``field``."""
    if value is None:
        return None
    if isinstance(value, bool | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if field.type == "int" else float(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return value
    return value


def _token(raw: Any) -> str:
    if isinstance(raw, list):
        return "START_ARRAY"
    if isinstance(raw, dict):
        return "START_OBJECT"
    if isinstance(raw, bool):
        return "VALUE_TRUE" if raw else "VALUE_FALSE"
    if isinstance(raw, (int, Decimal, float)):
        return "VALUE_NUMBER_INT" if isinstance(raw, int) else "VALUE_NUMBER_FLOAT"
    return "VALUE_STRING"


def _parse_error(field: FieldDef, raw: Any, type_name: str) -> ApiError:
    shown = "[" if isinstance(raw, list) else "{" if isinstance(raw, dict) else raw
    return ApiError(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {type_name} from {_token(raw)} value {shown} "
        f"or request may be missing a required field",
    )


_TYPE_NAMES = {
    "boolean": "boolean",
    "currency": "currency",
    "double": "double",
    "percent": "percent",
    "int": "int",
    "date": "date",
    "datetime": "datetime",
    "id": "reference",
    "reference": "reference",
}


def from_json(field: FieldDef, raw: Any) -> Any:
    """The stored value for a JSON value written to ``field``, or a JSON_PARSER_ERROR."""
    if raw is None:
        return None
    kind = field.type
    type_name = _TYPE_NAMES.get(kind, "string")
    if isinstance(raw, (list, dict)):
        raise _parse_error(field, raw, type_name)
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise _parse_error(field, raw, type_name)
    if kind in ("currency", "double", "percent", "int"):
        if isinstance(raw, bool):
            raise _parse_error(field, raw, type_name)
        try:
            number = Decimal(str(raw).strip()) if isinstance(raw, str) else Decimal(str(raw))
        except InvalidOperation:
            raise _parse_error(field, raw, type_name) from None
        if not number.is_finite():
            raise _parse_error(field, raw, type_name)
        if kind == "int" and number != number.to_integral_value():
            raise _parse_error(field, raw, type_name)
        return number
    if kind == "date":
        if not isinstance(raw, str):
            raise _parse_error(field, raw, type_name)
        try:
            if _DATE.fullmatch(raw):
                return dt.date.fromisoformat(raw)
            return _date_of(raw)
        except ValueError:
            raise _parse_error(field, raw, type_name) from None
    if kind == "datetime":
        if not isinstance(raw, str):
            raise _parse_error(field, raw, type_name)
        parsed = parse_datetime(raw)
        if parsed is None:
            raise _parse_error(field, raw, type_name)
        return parsed
    # text, picklist, id and reference fields take strings; JSON scalars read as their text
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (int, Decimal, float)):
        return str(raw)
    if not isinstance(raw, str):
        raise _parse_error(field, raw, type_name)
    return raw


def _date_of(raw: str) -> dt.date:
    parsed = parse_datetime(raw)
    if parsed is None:
        raise ValueError(raw)
    return parsed.date()


def parse_datetime(raw: str) -> dt.datetime | None:
    """An ISO 8601 instant (``Z``, ``+0000`` or ``+00:00``; none means UTC), or None."""
    match = _DATETIME.fullmatch(raw.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    micro = int((match[7] or "0").ljust(6, "0")[:6])
    zone = dt.UTC
    if match[8] and match[8] != "Z":
        sign = -1 if match[8][0] == "-" else 1
        digits = match[8][1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if minutes > 59 or hours > 23:
            return None
        zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    try:
        value = dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError:
        return None
    return value.astimezone(dt.UTC)
