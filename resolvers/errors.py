"""GraphQL errors of the read path.

A source failure nulls only the fields that source owns: each such field gets an error whose
``extensions`` carry the ``code`` (SOURCE_UNAVAILABLE, SOURCE_TIMEOUT, ...) and the
``source``, while the other system's fields still arrive. Bad input (a malformed id, an
out-of-range page size) is a `BadInputError` with code BAD_USER_INPUT.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from sources.errors import SourceError

_VERBS = {
    "SOURCE_UNAVAILABLE": "is unavailable",
    "SOURCE_TIMEOUT": "did not answer in time",
    "SOURCE_RATE_LIMITED": "refused the call for load",
    "SOURCE_AUTH": "refused Accord's credentials",
    "SOURCE_FORBIDDEN": "refused the operation",
    "SOURCE_BAD_RESPONSE": "answered something Accord cannot read",
    "NOT_SUPPORTED": "cannot do this",
}


class SourceFieldError(GraphQLError):
    """A field is null because the system that owns it failed."""

    @classmethod
    def from_source_error(cls, error: SourceError) -> SourceFieldError:
        verb = _VERBS.get(error.code, "failed")
        extensions: dict[str, Any] = {"code": error.code, "source": error.source}
        if error.upstream_code:
            extensions["upstreamCode"] = error.upstream_code
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float):
            extensions["retryAfter"] = round(float(retry_after), 3)
        return cls(
            f"{error.source} {verb}: {error.message}", extensions=extensions, original_error=error
        )


class BadInputError(GraphQLError):
    def __init__(self, message: str, *, argument: str | None = None) -> None:
        extensions: dict[str, Any] = {"code": "BAD_USER_INPUT"}
        if argument:
            extensions["argument"] = argument
        super().__init__(message, extensions=extensions)
