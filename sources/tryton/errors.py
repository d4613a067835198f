"""Tryton's failures, mapped into Accord's source error tree (`sources.errors`).

A Tryton server answers a JSON-RPC call with HTTP 200 and ``{"error": [name, args]}`` when the
call itself failed, and with an HTTP status when the request never reached a model:

====================================================  ==========================================
Tryton says                                           Accord raises
====================================================  ==========================================
``["UserError", [message, description, domain]]``     `SourceValidationError`
  … ``AccessError`` ("You are not allowed to …")      `SourceForbidden`
  … a read or write of records that do not exist      `RecordNotFound`
``["UserWarning", [name, message, description]]``     `SourceWarning` (``warning`` = name)
``["ConcurrencyException", message]``                 `SourceConflict`
``["LoginException", [name, message, type]]``         `SourceAuthError` (needs more than a password)
``[text, traceback]`` (a bug on the server)           `SourceError` (the traceback in ``details``)
HTTP 401 (bad password, expired or forged session)    `SourceAuthError`
HTTP 403 (method not exposed over RPC)                `SourceForbidden`
HTTP 404 (no such database)                           `SourceUnavailable`, not retryable
HTTP 429 (too many login attempts)                    `SourceRateLimited`
HTTP 504 (the server's own time limit)                `SourceTimeout`
other HTTP 5xx                                        `SourceUnavailable`
====================================================  ==========================================

Tryton raises an ``AccessError`` as a ``UserError``, so the two differ only in their text; the
client logs in with language ``en`` and the access messages are recognised by their English
opening. Every error keeps Tryton's own message and description in ``details`` for operators.
"""

from __future__ import annotations

from typing import Any

import httpx

from sources.errors import (
    FieldProblem,
    RecordNotFound,
    SourceAuthError,
    SourceConflict,
    SourceError,
    SourceForbidden,
    SourceProtocolError,
    SourceRateLimited,
    SourceTimeout,
    SourceUnavailable,
    SourceValidationError,
    SourceWarning,
    parse_retry_after,
)

__all__ = ["SOURCE", "error_from_answer", "error_from_status"]

SOURCE = "tryton"

# The English openings of Tryton's access errors (ir/message.xml): refused by access rights,
# record rules, read-only fields or button rules.
_ACCESS_OPENINGS = ("You are not allowed to", "Calling button", "You can not call")
# ... and of reads and writes of records that do not exist.
_MISSING_OPENINGS = ("You are trying to read records", "You are trying to write to records")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _details(*parts: str) -> str | None:
    kept = [part for part in parts if part]
    return "\n".join(kept) or None


def _user_error(args: Any) -> SourceError:
    if not isinstance(args, list | tuple) or not args:
        return SourceProtocolError(SOURCE, "a UserError without a message", details=repr(args))
    message = _text(args[0]) or "the request was refused"
    description = _text(args[1]) if len(args) > 1 else ""
    details = _details(message, description)
    if message.startswith(_ACCESS_OPENINGS):
        return SourceForbidden(SOURCE, message, upstream_code="AccessError", details=details)
    if message.startswith(_MISSING_OPENINGS):
        return RecordNotFound(SOURCE, message, upstream_code="AccessError", details=details)
    return SourceValidationError(
        SOURCE,
        message,
        problems=[FieldProblem(None, "UserError", _details(message, description) or message)],
        upstream_code="UserError",
        details=details,
    )


def _user_warning(args: Any) -> SourceError:
    if not isinstance(args, list | tuple) or len(args) < 2 or not isinstance(args[0], str):
        return SourceProtocolError(SOURCE, "a UserWarning without a name", details=repr(args))
    name, message = args[0], _text(args[1]) or "the server asks for confirmation"
    description = _text(args[2]) if len(args) > 2 else ""
    return SourceWarning(
        SOURCE,
        message,
        warning=name,
        problems=[FieldProblem(None, "UserWarning", message)],
        upstream_code="UserWarning",
        details=_details(name, message, description),
    )


def error_from_answer(error: Any) -> SourceError:
    """The `SourceError` for the ``error`` member of a JSON-RPC answer."""
    if not isinstance(error, list | tuple) or not error or not isinstance(error[0], str):
        return SourceProtocolError(SOURCE, "an error answer of unknown shape", details=repr(error))
    kind, args = error[0], error[1] if len(error) > 1 else None
    if kind == "UserError":
        return _user_error(args)
    if kind == "UserWarning":
        return _user_warning(args)
    if kind == "ConcurrencyException":
        message = _text(args) or "the record was changed by someone else"
        return SourceConflict(
            SOURCE, message, upstream_code="ConcurrencyException", details=message
        )
    if kind == "LoginException":
        asked = _text(args[0]) if isinstance(args, list | tuple) and args else ""
        return SourceAuthError(
            SOURCE,
            f"the server asks for more than a password to log in ({asked or 'unknown'})",
            upstream_code="LoginException",
            details=repr(args),
        )
    # Anything else is an exception Tryton did not expect: its text and the server's traceback.
    return SourceError(
        SOURCE,
        f"the server failed: {kind.splitlines()[0][:200]}",
        upstream_code="ServerError",
        details=_details(kind, _text(args)),
    )


def error_from_status(response: httpx.Response, *, what: str) -> SourceError:
    """The `SourceError` for an answer with an HTTP error status (``what``: the call)."""
    status = response.status_code
    kwargs: dict[str, Any] = {"status": status, "details": response.text}
    if status == 401:
        return SourceAuthError(SOURCE, f"{what}: not logged in or session refused", **kwargs)
    if status == 403:
        return SourceForbidden(SOURCE, f"{what}: not allowed over RPC", **kwargs)
    if status == 404:
        return SourceUnavailable(
            SOURCE, f"{what}: the server has no such database", retryable=False, **kwargs
        )
    if status == 429:
        return SourceRateLimited(
            SOURCE,
            f"{what}: too many requests",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            **kwargs,
        )
    if status == 504:
        return SourceTimeout(SOURCE, f"{what}: the server gave up on the call", **kwargs)
    if status >= 500:
        return SourceUnavailable(SOURCE, f"{what}: server error", **kwargs)
    return SourceValidationError(
        SOURCE,
        f"{what}: request refused with HTTP {status}",
        problems=[FieldProblem(None, f"HTTP_{status}", response.text[:200])],
        **kwargs,
    )
