"""NetSuite's account concurrency limit.

NetSuite counts the REST (and SOAP and RESTlet) requests of an account that are in flight at
once and rejects a request that arrives when the limit is reached; it does not queue it. The
emulator models this with two ASGI layers around the control middleware::

    ConcurrencyGate -> ControlMiddleware (stats, injected latency/faults) -> RejectOverLimit -> app

- `ConcurrencyGate` (outermost) takes a slot when a governed request arrives and gives it back
  when the answer is complete, so an injected latency holds the slot exactly as a slow NetSuite
  request would. When no slot is free it marks the request as rejected instead.
- `RejectOverLimit` (inside the middleware) answers a marked request with 429
  CONCURRENCY_LIMIT_EXCEEDED. Being inside, the rejection is counted in the stats like any
  other request the client made.

Governed: the record API, SuiteQL and the other services under ``/services/rest/`` except the
OAuth token endpoint. The control API is never counted.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.netsuite.errors import concurrency_limit_exceeded

REJECTED = "netsuite.concurrency_rejected"

_GOVERNED_PREFIX = "/services/rest/"
_UNGOVERNED_PREFIX = "/services/rest/auth/"


def governed(path: str) -> bool:
    return path.startswith(_GOVERNED_PREFIX) and not path.startswith(_UNGOVERNED_PREFIX)


class ConcurrencyGate:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0
        self.peak = 0
        self.rejected = 0

    def stats(self) -> dict[str, int]:
        """For the control API's stats: the limit, and what the account saw since reset."""
        return {
            "limit": self.limit,
            "in_flight": self.in_flight,
            "peak": self.peak,
            "rejected": self.rejected,
        }

    def restart(self) -> None:
        self.peak = self.in_flight
        self.rejected = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not governed(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.rejected += 1
            scope.setdefault("state", {})[REJECTED] = True
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class RejectOverLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("state", {}).get(REJECTED):
            await concurrency_limit_exceeded().response()(scope, receive, send)
            return
        await self.app(scope, receive, send)
