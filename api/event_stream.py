"""GraphQL over server-sent events: ``/graphql/stream`` (the graphql-sse protocol's
distinct-connections mode).

``GET /graphql/stream?query=…&variables=…`` (queries and subscriptions) or ``POST`` with a
JSON body (any operation) and ``Accept: text/event-stream`` streams ``event: next`` /
``data: <result>`` messages and ends with ``event: complete``. The operation runs through
the request pipeline (`api.pipeline`) with every limit of the other ways in; a subscription
holds one of its caller's subscription slots (`api.callers`) while it streams.

Refusals before anything streams are plain HTTP answers: 401 for unknown credentials, 413 for
a body over a megabyte, 415 for a POST that is not JSON, 400 for unusable parameters, 405 for
a mutation over GET, 429 (with ``Retry-After``) for a spent budget or too many subscriptions;
a document that fails before execution is streamed as one ``next`` with its errors, then
``complete``.

When the server stops (`api.departure`), a subscription's stream ends with the `GOING_AWAY`
comment and no ``complete``: the operation is not over, so clients subscribe again, through
the load balancer, to a replica that stays. An ``EventSource`` reconnects by itself on a
stream that ends; the graphql-sse client retries a stream that ends without ``complete``. (A
``retry:`` field is not sent: the graphql-sse client refuses it as an unexpected message.)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from api.auth import AuthenticationFailed, Authenticator
from api.budget import BudgetExceeded
from api.callers import CallerSlots, TooMany
from api.departure import Departure
from api.http_body import BodyTooLarge, decode_json, read_body
from api.persisted import PersistedQueryError
from api.pipeline import (
    ContextFor,
    OperationNotCarried,
    Outcome,
    Pipeline,
    Transport,
    caller_key,
)
from api.responses import format_result, refusal
from domain.ownership import Role

GOING_AWAY = ": going away: the server stops; subscribe again\n\n"
"""The last message of a subscription's stream when the server stops (an SSE comment, which
every client skips)."""


class UnsupportedMediaType(Exception):
    pass


class EventStream:
    """``/graphql/stream``: one operation per HTTP response, as server-sent events."""

    def __init__(
        self,
        pipeline: Pipeline,
        authenticator: Authenticator,
        context_for: ContextFor,
        callers: CallerSlots,
        departure: Departure | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.authenticator = authenticator
        self.context_for = context_for
        self.callers = callers
        self.departure = departure or Departure()

    async def handle(self, request: Request) -> Response:
        client = request.client.host if request.client else None
        try:
            caller = await self.authenticator.caller(request.headers.get("authorization"))
            params = await _sse_params(request)
            transport = Transport.SSE_GET if request.method == "GET" else Transport.SSE_POST
            outcome = await self.pipeline.run(
                caller, params, transport, self.context_for, client=client
            )
        except AuthenticationFailed as exc:
            return _error(401, str(exc), "UNAUTHENTICATED")
        except BodyTooLarge as exc:
            return _error(413, str(exc), "BODY_TOO_LARGE")
        except UnsupportedMediaType as exc:
            return _error(415, str(exc), "BAD_REQUEST")
        except ValueError as exc:
            return _error(400, str(exc), "BAD_REQUEST")
        except PersistedQueryError as exc:
            return _error(exc.status, exc.message, exc.code)
        except OperationNotCarried as exc:
            response = _error(405, f"{exc.operation.value} operations need POST", "BAD_REQUEST")
            response.headers["Allow"] = "POST"
            return response
        except BudgetExceeded as exc:
            response = _error(429, str(exc), "RATE_LIMITED", retryAfter=exc.retry_after)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        key = caller_key(caller, client)
        if outcome.stream is not None:
            try:
                self.callers.subscribe(key)
            except TooMany as exc:
                await _close_stream(outcome.stream)
                return _error(429, f"Subscription limit reached: {exc}", "TOO_MANY_SUBSCRIPTIONS")
        return StreamingResponse(
            self._events(outcome, request, key, caller.role),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _events(
        self, outcome: Outcome, request: Request, key: str, reader: Role | None
    ) -> AsyncIterator[str]:
        stream = outcome.stream
        try:
            if stream is None:
                assert outcome.result is not None
                yield _message("next", _result(outcome.result, outcome, reader))
            else:
                async for result in self.departure.until_announced(stream):
                    yield _message("next", _result(result, outcome, reader))
                    if await request.is_disconnected():
                        break
                if self.departure.announced:
                    yield GOING_AWAY
                    return
            yield _message("complete", "")
        finally:
            if stream is not None:
                self.callers.unsubscribe(key)
                await _close_stream(stream)


async def _close_stream(stream: Any) -> None:
    # Unsubscribe now, however the stream ended: a client gone away leaves the iterator in
    # a reference cycle that only the collector breaks.
    close = getattr(stream, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


def _result(result: Any, outcome: Outcome, reader: Role | None) -> str:
    return json.dumps(format_result(result, outcome.extensions, reader=reader), default=str)


def _message(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


def _error(status: int, message: str, code: str, **extensions: Any) -> Response:
    return JSONResponse(refusal(message, code, **extensions), status)


async def _sse_params(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        for key in ("variables", "extensions"):
            if params.get(key):
                params[key] = decode_json(params[key], key)
    else:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise UnsupportedMediaType("send the operation as application/json")
        params = decode_json(await read_body(request), "the request body")
        if not isinstance(params, dict):
            raise ValueError("the request body must be a JSON object")
    text = params.get("query")
    persisted = isinstance(params.get("extensions"), dict)
    if not (isinstance(text, str) and text.strip()) and not (text is None and persisted):
        raise ValueError("the request has no GraphQL query")
    for key in ("variables", "extensions"):
        if params.get(key) is not None and not isinstance(params[key], dict):
            raise ValueError(f"{key} must be a JSON object")
    if params.get("operationName") is not None and not isinstance(params["operationName"], str):
        raise ValueError("operationName must be a string")
    return params
