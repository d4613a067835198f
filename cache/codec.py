"""An exact JSON codec for the canonical records of `sources.records`, for the Redis level.

Each record is a JSON object of its fields; values are written so that decoding gives back an
equal record of the same types:

===========================  ==========================================================
field type                   JSON
===========================  ==========================================================
``str``, ``int``, ``bool``   as is
``Decimal``                  a string, exponent kept: ``"68000.00"``, ``"1E+3"``
``datetime.date``            ISO 8601 string ``"2024-03-31"``
``datetime.datetime``        ISO 8601 string with its offset, if it has one
an enum                      its value
a record                     a nested object
``tuple[X, ...]``            a list, read back as a tuple
``X | None``                 null or X
===========================  ==========================================================

Decoding is strict: a missing or unexpected field, or a value of the wrong JSON type, raises
`CodecError` (the cache then treats the entry as absent). `shape` digests a record type's field
names and types, nested records included, so that cache keys change whenever a record does and
an entry written by older code is never read as a newer record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import types
import typing
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

__all__ = ["CODEC_VERSION", "CodecError", "decode", "decode_list", "encode", "shape"]

CODEC_VERSION = 1
"""Bump when the JSON spelling of a type changes; it is part of every cache key."""

T = TypeVar("T")
_Convert = Callable[[Any], Any]


class CodecError(ValueError):
    """Stored JSON that does not decode to the record type asked for."""


def encode(value: Any) -> Any:
    """A record (or a list of records) as JSON-ready data."""
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    return _encoder(type(value))(value)


def decode(kind: type[T], data: Any) -> T:
    """The record of type ``kind`` that ``data`` (from `encode`) describes."""
    result: T = _decoder(kind)(data)
    return result


def decode_list(kind: type[T], data: Any) -> list[T]:
    if not isinstance(data, list):
        raise CodecError(f"expected a list of {kind.__name__}, got {type(data).__name__}")
    convert = _decoder(kind)
    return [convert(item) for item in data]


def shape(kind: type) -> str:
    """A short digest of ``kind``'s fields and their types, nested records included."""
    found = _shapes.get(kind)
    if found is None:
        found = hashlib.sha256(_describe(kind).encode()).hexdigest()[:8]
        _shapes[kind] = found
    return found


# --------------------------------------------------------------------------- compilation

_encoders: dict[type, _Convert] = {}
_decoders: dict[type, _Convert] = {}
_shapes: dict[type, str] = {}


def _hints(kind: type) -> list[tuple[str, Any]]:
    if not dataclasses.is_dataclass(kind):
        raise TypeError(f"{kind!r} is not a record type")
    hints = typing.get_type_hints(kind)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(kind)]


def _encoder(kind: type) -> _Convert:
    found = _encoders.get(kind)
    if found is None:
        parts = [(name, _encode_hint(hint)) for name, hint in _hints(kind)]

        def found(value: Any) -> Any:
            return {name: convert(getattr(value, name)) for name, convert in parts}

        _encoders[kind] = found
    return found


def _decoder(kind: type) -> _Convert:
    found = _decoders.get(kind)
    if found is None:
        parts = [
            (name, _decode_hint(hint, f"{kind.__name__}.{name}")) for name, hint in _hints(kind)
        ]
        names = {name for name, _ in parts}

        def found(data: Any) -> Any:
            if not isinstance(data, dict):
                raise CodecError(f"expected a {kind.__name__} object, got {type(data).__name__}")
            if data.keys() != names:
                missing = sorted(names - data.keys())
                extra = sorted(data.keys() - names)
                problems = [f"missing {missing}"] if missing else []
                problems += [f"unexpected {extra}"] if extra else []
                raise CodecError(f"{kind.__name__}: {', '.join(problems)}")
            return kind(**{name: convert(data[name]) for name, convert in parts})

        _decoders[kind] = found
    return found


def _optional(hint: Any) -> Any | None:
    """X for ``X | None``, else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0]
        raise TypeError(f"unsupported union {hint!r}")
    return None


def _tuple_item(hint: Any) -> Any | None:
    """X for ``tuple[X, ...]``, else None."""
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        raise TypeError(f"unsupported tuple {hint!r}")
    return None


def _identity(value: Any) -> Any:
    return value


def _encode_hint(hint: Any) -> _Convert:
    inner = _optional(hint)
    if inner is not None:
        convert = _encode_hint(inner)
        return lambda value: None if value is None else convert(value)
    item = _tuple_item(hint)
    if item is not None:
        each = _encode_hint(item)
        return lambda value: [each(element) for element in value]
    if hint in (str, int, bool):
        return _identity
    if hint is Decimal:
        return str
    if hint in (dt.date, dt.datetime):
        return lambda value: value.isoformat()
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda value: value.value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return lambda value: _encoder(hint)(value)
    raise TypeError(f"no JSON spelling for {hint!r}")


def _decode_hint(hint: Any, where: str) -> _Convert:
    inner = _optional(hint)
    if inner is not None:
        convert = _decode_hint(inner, where)
        return lambda data: None if data is None else convert(data)
    item = _tuple_item(hint)
    if item is not None:
        each = _decode_hint(item, where)

        def sequence(data: Any) -> Any:
            _expect(data, list, where)
            return tuple(each(element) for element in data)

        return sequence
    if hint is bool:
        return lambda data: _expect(data, bool, where)
    if hint is int:

        def integer(data: Any) -> Any:
            if type(data) is not int:
                raise CodecError(f"{where}: expected an integer, got {data!r}")
            return data

        return integer
    if hint is str:
        return lambda data: _expect(data, str, where)
    if hint is Decimal:

        def decimal(data: Any) -> Any:
            try:
                return Decimal(_expect(data, str, where))
            except InvalidOperation:
                raise CodecError(f"{where}: {data!r} is not a decimal") from None

        return decimal
    if hint is dt.datetime:
        return lambda data: _iso(dt.datetime, data, where)
    if hint is dt.date:
        return lambda data: _iso(dt.date, data, where)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):

        def member(data: Any) -> Any:
            try:
                return hint(data)
            except ValueError:
                raise CodecError(f"{where}: {data!r} is not a {hint.__name__}") from None

        return member
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return lambda data: _decoder(hint)(data)
    raise TypeError(f"no JSON spelling for {hint!r}")


def _expect(data: Any, kind: type, where: str) -> Any:
    if not isinstance(data, kind):
        raise CodecError(f"{where}: expected {kind.__name__}, got {data!r}")
    return data


def _iso(kind: type[dt.date], data: Any, where: str) -> Any:
    text = _expect(data, str, where)
    try:
        value = kind.fromisoformat(text)
    except ValueError:
        raise CodecError(f"{where}: {text!r} is not an ISO {kind.__name__}") from None
    if kind is dt.date and isinstance(value, dt.datetime):
        raise CodecError(f"{where}: {text!r} is a datetime, not a date")
    return value


def _describe(hint: Any, seen: frozenset[type] = frozenset()) -> str:
    inner = _optional(hint)
    if inner is not None:
        return f"?{_describe(inner, seen)}"
    item = _tuple_item(hint)
    if item is not None:
        return f"[{_describe(item, seen)}]"
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if hint in seen:
            return hint.__name__
        fields = ",".join(
            f"{name}:{_describe(field, seen | {hint})}" for name, field in _hints(hint)
        )
        return f"{hint.__name__}{{{fields}}}"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return f"{hint.__name__}({'|'.join(str(member.value) for member in hint)})"
    if isinstance(hint, type):
        return hint.__name__
    raise TypeError(f"no JSON spelling for {hint!r}")
