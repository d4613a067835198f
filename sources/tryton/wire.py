"""Tryton's JSON-RPC values: how decimals, dates, times, durations and bytes travel.

JSON has no decimal, date or binary type, so Tryton writes such values as objects tagged with
``__class__``::

    {"__class__": "Decimal", "decimal": "1500.00"}
    {"__class__": "date", "year": 2026, "month": 12, "day": 5}
    {"__class__": "datetime", "year": …, "month", "day", "hour", "minute", "second", "microsecond"}
    {"__class__": "time", "hour", "minute", "second", "microsecond"}
    {"__class__": "timedelta", "seconds": 86400.0}
    {"__class__": "bytes", "base64": "…"}

`dumps` writes Python values that way and `loads` reads them back. Tryton's timestamps are
naive UTC: an aware datetime is sent in UTC, and datetimes come back aware, in UTC. An object
with an unknown ``__class__`` is left as it is; a known one with missing or wrong parts is
refused with `ValueError`, never read as something else.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["decode_object", "dumps", "encode", "loads"]


def encode(value: Any) -> Any:
    """The JSON form of one value `json` cannot write itself (its ``default`` hook)."""
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, dt.time):
        return {
            "__class__": "time",
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.timedelta):
        return {"__class__": "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, bytes | bytearray):
        return {"__class__": "bytes", "base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot be sent to Tryton")


def _int(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"a {obj.get('__class__')} value needs an integer {key!r}")
    return value


def _decimal(obj: dict[str, Any]) -> Decimal:
    text = obj.get("decimal")
    if not isinstance(text, str | int):
        raise ValueError("a Decimal value needs its digits in 'decimal'")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a finite decimal number")
    return value


def _datetime(obj: dict[str, Any]) -> dt.datetime:
    return dt.datetime(
        _int(obj, "year"),
        _int(obj, "month"),
        _int(obj, "day"),
        _int(obj, "hour"),
        _int(obj, "minute"),
        _int(obj, "second"),
        _int(obj, "microsecond"),
        tzinfo=dt.UTC,
    )


def _time(obj: dict[str, Any]) -> dt.time:
    return dt.time(
        _int(obj, "hour"), _int(obj, "minute"), _int(obj, "second"), _int(obj, "microsecond")
    )


def _timedelta(obj: dict[str, Any]) -> dt.timedelta:
    seconds = obj.get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        raise ValueError("a timedelta value needs a number of 'seconds'")
    return dt.timedelta(seconds=seconds)


def _bytes(obj: dict[str, Any]) -> bytes:
    text = obj.get("base64")
    if not isinstance(text, str):
        raise ValueError("a bytes value needs 'base64' text")
    try:
        return base64.b64decode(text, validate=False)
    except binascii.Error:
        raise ValueError("a bytes value's 'base64' is not base64") from None


_DECODERS = {
    "Decimal": _decimal,
    "date": lambda obj: dt.date(_int(obj, "year"), _int(obj, "month"), _int(obj, "day")),
    "datetime": _datetime,
    "time": _time,
    "timedelta": _timedelta,
    "bytes": _bytes,
}


def decode_object(obj: dict[str, Any]) -> Any:
    """One JSON object as Tryton meant it (the ``object_hook`` of `loads`)."""
    decoder = _DECODERS.get(obj.get("__class__"))  # type: ignore[arg-type]
    if decoder is None:
        return obj
    try:
        return decoder(obj)
    except (TypeError, OverflowError) as exc:  # e.g. month 13 or a year past 9999
        raise ValueError(f"not a valid {obj['__class__']} value: {exc}") from None


def dumps(payload: Any) -> bytes:
    """A JSON-RPC body with Tryton's tagged values."""
    return json.dumps(payload, default=encode, separators=(",", ":")).encode("utf-8")


def loads(text: str | bytes) -> Any:
    """A JSON-RPC answer with Tryton's tagged values read back; `ValueError` when malformed."""
    try:
        return json.loads(text, object_hook=decode_object, parse_float=float)
    except RecursionError:
        raise ValueError("the JSON nests too deeply") from None
