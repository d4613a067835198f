"""GraphQL results as every transport sends them: the same body over HTTP, WebSocket and SSE.

An exception from a resolver that is not a GraphQLError is a bug: it is logged, and the
client reads "Internal server error" only. An error without a code gets one
(GRAPHQL_VALIDATION_FAILED before execution, BAD_USER_INPUT during it). For a caller who may
not read upstream query text (every role but ops, `schema.access`), the query statements a
vendor's message quotes are withheld from error messages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from graphql import ExecutionResult, GraphQLError

from api import state_unavailable
from domain.ownership import Role
from schema.access import may_read_upstream_text, redact_query_text

logger = logging.getLogger("accord.graphql")


def format_result(
    result: ExecutionResult,
    extensions: Mapping[str, Any] | None = None,
    *,
    reader: Role | None = None,
) -> dict[str, Any]:
    """The response body of ``result`` for a caller of role ``reader``, with ``extensions``
    merged into its own."""
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [format_error(error, reader=reader) for error in result.errors]
    if result.data is not None or not result.errors or any(e.path for e in result.errors):
        body["data"] = result.data
    merged = {**(extensions or {}), **(result.extensions or {})}
    if merged:
        body["extensions"] = merged
    return body


def format_error(error: GraphQLError, *, reader: Role | None = None) -> dict[str, Any]:
    original = error.original_error
    if state_unavailable.is_state_unavailable(original):
        return state_unavailable.graphql_error(error)  # an outage to retry, not a bug
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
    if not may_read_upstream_text(reader):
        formatted["message"] = redact_query_text(str(formatted["message"]))
    if "extensions" not in formatted:
        formatted["extensions"] = {
            "code": "GRAPHQL_VALIDATION_FAILED" if error.path is None else "BAD_USER_INPUT"
        }
    return formatted


def refusal(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    """A body of one error, for a request refused before any GraphQL ran."""
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
