"""What every backend shares: canonical JSON for values, and the checks on arguments.

Values are stored as canonical JSON (sorted keys, no spaces, UTF-8, no NaN), so that two equal
values have one spelling: `compare_and_set` compares spellings, which makes it the same
operation in memory and in a Redis script. A consequence worth knowing: ``1`` and ``1.0`` are
different values, as are ``True`` and ``1``; tuples are stored as, and read back as, lists.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from state.errors import StateValueError

__all__ = [
    "DEFAULT_PREFIX",
    "INT64_MAX",
    "INT64_MIN",
    "LogId",
    "check_limit",
    "check_max_length",
    "check_owner",
    "check_score",
    "check_ttl",
    "decode",
    "encode",
    "parse_log_id",
    "ttl_ms",
]

DEFAULT_PREFIX = "accord:"
"""What a backend puts in front of every key it writes, unless told otherwise."""

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""Counters are signed 64-bit integers, as in Redis."""

LogId = tuple[int, int]
"""A log entry id as (milliseconds, sequence); spelled ``"<ms>-<seq>"``."""

_LOG_ID = re.compile(r"(\d{1,20})-(\d{1,20})")
_UINT64_MAX = 2**64 - 1


def encode(value: Any) -> str:
    """The canonical JSON spelling of `value`; ``TypeError``/``ValueError`` if it is not JSON."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def decode(text: str, *, where: str) -> Any:
    """The value behind a stored spelling; `where` names the key in the error."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StateValueError(f"{where} does not hold JSON: {exc}") from exc


def decode_value(key: str, text: str | None) -> Any | None:
    """The value read back from `key`'s stored spelling; None for an absent key."""
    return None if text is None else decode(text, where=f"key {key!r}")


def check_ttl(ttl: float | None) -> None:
    """A TTL is a positive, finite number of seconds, or None for no expiry."""
    if ttl is not None and not (math.isfinite(ttl) and ttl > 0):
        raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")


def ttl_ms(ttl: float) -> int:
    """Seconds to whole milliseconds (Redis PX), never rounding a positive TTL down to zero."""
    return max(1, math.ceil(ttl * 1000))


def check_score(score: float) -> float:
    """Index scores are finite floats; -0.0 is folded into 0.0 so both backends order alike."""
    value = float(score)
    if not math.isfinite(value):
        raise ValueError(f"index scores must be finite, not {score!r}")
    return value + 0.0


def check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must not be negative, not {limit!r}")


def check_max_length(max_length: int | None) -> None:
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be at least 1, not {max_length!r}")


def check_owner(owner: str) -> None:
    if not owner:
        raise ValueError("a lease owner must be a non-empty string")


def parse_log_id(text: str) -> LogId:
    """``"<ms>-<seq>"`` as a pair of integers; ``ValueError`` for anything else."""
    match = _LOG_ID.fullmatch(text)
    if match is None:
        raise ValueError(f"a log entry id looks like '<ms>-<seq>', not {text!r}")
    ms, seq = int(match.group(1)), int(match.group(2))
    if ms > _UINT64_MAX or seq > _UINT64_MAX:
        raise ValueError(f"log entry id {text!r} is out of range")
    return ms, seq
