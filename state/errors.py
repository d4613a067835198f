"""Errors from the shared-state layer.

Hierarchy::

    StateError
    ├── StateUnavailable          the backend cannot be reached (Redis refused, reset, timed out)
    ├── StateValueError           a stored value does not fit the operation (incr on a non-integer)
    └── IdempotencyError
        ├── IdempotencyTimeout    waited too long while another caller ran the same key
        └── IdempotencyClaimLost  complete() after the claim passed to another caller

Values that are not JSON raise the standard ``TypeError`` (not serialisable) or ``ValueError``
(NaN, infinities) before anything is stored, as do invalid arguments (a TTL that is not
positive, a malformed log id).
"""

from __future__ import annotations

__all__ = [
    "IdempotencyClaimLost",
    "IdempotencyError",
    "IdempotencyTimeout",
    "StateError",
    "StateUnavailable",
    "StateValueError",
]


class StateError(Exception):
    """Base of every shared-state failure."""


class StateUnavailable(StateError):
    """The state backend cannot be reached; nothing can be assumed about the last operation."""


class StateValueError(StateError):
    """A stored value does not fit the operation asked of it."""


class IdempotencyError(StateError):
    """Base of idempotency-store failures."""

    def __init__(self, message: str, *, scope: str, key: str) -> None:
        super().__init__(message)
        self.scope = scope
        self.key = key


class IdempotencyTimeout(IdempotencyError):
    """Another caller kept running the same (scope, key) for longer than this caller would wait."""


class IdempotencyClaimLost(IdempotencyError):
    """The caller's claim expired and another caller took the key over; its result was not kept."""
