"""The org's daily API request allowance and its control action.

Each authenticated REST call is charged against ``daily_api_limit``; responses carry
``Sforce-Limit-Info: api-usage=N/MAX``; once the allowance is spent calls answer 403
REQUEST_LIMIT_EXCEEDED until the next UTC day (or until an operator changes the numbers).

`SalesforceControl` sits in front of the generic control middleware and adds two actions
of its own:

- ``GET|POST /__sandbox__/salesforce/limits`` -> ``{"daily_api_limit", "used", "remaining"}``;
  POST takes ``{"daily_api_limit": N, "used": M}`` (either key optional);
- ``POST /__sandbox__/salesforce/sessions`` ``{"expire": true}`` ends every session,
  ``{"expire": "<session id>"}`` one of them: the next call with it gets 401
  INVALID_SESSION_ID, as after Salesforce's session timeout.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.salesforce.sessions import Sessions

CONTROL_PATH = "/__sandbox__/salesforce/"


class ApiUsage:
    def __init__(self, limit: int, *, today: Callable[[], dt.date] | None = None) -> None:
        self.limit = limit
        self.used = 0
        self._today = today or (lambda: dt.datetime.now(dt.UTC).date())
        self._day = self._today()

    def _roll(self) -> None:
        day = self._today()
        if day != self._day:
            self._day = day
            self.used = 0

    def charge(self) -> bool:
        """Count one request; False when the allowance is already spent."""
        self._roll()
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    @property
    def remaining(self) -> int:
        self._roll()
        return max(0, self.limit - self.used)

    def header(self) -> str:
        return f"api-usage={self.used}/{self.limit}"

    def to_json(self) -> dict[str, int]:
        return {"daily_api_limit": self.limit, "used": self.used, "remaining": self.remaining}


class SalesforceControl:
    """The Salesforce-only control actions, in front of the shared control middleware."""

    def __init__(self, app: ASGIApp, usage: ApiUsage, sessions: Sessions) -> None:
        self.app = app
        self.usage = usage
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(CONTROL_PATH):
            await self.app(scope, receive, send)
            return
        response = await self._handle(Request(scope, receive))
        await response(scope, receive, send)

    async def _handle(self, request: Request) -> Response:
        action = request.url.path[len(CONTROL_PATH) :].strip("/")
        if action == "limits" and request.method == "GET":
            return JSONResponse(self.usage.to_json())
        if action in ("limits", "sessions") and request.method == "POST":
            try:
                body: Any = json.loads(await request.body() or b"{}")
            except ValueError:
                return JSONResponse({"error": "body is not JSON"}, 400)
            if not isinstance(body, dict):
                return JSONResponse({"error": "body must be a JSON object"}, 400)
            if action == "sessions":
                target = body.get("expire") if set(body) == {"expire"} else None
                if target is True:
                    return JSONResponse({"expired": self.sessions.expire_all()})
                if isinstance(target, str) and target:
                    return JSONResponse({"expired": int(self.sessions.revoke(target))})
                return JSONResponse(
                    {"error": 'expected {"expire": true} or {"expire": "<session id>"}'}, 400
                )
            unknown = set(body) - {"daily_api_limit", "used"}
            values = {key: body[key] for key in ("daily_api_limit", "used") if key in body}
            if unknown or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values.values()
            ):
                return JSONResponse(
                    {"error": "expected non-negative integers daily_api_limit and/or used"}, 400
                )
            if "daily_api_limit" in values:
                self.usage.limit = values["daily_api_limit"]
            if "used" in values:
                self.usage.used = values["used"]
            return JSONResponse(self.usage.to_json())
        return JSONResponse(
            {"error": f"no control action {request.method} salesforce/{action}"}, 404
        )
