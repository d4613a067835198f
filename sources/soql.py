"""Building SOQL text safely: literal quoting and IN-list chunking under the URI limit.

Salesforce answers a query sent as ``GET …/query/?q=<urlencoded SOQL>``, so a long IN list
must be split into several queries, each whose URI stays under the platform's limit (16,384
bytes for URI and headers together; Accord keeps a margin below it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from urllib.parse import quote_plus

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}

MAX_QUERY_URI = 12_000
"""Most characters of the encoded ``?q=`` query text Accord sends in one request."""


def quote(value: str | int | Decimal | bool | dt.date | None) -> str:
    """A SOQL literal for ``value``; strings are quoted and escaped so they stay one literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return "'" + "".join(_ESCAPES.get(char, char) for char in value) + "'"


def like_contains(text: str) -> str:
    """A LIKE literal matching ``text`` anywhere. SOQL has one level of escapes, in the string
    literal: ``\\%`` and ``\\_`` are a literal percent sign and underscore in a LIKE pattern,
    and ``\\\\`` is a backslash (in a LIKE pattern too)."""
    body = "".join("\\" + char if char in "%_" else _ESCAPES.get(char, char) for char in text)
    return f"'%{body}%'"


def in_chunks(
    template: str, values: Sequence[str], *, max_uri: int = MAX_QUERY_URI
) -> Iterator[str]:
    """Queries from ``template`` (with one ``{in_list}`` placeholder) covering ``values``.

    Each query's URL-encoded text stays under ``max_uri`` characters; duplicates are dropped
    and the order of first appearance kept.
    """
    unique = list(dict.fromkeys(values))
    if not unique:
        return
    base = len(quote_plus(template.replace("{in_list}", "")))
    if base >= max_uri:
        raise ValueError("the query is longer than the URI limit before its IN list")
    chunk: list[str] = []
    size = base
    for value in unique:
        literal = quote(value)
        cost = len(quote_plus(literal)) + len(quote_plus(","))
        if chunk and size + cost > max_uri:
            yield template.replace("{in_list}", ",".join(chunk))
            chunk, size = [], base
        if base + cost > max_uri:
            raise ValueError("one IN value is longer than the URI limit")
        chunk.append(literal)
        size += cost
    yield template.replace("{in_list}", ",".join(chunk))
