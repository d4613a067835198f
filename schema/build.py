"""Assembly of the schema: the roots, the ``@owner`` directive and the scalars.

Kept apart from the package's ``__init__`` so that importing a leaf module of the package
(the ownership registry, ids) does not build the whole schema.
"""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaskErrors
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.directives import Owner
from schema.error_log import LoggingSchema, is_bug
from schema.execution import ExecutionContext
from schema.mutation import Mutation, WorkflowQueries
from schema.query import Query as ReadQuery
from schema.scalars import SCALAR_MAP
from schema.subscription import Subscription

Query = merge_types("Query", (ReadQuery, WorkflowQueries))


def build_schema() -> strawberry.Schema:
    return LoggingSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        schema_directives=[Owner],
        # Over WebSocket and SSE (strawberry's pipeline), an exception that is not a
        # GraphQLError is a bug: its text stays in the log, the client sees a generic message.
        extensions=[lambda: MaskErrors(should_mask_error=is_bug)],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        execution_context_class=ExecutionContext,  # flat memory per subscription event
    )
