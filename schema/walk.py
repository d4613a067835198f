"""The schema's object fields, as the passes over a built schema walk them: the access
guards (`schema.access`), the direct resolvers (`schema.execution`) and the cost weights
(`api.cost`)."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


def object_fields(schema: GraphQLSchema) -> Iterator[tuple[GraphQLObjectType, str, GraphQLField]]:
    """Each field of each object type of ``schema`` but introspection's: its type, its
    name and the field."""
    for graphql_type in schema.type_map.values():
        if isinstance(graphql_type, GraphQLObjectType) and not graphql_type.name.startswith("__"):
            for name, graphql_field in graphql_type.fields.items():
                yield graphql_type, name, graphql_field


def definition_of(graphql_field: GraphQLField) -> StrawberryField | None:
    """The strawberry field a GraphQL field was built from, if strawberry built it."""
    definition = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return definition if isinstance(definition, StrawberryField) else None
