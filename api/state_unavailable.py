"""The answer when Accord's shared state (Redis) cannot be reached: typed and retryable.

Idempotency records, workflows, the audit trail and webhook replay protection live in the
state backend; a request that needs one of them while the backend is down or too slow
(`state.errors.StateUnavailable`) cannot be carried out safely. It is not a bug, and the
caller should simply come back: so the GraphQL error carries ``extensions.code``
``STATE_UNAVAILABLE`` and ``retryable: true`` (never "Internal server error"), an HTTP answer
is 503 with ``Retry-After``, and the log gets one warning line while the outage lasts, not a
traceback per request. Requests that do not need the state backend (reads of the sources)
are unaffected.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from starlette.responses import JSONResponse

from sources.outage import OutageLog
from state.errors import StateUnavailable

__all__ = [
    "CODE",
    "MESSAGE",
    "RETRY_AFTER",
    "graphql_error",
    "http_response",
    "is_state_unavailable",
]

CODE = "STATE_UNAVAILABLE"
RETRY_AFTER = 2  # seconds: a dropped connection is usually back within a few
MESSAGE = (
    "Accord's shared state is unavailable right now; retry shortly "
    "(a write sent again with the same idempotencyKey applies at most once)"
)

logger = logging.getLogger("accord.state")
_outage = OutageLog(logger, "the state backend", remind_every=60.0)


def is_state_unavailable(error: BaseException | None) -> bool:
    return isinstance(error, StateUnavailable)


def graphql_error(error: GraphQLError) -> dict[str, Any]:
    """The formatted GraphQL error for a resolver that failed with `StateUnavailable`."""
    _outage.failed(error.original_error or error.message)
    typed = GraphQLError(
        MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": CODE, "retryable": True},
    )
    return dict(typed.formatted)


def http_response(error: BaseException, media_type: str = "application/json") -> JSONResponse:
    """503 with ``Retry-After`` for a request refused before execution."""
    _outage.failed(error)
    body = {"errors": [{"message": MESSAGE, "extensions": {"code": CODE, "retryable": True}}]}
    return JSONResponse(
        body,
        503,
        headers={"Retry-After": str(RETRY_AFTER), "Cache-Control": "no-store"},
        media_type=media_type,
    )
