"""Errors from upstream systems: one tree that every vendor failure maps into.

Adapters translate their vendor's failures (HTTP statuses, Salesforce ``errorCode``s, NetSuite
``o:errorCode``s, connection errors) into these classes, so that the resilience layer can decide
what to retry and what trips the circuit breaker, and the GraphQL layer can null a source's
fields with ``extensions.code`` = ``error.code`` and ``extensions.source`` = ``error.source``.

Hierarchy (``code``; ``retryable``: whether repeating the same call soon may succeed)::

    SourceError                   SOURCE_ERROR
    ├── SourceUnavailable         SOURCE_UNAVAILABLE   retryable   refused/reset, 5xx, outage
    │   └── CircuitOpen           SOURCE_UNAVAILABLE   no          failed fast: breaker open
    ├── SourceTimeout             SOURCE_TIMEOUT       retryable   no answer in time
    ├── SourceRateLimited         SOURCE_RATE_LIMITED  retryable*  429, concurrency limits
    ├── SourceAuthError           SOURCE_AUTH          no          401 a refresh did not cure
    ├── SourceForbidden           SOURCE_FORBIDDEN     no          403 other than limits
    ├── RecordNotFound            NOT_FOUND            no          no such record
    ├── SourceValidationError     SOURCE_VALIDATION    no          the source refused input
    │   └── SourceWarning         SOURCE_WARNING       no          goes on only once confirmed
    ├── SourceConflict            SOURCE_CONFLICT      no          several matches, key reuse
    ├── SourceNotSupported        NOT_SUPPORTED        no          the system cannot do this
    └── SourceProtocolError       SOURCE_BAD_RESPONSE  no          unparseable/unexpected body

    * a spent daily allowance (Salesforce 403 REQUEST_LIMIT_EXCEEDED) is raised with
      ``retryable=False``: waiting seconds will not bring it back.

Every error carries the ``source`` it came from ("salesforce", "netsuite", ...), the upstream
HTTP ``status`` and vendor ``upstream_code`` when there were any, and ``details``: an excerpt of
the vendor's body, cut to `DETAILS_LIMIT` characters so a huge error page cannot bloat logs.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import ClassVar

__all__ = [
    "DETAILS_LIMIT",
    "CircuitOpen",
    "FieldProblem",
    "RecordNotFound",
    "SourceAuthError",
    "SourceConflict",
    "SourceError",
    "SourceForbidden",
    "SourceNotSupported",
    "SourceProtocolError",
    "SourceRateLimited",
    "SourceTimeout",
    "SourceUnavailable",
    "SourceValidationError",
    "SourceWarning",
    "parse_retry_after",
]

DETAILS_LIMIT = 2000
"""Most characters of a vendor body kept in `SourceError.details`."""


def _excerpt(details: str | bytes | None) -> str | None:
    if details is None:
        return None
    text = details.decode("utf-8", errors="replace") if isinstance(details, bytes) else details
    if len(text) <= DETAILS_LIMIT:
        return text
    return text[: DETAILS_LIMIT - 1] + "…"


class SourceError(Exception):
    """A call to an upstream system failed; ``code`` is the GraphQL ``extensions.code``."""

    code: ClassVar[str] = "SOURCE_ERROR"
    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        source: str,
        message: str,
        *,
        status: int | None = None,
        upstream_code: str | None = None,
        details: str | bytes | None = None,
        retryable: bool | None = None,
    ) -> None:
        # Only (source, message) go to args: pickling rebuilds the error as cls(*args) and then
        # restores the keyword attributes from __dict__.
        super().__init__(source, message)
        self.source = source
        self.message = message
        self.status = status
        self.upstream_code = upstream_code
        self.details = _excerpt(details)
        self.retryable = self.default_retryable if retryable is None else retryable

    def __str__(self) -> str:
        facts = [f"HTTP {self.status}"] if self.status is not None else []
        if self.upstream_code:
            facts.append(self.upstream_code)
        suffix = f" ({' '.join(facts)})" if facts else ""
        return f"{self.source}: {self.message}{suffix}"


class SourceUnavailable(SourceError):
    """The source could not be reached or answered 5xx: connection refused or reset, outage."""

    code = "SOURCE_UNAVAILABLE"
    default_retryable = True


class CircuitOpen(SourceUnavailable):
    """The breaker for the source is open, so the call failed without reaching it.

    ``retry_after`` is how many seconds remain until the breaker lets a trial call through,
    or None while trial calls are already in progress.
    """

    default_retryable = False

    def __init__(self, source: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(source, message)
        self.retry_after = retry_after


class SourceTimeout(SourceError):
    """The source gave no answer within the time allowed for one attempt."""

    code = "SOURCE_TIMEOUT"
    default_retryable = True


class SourceRateLimited(SourceError):
    """The source refused the call for load: 429, a concurrency limit, or a spent allowance.

    ``retry_after`` is the wait in seconds the source asked for (``Retry-After``), if any.
    Concurrency rejections are retryable; pass ``retryable=False`` for a spent daily allowance.
    """

    code = "SOURCE_RATE_LIMITED"
    default_retryable = True

    def __init__(
        self,
        source: str,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        upstream_code: str | None = None,
        details: str | bytes | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(
            source,
            message,
            status=status,
            upstream_code=upstream_code,
            details=details,
            retryable=retryable,
        )
        self.retry_after = retry_after


class SourceAuthError(SourceError):
    """The source refused our credentials, and refreshing the token did not help."""

    code = "SOURCE_AUTH"


class SourceForbidden(SourceError):
    """The source understood who we are and refused the operation (403 other than limits)."""

    code = "SOURCE_FORBIDDEN"


class RecordNotFound(SourceError):
    """The record asked for does not exist in the source (a healthy answer)."""

    code = "NOT_FOUND"


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One reason the source refused input: the field (None for the whole record), the
    vendor's code for it (e.g. ``REQUIRED_FIELD_MISSING``) and its message."""

    field: str | None
    code: str
    message: str


class SourceValidationError(SourceError):
    """The source refused the input; ``problems`` lists why, field by field."""

    code = "SOURCE_VALIDATION"

    def __init__(
        self,
        source: str,
        message: str,
        *,
        problems: Iterable[FieldProblem] = (),
        status: int | None = None,
        upstream_code: str | None = None,
        details: str | bytes | None = None,
    ) -> None:
        super().__init__(
            source, message, status=status, upstream_code=upstream_code, details=details
        )
        self.problems: tuple[FieldProblem, ...] = tuple(problems)


class SourceWarning(SourceValidationError):
    """The source stopped to ask for confirmation (Tryton's ``UserWarning``, e.g. a sale over
    the customer's credit limit): nothing was written. ``warning`` names what to confirm; a
    workflow can ask a person for approval and, once given, confirm that name to the source
    and repeat the call."""

    code = "SOURCE_WARNING"

    def __init__(
        self,
        source: str,
        message: str,
        *,
        warning: str = "",
        problems: Iterable[FieldProblem] = (),
        status: int | None = None,
        upstream_code: str | None = None,
        details: str | bytes | None = None,
    ) -> None:
        super().__init__(
            source,
            message,
            problems=problems,
            status=status,
            upstream_code=upstream_code,
            details=details,
        )
        self.warning = warning


class SourceConflict(SourceError):
    """The call clashes with the source's state: several records match an upsert's external
    id, or an idempotency key was reused for a different request."""

    code = "SOURCE_CONFLICT"


class SourceNotSupported(SourceError):
    """The system cannot do what was asked at all (an ERP capability it lacks, e.g. deleting
    an order it has processed): nothing was written, and repeating will not help.
    ``capability`` names what is missing (`sources.ports.ErpCapability`)."""

    code = "NOT_SUPPORTED"

    def __init__(self, source: str, message: str, *, capability: str = "") -> None:
        super().__init__(source, message)
        self.capability = capability


class SourceProtocolError(SourceError):
    """The source answered something we cannot use: unparseable, or not the documented shape."""

    code = "SOURCE_BAD_RESPONSE"


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date.

    None when the header is absent or malformed; a date in the past gives 0.0. ``now`` (aware)
    defaults to the current UTC time.
    """
    if value is None or not (text := value.strip()):
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP-dates are always GMT
        when = when.replace(tzinfo=dt.UTC)
    current = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - current).total_seconds())
