"""Relay-style paging: opaque cursors, page-size bounds, and slicing of loaded lists.

A cursor is the base64url text of ``<kind>:<value>``, where the kind names the ordering the
page was taken in (``e`` ERP internal id, ``k`` cross-reference key, ``i`` position in a list
loaded whole). A cursor from another list, or a tampered one, is refused as bad input.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from resolvers.errors import BadInputError

T = TypeVar("T")

DEFAULT_PAGE = 50
MAX_PAGE = 500


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise BadInputError(
            f"first must be between 0 and {MAX_PAGE}; got {first}", argument="first"
        )
    return first


def encode_cursor(kind: str, value: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, kinds: str) -> tuple[str, str] | None:
    """``(kind, value)`` of a cursor whose kind is one of ``kinds``; None for no cursor."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadInputError(f"{cursor!r} is not a cursor of this list", argument="after") from None
    kind, _, value = text.partition(":")
    if kind not in kinds or not value:
        raise BadInputError(f"{cursor!r} is not a cursor of this list", argument="after")
    return kind, value


@dataclass(frozen=True)
class Slice(Generic[T]):
    items: list[tuple[str, T]]  # (cursor, item)
    has_next: bool
    has_previous: bool
    total: int | None


def slice_loaded(items: Sequence[T], first: int | None, after: str | None) -> Slice[T]:
    """A page of a list already loaded whole (a customer's orders, say)."""
    size = page_size(first)
    start = 0
    decoded = decode_cursor(after, "i")
    if decoded is not None:
        if not decoded[1].isdigit():
            raise BadInputError(f"{after!r} is not a cursor of this list", argument="after")
        start = int(decoded[1]) + 1
    chosen = items[start : start + size]
    return Slice(
        items=[
            (encode_cursor("i", str(start + offset)), item) for offset, item in enumerate(chosen)
        ],
        has_next=start + size < len(items),
        has_previous=start > 0,
        total=len(items),
    )
