"""Assembly of the schema: the roots, the ``@owner`` directive and the scalars.

Kept apart from the package's ``__init__`` so that importing a leaf module of the package
(the ownership registry, ids) does not build the whole schema.
"""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.directives import Owner
from schema.mutation import Mutation, WorkflowQueries
from schema.query import Query as ReadQuery
from schema.scalars import SCALAR_MAP

Query = merge_types("Query", (ReadQuery, WorkflowQueries))


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        schema_directives=[Owner],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
    )
