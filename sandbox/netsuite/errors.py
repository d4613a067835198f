"""NetSuite REST error responses.

Every failure of the emulator, from a bad token to a malformed SuiteQL query, is answered in
NetSuite's shape (content type ``application/vnd.oracle.resource+json; type=error``)::

    {"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
     "title": "Bad Request", "status": 400,
     "o:errorDetails": [{"detail": "...", "o:errorCode": "USER_ERROR",
                         "o:errorPath": "entity"}]}

Current NetSuite releases point ``type`` at RFC 9110 sections (older ones at RFC 2616); 429 is
not in RFC 9110 and points at RFC 6585.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from sandbox.netsuite.wire import dumps

ERROR_MEDIA_TYPE = "application/vnd.oracle.resource+json; type=error"

INVALID_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
    "Setup > Users/Roles > User Management > View Login Audit Trail."
)
NONEXISTENT_ID_DETAIL = "The record instance does not exist. Provide a valid record instance ID."
INVALID_QUERY_PREFIX = "Invalid search query. Detailed unprocessed description follows. "
RESOURCE_PREFIX = "Error while accessing a resource. "

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_SECTIONS = {
    400: "15.5.1",
    401: "15.5.2",
    403: "15.5.4",
    404: "15.5.5",
    405: "15.5.6",
    409: "15.5.10",
    413: "15.5.14",
    415: "15.5.16",
    500: "15.6.1",
    502: "15.6.3",
    503: "15.6.4",
    504: "15.6.5",
}

# The o:errorCode an injected failure carries, by HTTP status.
_INJECTED_CODES = {
    400: "USER_ERROR",
    401: "INVALID_LOGIN",
    403: "INSUFFICIENT_PERMISSION",
    404: "NONEXISTENT_ID",
    429: "CONCURRENCY_LIMIT_EXCEEDED",
}


def title_for(status: int) -> str:
    return _TITLES.get(status, "Error")


def type_for(status: int) -> str:
    if status == 429:
        return "https://www.rfc-editor.org/rfc/rfc6585.html#section-4"
    section = _SECTIONS.get(status)
    if section is None:
        section = "15.6" if status >= 500 else "15.5"
    return f"https://www.rfc-editor.org/rfc/rfc9110.html#section-{section}"


@dataclass
class NetSuiteError(Exception):
    """A NetSuite error answer; raise it anywhere in a handler.

    ``extra`` holds the optional pointers of an error detail: ``o:errorPath`` (JSON path into
    the body), ``o:errorQueryParam``, ``o:errorHeader`` or ``o:errorUrl``.
    """

    status: int
    code: str
    detail: str
    extra: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.code}: {self.detail}")

    def body(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"detail": self.detail, "o:errorCode": self.code, **self.extra}
        return {
            "type": self.type or type_for(self.status),
            "title": self.title or title_for(self.status),
            "status": self.status,
            "o:errorDetails": [detail],
        }

    def response(self) -> Response:
        return Response(
            dumps(self.body()),
            status_code=self.status,
            media_type=ERROR_MEDIA_TYPE,
            headers=self.headers or None,
        )


# --------------------------------------------------------------------------- common errors


def invalid_login() -> NetSuiteError:
    return NetSuiteError(401, "INVALID_LOGIN", INVALID_LOGIN_DETAIL)


def nonexistent_id() -> NetSuiteError:
    return NetSuiteError(404, "NONEXISTENT_ID", NONEXISTENT_ID_DETAIL)


def user_error(detail: str, path: str | None = None, code: str = "USER_ERROR") -> NetSuiteError:
    """A record validation failure, prefixed as NetSuite prefixes them in REST answers."""
    extra = {"o:errorPath": path} if path else {}
    return NetSuiteError(400, code, RESOURCE_PREFIX + detail, extra)


def invalid_reference(field_label: str, key: object, path: str) -> NetSuiteError:
    return user_error(f"Invalid {field_label} reference key {key}.", path, "INVALID_KEY_OR_REF")


def invalid_value(value: object, field_name: str, path: str) -> NetSuiteError:
    return user_error(
        f"You have entered an Invalid Field Value {value} for the following field: {field_name}",
        path,
        "INVALID_FLD_VALUE",
    )


def invalid_content(detail: str, path: str | None = None) -> NetSuiteError:
    extra = {"o:errorPath": path} if path else {}
    return NetSuiteError(400, "INVALID_CONTENT", detail, extra)


def invalid_parameter(detail: str, param: str) -> NetSuiteError:
    return NetSuiteError(400, "INVALID_PARAMETER", detail, {"o:errorQueryParam": param})


def invalid_query(detail: str) -> NetSuiteError:
    """A SuiteQL query NetSuite refuses: 400 INVALID_PARAMETER pointing at ``q``."""
    return invalid_parameter(INVALID_QUERY_PREFIX + detail, "q")


def concurrency_limit_exceeded() -> NetSuiteError:
    return NetSuiteError(
        429,
        "CONCURRENCY_LIMIT_EXCEEDED",
        "Concurrent request limit exceeded. Request blocked.",
    )


def injected_error(status: int, message: str) -> Response:
    """The `sandbox.control.ErrorBody` of this emulator: an injected fault in NetSuite's shape."""
    code = _INJECTED_CODES.get(status, "UNEXPECTED_ERROR" if status >= 500 else "USER_ERROR")
    return NetSuiteError(status, code, message).response()
