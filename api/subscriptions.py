"""GraphQL over WebSocket: the graphql-transport-ws protocol at ``ws://…/graphql``.

Queries, mutations and subscriptions sent over a connection run through the same request
pipeline (`api.pipeline`) as over HTTP: the same token, depth, alias, cost and budget limits,
the same input checks and the same answers.

The caller is named in ``connection_init``'s payload (``{"Authorization": "Bearer <key or
token>"}``) or in the upgrade request's ``Authorization`` header, and authenticated before
the connection is acknowledged; credentials that identify nobody close it with 4403. A
connection authenticated by a token is closed (4403) when the token expires.

Limits: ``connection_init`` within `SubscriptionLimits.init_timeout` seconds (else 4408), at
most `SubscriptionLimits.max_subscriptions` operations at once on one connection, at most
`api.callers.CallerLimits` connections and subscriptions per caller over all its connections
(an operation over either gets an ``error`` message; a connection over the caller's limit is
closed with 4429), and a connection with no operation for ``idle_timeout`` seconds is closed
(4408). A frame that is not a JSON object with a ``type``, or is binary, or over
`MAX_MESSAGE_BYTES`, closes the connection with the protocol's 4400 and the reason.

When the server stops (`api.departure`), every connection is closed with 1001 (going away),
its operations not completed: graphql-ws clients connect again, through the load balancer,
to a replica that stays, and subscribe again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult, GraphQLError
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from api.auth import AuthenticationFailed, Authenticator
from api.budget import BudgetExceeded
from api.callers import CallerSlots, TooMany
from api.departure import Departure
from api.persisted import PersistedQueryError
from api.pipeline import ContextFor, Pipeline, Transport, caller_key
from api.responses import format_error, format_result
from domain.caller import Caller
from domain.ownership import Role

logger = logging.getLogger("accord.websocket")

PROTOCOL = "graphql-transport-ws"
MAX_MESSAGE_BYTES = 1_000_000  # as the HTTP endpoint's body limit


@dataclass(frozen=True)
class SubscriptionLimits:
    max_subscriptions: int = 20  # operations at once on one connection
    idle_timeout: float = 300.0  # seconds a connection may hold no operation
    init_timeout: float = 10.0  # seconds to send connection_init
    keep_alive: float = 15.0  # seconds between pings


class _Close(Exception):
    """End the connection with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class SubscriptionServer:
    """The ASGI app of the WebSocket route."""

    def __init__(
        self,
        pipeline: Pipeline,
        authenticator: Authenticator,
        context_for: ContextFor,
        limits: SubscriptionLimits = SubscriptionLimits(),
        callers: CallerSlots | None = None,
        departure: Departure | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.authenticator = authenticator
        self.context_for = context_for
        self.limits = limits
        self.callers = callers or CallerSlots()
        self.departure = departure or Departure()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        if PROTOCOL not in websocket.scope.get("subprotocols", []):
            await websocket.accept()
            await websocket.close(4406, "Subprotocol not acceptable")
            return
        await websocket.accept(subprotocol=PROTOCOL)
        with self.departure.holding():
            await _Connection(self, websocket).serve()


class _Connection:
    def __init__(self, server: SubscriptionServer, websocket: WebSocket) -> None:
        self.server = server
        self.websocket = websocket
        self.limits = server.limits
        self.caller: Caller | None = None
        self.key: str | None = None  # the caller's slots
        self.client = websocket.client.host if websocket.client else None
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.last_activity = time.monotonic()
        self.init_received = False
        self.expiry: asyncio.Task[None] | None = None
        self.send_lock = asyncio.Lock()

    async def serve(self) -> None:
        helpers = [
            asyncio.create_task(self._watch_init()),
            asyncio.create_task(self._keep_alive()),
            asyncio.create_task(self._watch_idle()),
            asyncio.create_task(self._watch_departure()),
        ]
        try:
            await self._read()
        except _Close as close:
            await self._close(close.code, close.reason)
        except WebSocketDisconnect:
            pass
        finally:
            if self.expiry is not None:
                helpers.append(self.expiry)
            for task in helpers + list(self.operations.values()):
                task.cancel()
            for task in helpers + list(self.operations.values()):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self.caller is not None and self.key is not None:
                self.server.callers.disconnect(self.key)

    # ------------------------------------------------------------------ reading

    async def _read(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                raise _Close(4400, "WebSocket message type must be text")
            if len(text) > MAX_MESSAGE_BYTES:
                raise _Close(4400, f"Message over {MAX_MESSAGE_BYTES} bytes")
            try:
                frame = json.loads(text)
            except (ValueError, RecursionError):
                raise _Close(4400, "WebSocket message must be valid JSON") from None
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise _Close(4400, "Invalid message received: not an object with a type")
            await self._handle(frame)

    async def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "connection_init":
            await self._init(frame.get("payload"))
        elif kind == "ping":
            await self._send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self._subscribe(frame)
        elif kind == "complete":
            operation = frame.get("id")
            task = self.operations.pop(operation, None) if isinstance(operation, str) else None
            if task is not None:
                task.cancel()
        else:
            raise _Close(4400, f"Unknown message type: {kind[:50]}")

    async def _init(self, payload: Any) -> None:
        if payload is not None and not isinstance(payload, dict):
            raise _Close(4400, "Invalid connection init payload")
        if self.init_received:
            raise _Close(4429, "Too many initialisation requests")
        self.init_received = True
        header = None
        if payload:
            given = payload.get("Authorization", payload.get("authorization"))
            header = given if isinstance(given, str) else None
        if header is None:
            header = self.websocket.headers.get("authorization")
        try:
            caller = await self.server.authenticator.caller(header)
        except AuthenticationFailed:
            raise _Close(4403, "Forbidden") from None
        key = caller_key(caller, self.client)
        try:
            self.server.callers.connect(key)
        except TooMany as exc:
            raise _Close(4429, str(exc)) from None
        self.caller, self.key = caller, key
        self.last_activity = time.monotonic()
        if caller.expires_at is not None:
            self.expiry = asyncio.create_task(self._expire(caller.expires_at))
        role = caller.role.value if caller.role else None
        await self._send({"type": "connection_ack", "payload": {"role": role}})

    async def _subscribe(self, frame: dict[str, Any]) -> None:
        if self.caller is None:
            raise _Close(4401, "Unauthorized")
        operation, payload = frame.get("id"), frame.get("payload")
        if not isinstance(operation, str) or not operation or not isinstance(payload, dict):
            raise _Close(4400, "Invalid message received: subscribe needs an id and a payload")
        if operation in self.operations:
            raise _Close(4409, f"Subscriber for {operation[:50]} already exists")
        self.last_activity = time.monotonic()
        if len(self.operations) >= self.limits.max_subscriptions:
            await self._error(operation, GraphQLError("Subscription limit reached"))
            return
        self.operations[operation] = asyncio.create_task(self.run_operation(operation, payload))

    # ------------------------------------------------------------------ operations

    async def run_operation(self, operation: str, payload: dict[str, Any]) -> None:
        assert self.caller is not None
        try:
            outcome = await self.server.pipeline.run(
                self.caller,
                payload,
                Transport.WEBSOCKET,
                self.server.context_for,
                client=self.client,
            )
            # An open subscription keeps only what it needs for its events: not the message
            # that started it, nor the rest of the outcome.
            del payload
            if outcome.stream is not None:
                stream, extensions = outcome.stream, outcome.extensions
                del outcome
                await self._stream(operation, stream, extensions)
            elif outcome.pre_execution:
                assert outcome.result is not None
                await self._error(operation, *(outcome.result.errors or ()))
                return
            else:
                assert outcome.result is not None
                await self._next(operation, outcome.result, outcome.extensions)
            await self._send({"id": operation, "type": "complete"})
        except PersistedQueryError as exc:
            await self._error(operation, GraphQLError(exc.message, extensions={"code": exc.code}))
        except BudgetExceeded as exc:
            await self._error(
                operation,
                GraphQLError(
                    str(exc), extensions={"code": "RATE_LIMITED", "retryAfter": exc.retry_after}
                ),
            )
        except TooMany as exc:
            await self._error(operation, GraphQLError(f"Subscription limit reached: {exc}"))
        except (asyncio.CancelledError, WebSocketDisconnect):
            raise
        except Exception:
            logger.exception("operation %s failed", operation[:50])
            await self._error(
                operation,
                GraphQLError("Internal server error", extensions={"code": "INTERNAL_SERVER_ERROR"}),
            )
        finally:
            self.operations.pop(operation, None)
            self.last_activity = time.monotonic()

    async def _stream(
        self, operation: str, stream: AsyncIterator[ExecutionResult], extensions: dict[str, Any]
    ) -> None:
        key = self.key
        assert key is not None
        try:
            self.server.callers.subscribe(key)
        except TooMany:
            await _close_stream(stream)
            raise
        try:
            async for result in stream:
                await self._next(operation, result, extensions)
        finally:
            self.server.callers.unsubscribe(key)
            await _close_stream(stream)

    async def _next(
        self, operation: str, result: ExecutionResult, extensions: dict[str, Any]
    ) -> None:
        payload = format_result(result, extensions, reader=self._role())
        await self._send({"id": operation, "type": "next", "payload": payload})

    async def _error(self, operation: str, *errors: GraphQLError) -> None:
        payload = [format_error(error, reader=self._role()) for error in errors]
        await self._send({"id": operation, "type": "error", "payload": payload})

    def _role(self) -> Role | None:
        return self.caller.role if self.caller else None

    # ------------------------------------------------------------------ timers

    async def _watch_init(self) -> None:
        await asyncio.sleep(self.limits.init_timeout)
        if not self.init_received:
            await self._close(4408, "Connection initialisation timeout")

    async def _expire(self, at: float) -> None:
        """Close the connection when the token that authenticated it expires."""
        await asyncio.sleep(max(0.0, at - time.time()))
        await self._close(4403, "Token expired")

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.limits.keep_alive)
            await self._send({"type": "ping"})

    async def _watch_idle(self) -> None:
        """Close a connection that runs no operation and has started none for too long."""
        while True:
            await asyncio.sleep(min(1.0, self.limits.idle_timeout / 4))
            if self.operations:
                self.last_activity = time.monotonic()
            elif time.monotonic() - self.last_activity >= self.limits.idle_timeout:
                await self._close(4408, "Idle connection closed")
                return

    async def _watch_departure(self) -> None:
        await self.server.departure.wait()
        await self._close(1001, "Server going away")

    # ------------------------------------------------------------------ writing

    async def _send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            if self.websocket.application_state is WebSocketState.CONNECTED:
                with contextlib.suppress(RuntimeError, OSError):
                    await self.websocket.send_text(json.dumps(message, default=str))

    async def _close(self, code: int, reason: str) -> None:
        async with self.send_lock:
            if self.websocket.application_state is WebSocketState.CONNECTED:
                with contextlib.suppress(RuntimeError, OSError):
                    await self.websocket.close(code, reason)


async def _close_stream(stream: Any) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()
