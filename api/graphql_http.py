"""GraphQL over HTTP: the ``/graphql`` endpoint.

- ``POST`` with ``application/json`` (``{"query", "variables", "operationName",
  "extensions"}``) or ``application/graphql`` (the document as the body);
- ``GET`` with the same as query parameters, for queries only (a mutation over GET is 405);
- a browser (``Accept: text/html``) gets GraphiQL;
- the answer is ``application/graphql-response+json`` when the client accepts it (then a
  request that fails before execution, such as a syntax or validation error, is HTTP 400), and
  ``application/json`` otherwise (HTTP 200 for every well-formed request).

A document may be sent by its SHA-256 instead (persisted queries, `api.persisted`): then
``query`` may be left out, over POST and GET alike.

Documents are parsed with a token limit, validated with depth and alias limits, and both steps are
cached by document text, so a repeated query skips straight to execution. Unexpected
exceptions are logged and reach the client as "Internal server error" only.

A body over `MAX_BODY_BYTES` is refused with 413 before it is read (by its declared length) or
as soon as it passes the limit; JSON nested too deeply to decode is a 400 like any other bad
JSON. Answers to GET carry ``Vary: Accept, Authorization`` (one URL answers by media type and
by caller), and ``Cache-Control: no-store`` unless they are clean (no errors, nothing served
stale), so that no HTTP cache keeps a refusal or an outage.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    specified_rules,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from strawberry.extensions.max_aliases import create_validator as alias_limit
from strawberry.extensions.query_depth_limiter import create_validator as depth_limit
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.schema import validate_document

from api import state_unavailable
from api.auth import AuthenticationFailed
from api.persisted import PersistedQueries, PersistedQueryError
from cache.bounded import SizedLRUCache
from state.errors import StateUnavailable

logger = logging.getLogger("accord.graphql")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
MAX_BODY_BYTES = 1_000_000


@dataclass(frozen=True)
class Limits:
    max_tokens: int = 5_000  # tokens in one document
    max_depth: int = 15  # nested selections, introspection excepted
    max_aliases: int = 30  # each alias of a list can cost upstream calls
    document_cache_size: int = 1_000  # parsed and validated documents kept
    document_cache_bytes: int = 32 * 2**20  # and their estimated size (text and syntax tree)


@dataclass(frozen=True)
class _Prepared:
    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]
    cost: int = 1  # estimated bytes of the document's text and syntax tree


class RequestError(Exception):
    """The HTTP request itself is unusable (not JSON, no query, wrong method)."""

    def __init__(self, message: str, status: int = 400, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers = headers or {}


ContextFactory = Callable[[Request], Awaitable[Any]]


class GraphQLHttp:
    def __init__(
        self,
        schema: strawberry.Schema,
        context_factory: ContextFactory,
        limits: Limits = Limits(),
        persisted: PersistedQueries | None = None,
    ) -> None:
        self.schema = schema
        self.persisted = persisted or PersistedQueries()
        self.context_factory = context_factory
        self.limits = limits
        self._rules = (
            *specified_rules,
            depth_limit(limits.max_depth, lambda ignore: ignore.field_name.startswith("__")),
            alias_limit(limits.max_aliases),
        )
        self._documents: SizedLRUCache[str, _Prepared] = SizedLRUCache(
            limits.document_cache_size, limits.document_cache_bytes, lambda p: p.cost
        )

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
            return HTMLResponse(get_graphql_ide_html()), True
        media = media if media != "text/html" else JSON
        try:
            params = await _read_params(request)
            result, pre_execution = await self._run(request, params)
        except RequestError as exc:
            body = {"errors": [{"message": exc.message, "extensions": {"code": "BAD_REQUEST"}}]}
            return JSONResponse(body, exc.status, headers=exc.headers, media_type=media), False
        except PersistedQueryError as exc:
            return _persisted_query_refused(exc, media), False
        except AuthenticationFailed as exc:
            body = {"errors": [{"message": str(exc), "extensions": {"code": "UNAUTHENTICATED"}}]}
            headers = {"WWW-Authenticate": 'Bearer realm="accord"'}
            return JSONResponse(body, 401, headers=headers, media_type=media), False
        except StateUnavailable as exc:
            return state_unavailable.http_response(exc, media), False
        status = 400 if pre_execution and media == GRAPHQL_RESPONSE else 200
        clean = not result.errors and not (result.extensions and "stale" in result.extensions)
        return JSONResponse(_format(result), status, media_type=media), clean

    # ------------------------------------------------------------------ pipeline

    def prepare(self, query: str) -> _Prepared:
        """Parse and validate, cached by the document's text."""
        cached = self._documents.get(query)
        if cached is not None:
            return cached
        cost = 16 * len(query)  # a syntax tree takes about 15 times its text
        try:
            document = parse(query, max_tokens=self.limits.max_tokens)
        except GraphQLError as error:
            prepared = _Prepared(None, (error,), cost)
        else:
            errors = validate_document(self.schema._schema, document, self._rules)
            prepared = _Prepared(None if errors else document, tuple(errors), cost)
        self._documents[query] = prepared
        return prepared

    async def _prepare_request(self, params: dict[str, Any]) -> _Prepared:
        """Parse and validate the request's document, found through its persisted-query hash
        when it has one; an automatic persisted query is registered once it validates."""
        resolved = await self.persisted.resolve(params.get("query"), params.get("extensions"))
        prepared = self.prepare(resolved.document)
        if resolved.register is not None and prepared.document is not None:
            await self.persisted.register(resolved.register, resolved.document)
        return prepared

    async def _run(self, request: Request, params: dict[str, Any]) -> tuple[ExecutionResult, bool]:
        prepared = await self._prepare_request(params)
        if prepared.document is None:
            return ExecutionResult(None, list(prepared.errors)), True
        operation = _operation(prepared.document, params.get("operationName"))
        if operation is None:
            name = params.get("operationName")
            message = (
                f"Unknown operation named '{name}'."
                if name
                else ("Must provide operation name if query contains multiple operations.")
            )
            return ExecutionResult(None, [GraphQLError(message)]), True
        if request.method == "GET" and operation.operation is not OperationType.QUERY:
            raise RequestError(
                f"{operation.operation.value} operations are not allowed over GET; use POST",
                status=405,
                headers={"Allow": "POST"},
            )
        if operation.operation is OperationType.SUBSCRIPTION:
            raise RequestError("subscriptions are served over WebSocket at this path")
        context = await self.context_factory(request)
        outcome = execute(
            self.schema._schema,
            prepared.document,
            context_value=context,
            variable_values=params.get("variables"),
            operation_name=params.get("operationName"),
            **execution_context_class_kwargs(self.schema.execution_context_class),
        )
        result = await outcome if inspect.isawaitable(outcome) else outcome
        _add_context_extensions(result, context)
        # Variable coercion failures come back without data, before any resolver ran.
        pre_execution = (
            result.data is None
            and bool(result.errors)
            and all(error.path is None for error in result.errors or ())
        )
        return result, pre_execution


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name and op.name.value == name), None)


def _negotiate(accept: str) -> str:
    """The response media type for an Accept header: the acceptable type of highest quality,
    a named type before a wildcard of the same quality; ``q=0`` means not acceptable."""
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
        elif content_type in ("application/json", ""):
            params = _json(body, "the request body")
            if not isinstance(params, dict):
                raise RequestError("the request body must be a JSON object")
        else:
            raise RequestError(f"unsupported content type {content_type!r}", status=415)
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
    """The request body, refused with 413 as soon as it is known to be over the limit: from
    its declared length before reading anything, else while it streams in."""
    too_large = RequestError(f"the request body is over {MAX_BODY_BYTES} bytes", status=413)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _json(text: str | bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise RequestError(f"{what} is nested too deeply") from None
    except ValueError:
        raise RequestError(f"{what} is not valid JSON") from None


def _has_persisted_query(params: dict[str, Any]) -> bool:
    extensions = params.get("extensions")
    return isinstance(extensions, dict) and "persistedQuery" in extensions


def _persisted_query_refused(error: PersistedQueryError, media: str) -> Response:
    """The persisted-query protocol's answer to a refused request: its code, never cached."""
    body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
    return JSONResponse(body, error.status, headers={"Cache-Control": "no-store"}, media_type=media)


def _add_context_extensions(result: ExecutionResult, context: Any) -> None:
    """Merge what the request's context reports into the response's ``extensions``: a context
    with ``response_extensions()`` (e.g. `AccordContext`, naming values served stale) adds its
    entries."""
    report = getattr(context, "response_extensions", None)
    extra = report() if callable(report) else None
    if extra:
        result.extensions = {**(result.extensions or {}), **extra}


def _format(result: ExecutionResult) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [_format_error(error) for error in result.errors]
    if result.data is not None or not result.errors or any(e.path for e in result.errors):
        body["data"] = result.data
    if result.extensions:
        body["extensions"] = result.extensions
    return body


def _format_error(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    if state_unavailable.is_state_unavailable(original):
        return state_unavailable.graphql_error(error)  # an outage to retry, not a bug
    # An exception from a resolver that is not a GraphQLError is a bug: log it, tell nothing.
    # Before execution (no path), graphql-core wraps input coercion errors whose text is
    # meant for the client.
    if original is not None and error.path is not None and not isinstance(original, GraphQLError):
        logger.error("unexpected error at %s", error.path, exc_info=original)
        masked = GraphQLError(
            "Internal server error",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR"},
        )
        return dict(masked.formatted)
    formatted = dict(error.formatted)
    if "extensions" not in formatted:
        formatted["extensions"] = {
            "code": "GRAPHQL_VALIDATION_FAILED" if error.path is None else "BAD_USER_INPUT"
        }
    return formatted
