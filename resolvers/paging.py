"""Relay-style paging: opaque cursors, page-size bounds, and slicing of loaded lists.

A cursor is the base64url text of ``<kind>[.<scope>]:<value>``. The kind names the ordering
the page was taken in (``e`` ERP internal id, ``k`` cross-reference key, ``i`` position in a
list loaded whole); the scope is a digest of the list and its filters (`cursor_scope`). A
cursor from another list, from the same list under other filters, or a tampered one, is
refused as bad input: a position or a key means nothing in another list, and a page taken
after it would silently skip or repeat nodes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
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


def cursor_scope(*parts: object) -> str:
    """The scope of a list's cursors: a digest of what the list is (its field, its owner, its
    filters), so that a cursor is only accepted where it was given."""
    return hashlib.sha256("\x1f".join(map(repr, parts)).encode()).hexdigest()[:12]


def encode_cursor(kind: str, value: str, scope: str = "") -> str:
    head = f"{kind}.{scope}" if scope else kind
    return base64.urlsafe_b64encode(f"{head}:{value}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, kinds: str, scope: str = "") -> tuple[str, str] | None:
    """``(kind, value)`` of a cursor whose kind is one of ``kinds`` and whose scope is
    ``scope``; None for no cursor."""
    if cursor is None:
        return None
    refused = BadInputError(f"{cursor!r} is not a cursor of this list", argument="after")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise refused from None
    head, _, value = text.partition(":")
    kind, _, given_scope = head.partition(".")
    if len(kind) != 1 or kind not in kinds or given_scope != scope or not value:
        raise refused
    return kind, value


@dataclass(frozen=True)
class Slice(Generic[T]):
    items: list[tuple[str, T]]  # (cursor, item)
    has_next: bool
    has_previous: bool
    total: int | None


def slice_loaded(
    items: Sequence[T], first: int | None, after: str | None, scope: str = ""
) -> Slice[T]:
    """A page of a list already loaded whole (a customer's orders, say); ``scope`` names the
    list (see `cursor_scope`)."""
    size = page_size(first)
    start = 0
    decoded = decode_cursor(after, "i", scope)
    if decoded is not None:
        if not decoded[1].isdigit():
            raise BadInputError(f"{after!r} is not a cursor of this list", argument="after")
        start = int(decoded[1]) + 1
    chosen = items[start : start + size]
    return Slice(
        items=[
            (encode_cursor("i", str(start + offset), scope), item)
            for offset, item in enumerate(chosen)
        ],
        has_next=start + size < len(items),
        has_previous=start > 0,
        total=len(items),
    )
