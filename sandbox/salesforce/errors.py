"""Salesforce REST errors and the JSON responses that carry them.

A REST error body is a JSON list of ``{"message", "errorCode"[, "fields"]}`` objects (DML
errors name the offending fields; query and session errors carry no ``fields`` key). In a
composite collection result the same error is ``{"statusCode", "message", "fields"}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

_STATUS = {
    "NOT_FOUND": 404,
    "ENTITY_IS_DELETED": 404,
    "INVALID_SESSION_ID": 401,
    "REQUEST_LIMIT_EXCEEDED": 403,
    "INSUFFICIENT_ACCESS": 403,
    "METHOD_NOT_ALLOWED": 405,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "SERVER_UNAVAILABLE": 503,
    "UNKNOWN_EXCEPTION": 500,
}

NOT_FOUND_MESSAGE = "The requested resource does not exist"
SESSION_MESSAGE = "Session expired or invalid"


class ApiError(Exception):
    """A failure answered as Salesforce answers it; ``fields`` None leaves the key out."""

    def __init__(
        self,
        error_code: str,
        message: str,
        fields: Sequence[str] | None = None,
        *,
        status: int | None = None,
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message
        self.fields = list(fields) if fields is not None else None
        self.status = status or _STATUS.get(error_code, 400)

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]

    def record_error(self) -> dict[str, Any]:
        """The error as one entry of a collection result's ``errors`` list."""
        return {"statusCode": self.error_code, "message": self.message, "fields": self.fields or []}

    def response(self, headers: Mapping[str, str] | None = None) -> Response:
        return json_response(self.body(), self.status, headers)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(
        body, status, headers=dict(headers or {}), media_type="application/json;charset=UTF-8"
    )


def not_found() -> ApiError:
    return ApiError("NOT_FOUND", NOT_FOUND_MESSAGE)


def invalid_session() -> ApiError:
    return ApiError("INVALID_SESSION_ID", SESSION_MESSAGE)


_INJECTED = {
    400: "BAD_REQUEST",
    401: "INVALID_SESSION_ID",
    403: "REQUEST_LIMIT_EXCEEDED",
    404: "NOT_FOUND",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "UNKNOWN_EXCEPTION",
    502: "SERVER_UNAVAILABLE",
    503: "SERVER_UNAVAILABLE",
    504: "SERVER_UNAVAILABLE",
}


def injected_error(status: int, message: str) -> Response:
    """The control middleware's error body for an injected fault, in Salesforce's shape."""
    code = _INJECTED.get(status, "UNKNOWN_EXCEPTION" if status >= 500 else "BAD_REQUEST")
    if status == 401:
        message = SESSION_MESSAGE
    return json_response([{"message": message, "errorCode": code}], status)
