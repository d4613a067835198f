"""GraphQL over HTTP: the ``/graphql`` endpoint.

- ``POST`` with ``application/json`` (``{"query", "variables", "operationName",
  "extensions"}``) or ``application/graphql`` (the document as the body); any other content
  type, or none, is refused with 415, so a browser cannot send one cross-site without a
  preflight;
- ``GET`` with the same as query parameters, for queries only (a mutation over GET is 405);
- a browser (``Accept: text/html``) gets GraphiQL, where it is enabled;
- the answer is ``application/graphql-response+json`` when the client accepts it (then a
  request that fails before execution, such as a syntax or validation error, is HTTP 400), and
  ``application/json`` otherwise (HTTP 200 for every well-formed request).

A document may be sent by its SHA-256 instead (persisted queries, `api.persisted`): then
``query`` may be left out, over POST and GET alike.

The caller is authenticated first, before the body is read: a request with credentials that
identify nobody is a 401 and costs no parsing. Everything after that is the request pipeline
(`api.pipeline`), shared with the WebSocket and server-sent events; a caller over its cost
budget gets 429 with ``Retry-After``.

A body over `MAX_BODY_BYTES` is refused with 413 before it is read (by its declared length) or
as soon as it passes the limit; JSON nested too deeply to decode is a 400 like any other bad
JSON. Answers to GET carry ``Vary: Accept, Authorization`` (one URL answers by media type and
by caller), and ``Cache-Control: no-store`` unless they are clean (no errors, nothing served
stale), so that no HTTP cache keeps a refusal or an outage.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api import state_unavailable
from api.auth import AuthenticationFailed, Authenticator
from api.budget import BudgetExceeded
from api.graphiql import graphiql_page
from api.http_body import MAX_BODY_BYTES, BodyTooLarge, UnusableJson, decode_json, read_body
from api.persisted import PersistedQueryError
from api.pipeline import OperationNotCarried, Pipeline, Transport
from api.responses import format_result, refusal
from domain.caller import Caller
from state.errors import StateUnavailable

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


class RequestError(Exception):
    """The HTTP request itself is unusable (not JSON, no query, wrong method)."""

    def __init__(self, message: str, status: int = 400, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers = headers or {}


ContextFor = Callable[[Caller], Any]


class GraphQLHttp:
    def __init__(
        self,
        pipeline: Pipeline,
        authenticator: Authenticator,
        context_for: ContextFor,
        *,
        graphiql: bool = True,
    ) -> None:
        self.pipeline = pipeline
        self.authenticator = authenticator
        self.context_for = context_for
        self.graphiql = graphiql

    # ------------------------------------------------------------------ ASGI entry

    async def handle(self, request: Request) -> Response:
        response, clean = await self._answer(request)
        if request.method in ("GET", "HEAD"):
            # One URL answers by media type and by caller; an answer that reports a problem
            # (errors, values served stale) must not outlive the request in any cache.
            response.headers["Vary"] = "Accept, Authorization"
            if not clean:
                response.headers["Cache-Control"] = "no-store"
        return response

    async def _answer(self, request: Request) -> tuple[Response, bool]:
        """The response, and whether it is a clean answer (no errors, nothing stale)."""
        media = _negotiate(request.headers.get("accept", ""))
        if request.method == "GET" and media == "text/html" and "query" not in request.query_params:
            if self.graphiql:
                return graphiql_page(request.url.path), True
            return _refused(RequestError("GraphiQL is not served here", 404), JSON), False
        media = media if media != "text/html" else JSON
        try:
            caller = await self.authenticator.caller(request.headers.get("authorization"))
            params = await _read_params(request)
            transport = Transport.HTTP_GET if request.method == "GET" else Transport.HTTP_POST
            client = request.client.host if request.client else None
            outcome = await self.pipeline.run(
                caller, params, transport, self.context_for, client=client
            )
        except RequestError as exc:
            return _refused(exc, media), False
        except OperationNotCarried as exc:
            if exc.transport is Transport.HTTP_GET:
                message = f"{exc.operation.value} operations are not allowed over GET; use POST"
                return _refused(RequestError(message, 405, {"Allow": "POST"}), media), False
            message = "subscriptions are served over WebSocket and server-sent events"
            return _refused(RequestError(message), media), False
        except PersistedQueryError as exc:
            return _persisted_query_refused(exc, media), False
        except AuthenticationFailed as exc:
            headers = {"WWW-Authenticate": 'Bearer realm="accord"'}
            body = refusal(str(exc), "UNAUTHENTICATED")
            return JSONResponse(body, 401, headers=headers, media_type=media), False
        except StateUnavailable as exc:
            return state_unavailable.http_response(exc, media), False
        except BudgetExceeded as exc:
            headers = {"Retry-After": str(exc.retry_after)}
            body = refusal(str(exc), "RATE_LIMITED", retryAfter=exc.retry_after)
            return JSONResponse(body, 429, headers=headers, media_type=media), False
        assert outcome.result is not None  # queries and mutations only
        result = outcome.result
        status = 400 if outcome.pre_execution and media == GRAPHQL_RESPONSE else 200
        clean = not result.errors and not (result.extensions and "stale" in result.extensions)
        headers = outcome.charge.headers() if outcome.charge else {}
        if request.method == "GET" and clean and outcome.cache_control:
            headers["Cache-Control"] = outcome.cache_control
        kept = outcome.answer
        if kept is not None and media in kept.encoded:
            # a kept answer is the same bytes for every caller it is shared with
            return Response(kept.encoded[media], status, headers=headers, media_type=media), clean
        body = format_result(result, outcome.extensions, reader=caller.role)
        response = JSONResponse(body, status, headers=headers, media_type=media)
        if kept is not None and status == 200:
            kept.encoded[media] = bytes(response.body)
        return response, clean


def _refused(error: RequestError, media: str) -> Response:
    body = refusal(error.message, "BAD_REQUEST")
    return JSONResponse(body, error.status, headers=error.headers, media_type=media)


def _negotiate(accept: str) -> str:
    """The response media type for an Accept header: the acceptable type of highest quality,
    a named type before a wildcard of the same quality; ``q=0`` means not acceptable. A
    client sends the same header with every request: the answers for short ones are kept."""
    return _ranked(accept) if len(accept) <= 200 else _ranked.__wrapped__(accept)


@functools.lru_cache(maxsize=128)
def _ranked(accept: str) -> str:
    ranked: list[tuple[float, int, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.strip().lower()
        if quality > 0:
            ranked.append((-quality, media.count("*"), position, media))
    for _, _, _, media in sorted(ranked):
        if media in (GRAPHQL_RESPONSE, JSON):
            return media
        if media == "text/html":
            return "text/html"
        if media in ("*/*", "application/*"):
            return JSON
    return JSON


async def _read_params(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        try:
            query = dict(
                parse_qsl(
                    request.scope.get("query_string", b"").decode("latin-1"),
                    keep_blank_values=True,
                    encoding="utf-8",
                    errors="strict",
                )
            )
        except UnicodeDecodeError:
            raise RequestError("the query string is not UTF-8") from None
        params: dict[str, Any] = {
            "query": query.get("query"),
            "operationName": query.get("operationName") or None,
        }
        for key in ("variables", "extensions"):
            if query.get(key):
                params[key] = _json(query[key], key)
    elif request.method == "POST":
        body = await _body(request)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/graphql":
            try:
                params = {"query": body.decode("utf-8")}
            except UnicodeDecodeError:
                raise RequestError("the request body is not UTF-8") from None
        elif content_type == "application/json":
            params = _json(body, "the request body")
            if not isinstance(params, dict):
                raise RequestError("the request body must be a JSON object")
        else:
            shown = repr(content_type) if content_type else "none"
            raise RequestError(
                f"unsupported content type {shown}: send application/json or application/graphql",
                status=415,
            )
    else:
        raise RequestError("GraphQL is served over GET and POST", 405, {"Allow": "GET, POST"})
    for key in ("variables", "extensions"):
        if params.get(key) is not None and not isinstance(params[key], dict):
            raise RequestError(f"{key} must be a JSON object")
    text = params.get("query")
    if text is None and _has_persisted_query(params):
        pass  # the document is named by its hash
    elif not isinstance(text, str) or not text.strip():
        raise RequestError("the request has no GraphQL query")
    name = params.get("operationName")
    if name is not None and not isinstance(name, str):
        raise RequestError("operationName must be a string")
    return params


async def _body(request: Request) -> bytes:
    try:
        return await read_body(request, MAX_BODY_BYTES)
    except BodyTooLarge as exc:
        raise RequestError(str(exc), status=413) from None


def _json(text: str | bytes, what: str) -> Any:
    try:
        return decode_json(text, what)
    except UnusableJson as exc:
        raise RequestError(str(exc)) from None


def _has_persisted_query(params: dict[str, Any]) -> bool:
    extensions = params.get("extensions")
    return isinstance(extensions, dict) and "persistedQuery" in extensions


def _persisted_query_refused(error: PersistedQueryError, media: str) -> Response:
    """The persisted-query protocol's answer to a refused request: its code, never cached."""
    body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
    return JSONResponse(body, error.status, headers={"Cache-Control": "no-store"}, media_type=media)
