"""Subscriptions over WebSocket (graphql-transport-ws) and server-sent events.

WebSocket: ``ws://…/graphql`` with the ``graphql-transport-ws`` subprotocol. The caller is
named in ``connection_init``'s payload (``{"Authorization": "Bearer <key>"}``) or in the
upgrade request's ``Authorization`` header; an unknown key closes the connection with 4403.
Limits: `connection_init` within 10 s, at most `max_subscriptions` operations per connection,
and a connection with no operation for `idle_timeout` seconds is closed (4408).

Server-sent events: ``GET /graphql/stream?query=…&variables=…`` (or POST with a JSON body)
with ``Accept: text/event-stream`` streams ``event: next`` / ``data: <result>`` messages and
ends with ``event: complete`` (the graphql-sse protocol's distinct-connections mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import strawberry
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.types.unset import UnsetType

from api.auth import ApiKeyAuthenticator, AuthenticationFailed
from domain.caller import Caller
from resolvers.context import AccordContext

ContextFactory = Callable[[Caller], AccordContext]


@dataclass(frozen=True)
class SubscriptionLimits:
    max_subscriptions: int = 20  # operations at once on one connection
    idle_timeout: float = 300.0  # seconds a connection may hold no operation
    init_timeout: float = 10.0  # seconds to send connection_init
    keep_alive: float = 15.0  # seconds between pings


class _TransportWsHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """strawberry's graphql-transport-ws handler, closing a connection idle for too long.

    A connection is idle while it runs no operation (a subscription, or a query or mutation
    sent over it) and has started none for `SubscriptionLimits.idle_timeout` seconds. The
    watchdog lives as long as the connection: it ends with it, however the client left.
    """

    watchdog: asyncio.Task[None] | None = None
    last_activity: float = 0.0

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.watchdog is None:
            self.last_activity = asyncio.get_running_loop().time()
            self.watchdog = asyncio.create_task(self._watch_idle())

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        self.last_activity = asyncio.get_running_loop().time()
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
        await super().shutdown()

    async def _watch_idle(self) -> None:
        limits = cast(SubscriptionServer, self.view).limits
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(min(1.0, limits.idle_timeout / 4))
                if self.operations:
                    self.last_activity = loop.time()
                elif loop.time() - self.last_activity >= limits.idle_timeout:
                    await self.websocket.close(code=4408, reason="Idle connection closed")
                    return


class SubscriptionServer(GraphQL):
    """strawberry's graphql-transport-ws server, with Accord's callers, context and limits."""

    graphql_transport_ws_handler_class = _TransportWsHandler

    def __init__(
        self,
        schema: strawberry.Schema,
        authenticator: ApiKeyAuthenticator,
        context_for: ContextFactory,
        limits: SubscriptionLimits = SubscriptionLimits(),
    ) -> None:
        super().__init__(
            schema,
            graphql_ide=None,
            keep_alive=True,
            keep_alive_interval=limits.keep_alive,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=dt.timedelta(seconds=limits.init_timeout),
            max_subscriptions_per_connection=limits.max_subscriptions,
        )
        self.authenticator = authenticator
        self.context_for = context_for
        self.limits = limits

    async def get_context(self, request: Any, response: Any) -> Any:
        context = self.context_for(_anonymous_until_init())
        context.connection_params = None
        context.websocket = request if isinstance(request, WebSocket) else None
        return context

    async def on_ws_connect(self, context: Any) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        try:
            if isinstance(header, str):
                key = header.partition(" ")[2] if header.lower().startswith("bearer ") else ""
                context.caller = self.authenticator.caller_for_key(key)
            elif context.websocket is not None:
                context.caller = self.authenticator.authenticate(context.websocket)
        except AuthenticationFailed:
            raise ConnectionRejectionError({"reason": "unknown API key"}) from None
        return {"role": context.caller.role.value if context.caller.role else None}


def _anonymous_until_init() -> Caller:
    from domain.caller import ANONYMOUS

    return ANONYMOUS


class EventStream:
    """``/graphql/stream``: one subscription per HTTP response, as server-sent events."""

    def __init__(
        self,
        schema: strawberry.Schema,
        context_for_request: Callable[[Request], Awaitable[AccordContext]],
    ) -> None:
        self.schema = schema
        self.context_for_request = context_for_request

    async def handle(self, request: Request) -> Response:
        try:
            params = await _sse_params(request)
            context = await self.context_for_request(request)
        except AuthenticationFailed as exc:
            return _error(401, str(exc), "UNAUTHENTICATED")
        except BodyTooLarge as exc:
            return _error(413, str(exc), "BODY_TOO_LARGE")
        except ValueError as exc:
            return _error(400, str(exc), "BAD_REQUEST")
        results = await self.schema.subscribe(
            params["query"],
            variable_values=params.get("variables"),
            context_value=context,
            operation_name=params.get("operationName"),
        )
        return StreamingResponse(
            _sse(results, request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


async def _sse(results: Any, request: Request) -> AsyncIterator[str]:
    try:
        if not hasattr(results, "__aiter__"):
            yield _message("next", _result(results))
        else:
            async for result in results:
                yield _message("next", _result(result))
                if await request.is_disconnected():
                    break
        yield _message("complete", "")
    finally:
        if hasattr(results, "aclose"):
            with contextlib.suppress(Exception):
                await results.aclose()


def _result(result: Any) -> str:
    body: dict[str, Any] = {}
    if getattr(result, "errors", None):
        body["errors"] = [error.formatted for error in result.errors]
    if getattr(result, "data", None) is not None or "errors" not in body:
        body["data"] = getattr(result, "data", None)
    return json.dumps(body, default=str)


def _message(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


def _error(status: int, message: str, code: str) -> Response:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status)


MAX_BODY = 1_000_000
"""Bytes a POSTed subscription may have; as the GraphQL endpoint's limit."""


class BodyTooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    """The body, refused as soon as it is known to be over `MAX_BODY` (by its declared length,
    or while it streams in), so an oversized one is never held in memory."""
    too_large = BodyTooLarge(f"the request body is over {MAX_BODY} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _sse_params(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        if params.get("variables"):
            try:
                params["variables"] = json.loads(params["variables"])
            except ValueError:
                raise ValueError("variables is not valid JSON") from None
    else:
        try:
            params = json.loads(await _body(request))
        except ValueError:
            raise ValueError("the request body is not valid JSON") from None
        if not isinstance(params, dict):
            raise ValueError("the request body must be a JSON object")
    if not isinstance(params.get("query"), str) or not params["query"].strip():
        raise ValueError("the request has no GraphQL subscription")
    if params.get("variables") is not None and not isinstance(params["variables"], dict):
        raise ValueError("variables must be a JSON object")
    return params
