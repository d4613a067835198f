"""Salesforce record ids: 15 case-sensitive characters plus a 3-character checksum.

The checksum makes an id safe to compare case-insensitively: for each 5-character chunk of the
15-character id, bit i is set when character i is an upper-case letter, and the 5-bit value
indexes ``ABCDEFGHIJKLMNOPQRSTUVWXYZ012345``. The first three characters are the key prefix
of the object (001 Account, 006 Opportunity, ...).
"""

from __future__ import annotations

import string

_CHECKSUM_ALPHABET = string.ascii_uppercase + "012345"
_ID_CHARS = frozenset(string.ascii_letters + string.digits)
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


class MalformedId(ValueError):
    """Not 15 or 18 letters and digits."""


class ChecksumMismatch(ValueError):
    """18 letters and digits whose last three are not the checksum of the first fifteen: a
    mistyped or altered id."""


def checksum(id15: str) -> str:
    """The 3-character suffix that turns a 15-character id into its 18-character form."""
    suffix = []
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_CHECKSUM_ALPHABET[bits])
    return "".join(suffix)


def to18(record_id: str) -> str:
    """Normalise a 15- or 18-character id to 18 characters; `MalformedId` or
    `ChecksumMismatch` (both ValueError) if it is not one."""
    if len(record_id) not in (15, 18) or not set(record_id) <= _ID_CHARS:
        raise MalformedId(f"malformed Salesforce id: {record_id!r}")
    id15 = record_id[:15]
    expected = checksum(id15)
    if len(record_id) == 18 and record_id[15:].upper() != expected:
        raise ChecksumMismatch(
            f"Salesforce id checksum mismatch: {record_id!r} (expected {id15 + expected})"
        )
    return id15 + expected


def is_valid(record_id: str) -> bool:
    try:
        to18(record_id)
    except ValueError:
        return False
    return True


def make(prefix: str, number: int, *, pod: str = "5g") -> str:
    """A deterministic 18-character id: key prefix, 2-character pod, 10-character counter."""
    if len(prefix) != 3 or len(pod) != 2:
        raise ValueError("a key prefix has 3 characters and a pod 2")
    digits = []
    for _ in range(10):
        number, remainder = divmod(number, 62)
        digits.append(_BASE62[remainder])
    if number:
        raise ValueError("counter too large for a Salesforce id")
    id15 = prefix + pod + "".join(reversed(digits))
    return id15 + checksum(id15)
