"""Which errors of a GraphQL execution are bugs, and how each kind is logged.

Over WebSocket and SSE, strawberry's own pipeline executes the operation and logs every error
at ERROR, with a traceback: a client's mistake (a field that does not exist, a malformed id,
no API key) would read as a defect of Accord. Here only bugs are: an exception a resolver
raised that is not a GraphQL error nor an upstream failure. A client's mistake is logged at
INFO, in one line; an upstream failure is reported by the sources' own log.
"""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionContext
from strawberry.utils.logging import StrawberryLogger

from sources.errors import SourceError

__all__ = ["LoggingSchema", "is_bug"]

logger = logging.getLogger("accord.graphql")


# Not bugs: GraphQL errors (the client's), upstream failures, and what strawberry raises
# before execution for an operation not served there (a mutation over SSE, none to run).
_NOT_BUGS = (
    GraphQLError,
    SourceError,
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
)


def is_bug(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, _NOT_BUGS)


class LoggingSchema(strawberry.Schema):
    """A strawberry schema that logs bugs at ERROR and client mistakes below it."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if is_bug(error):
                StrawberryLogger.error(error, execution_context)
            elif not isinstance(error.original_error, SourceError):
                logger.info("refused a request: %s", error.message)
