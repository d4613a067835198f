"""Assembly of the schema: the roots, the ``@owner`` directive and the scalars.

Kept apart from the package's ``__init__`` so that importing a leaf module of the package
(the ownership registry, ids) does not build the whole schema.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import MaskErrors
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.access import guard_fields
from schema.cost import Cost, ListSize, mark_costs
from schema.descriptions import describe, describe_directive
from schema.directives import Owner
from schema.error_log import LoggingSchema, is_bug
from schema.execution import ExecutionContext, direct_resolvers
from schema.mutations import Mutation as WriteMutation
from schema.mutations import WorkflowQueries
from schema.query import Query as ReadQuery
from schema.reconciliation import ReconciliationMutations, ReconciliationQueries
from schema.scalars import SCALAR_MAP
from schema.subscription import Subscription

Query = merge_types("Query", (ReadQuery, WorkflowQueries, ReconciliationQueries))
Mutation = merge_types("Mutation", (WriteMutation, ReconciliationMutations))


def options(**config: Any) -> dict[str, Any]:
    """What every build of the schema shares, the standalone one and the federation subgraph
    (`schema.federation`): schema directives, extensions, scalars."""
    return {
        "schema_directives": [Owner, Cost, ListSize],
        # Over WebSocket and SSE (strawberry's pipeline), an exception that is not a
        # GraphQLError is a bug: its text stays in the log, the client sees a generic message.
        "extensions": [lambda: MaskErrors(should_mask_error=is_bug)],
        "config": StrawberryConfig(scalar_map=SCALAR_MAP, **config),
        "execution_context_class": ExecutionContext,  # flat memory per subscription event
    }


def build_schema() -> strawberry.Schema:
    schema = LoggingSchema(query=Query, mutation=Mutation, subscription=Subscription, **options())
    describe(schema._schema)
    mark_costs(schema)
    # @cost and @listSize go on fields after the build, so the SDL printer would convert their
    # definitions afresh, undescribed: convert them once here, described, for it to reuse.
    for directive in (Cost, ListSize):
        converted = schema.schema_converter.from_schema_directive(directive)
        describe_directive(converted)
        schema._schema_graphql_directives.setdefault(directive, converted)
    direct_resolvers(schema)
    guard_fields(schema._schema)  # who reads what, from the registry's classifications
    return schema


def sdl_of(schema: strawberry.Schema) -> str:
    """The schema as SDL, directives included, as ``schema/schema.graphql`` holds it."""
    return schema.as_str() + "\n"
