"""Accord's canonical GraphQL schema.

`build_schema` assembles the roots; `schema.ownership` is the registry every field's owner,
cache class and sensitivity come from. ``schema/schema.graphql`` is the committed SDL: a test
fails when the code's schema and the file differ (regenerate with ``python -m schema``).
"""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from schema.directives import Owner
from schema.query import Query
from schema.scalars import SCALAR_MAP


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        schema_directives=[Owner],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
    )
