"""How Accord's schema executes: a subscription's memory stays flat however long it runs, and
a field that only reads its source's attribute costs one call.

graphql-core (3.3) resolves each subscription event with a shallow copy of the subscription's
executor, and so shares one memo of collected sub-fields among all its events. The memo is
keyed by the identity of a list built anew for every event, so it never hits, and grows by
an entry per event for as long as the subscription lives: a Lightning page left open on an
account for a day holds every event's fields. Each event's executor gets a memo of its own
here, dropped with the event.

Accord's request pipeline (`api.pipeline`) does not keep a subscription's executor at all: it
builds one for each event. This class covers subscriptions run by strawberry's own
``Schema.subscribe``.

Strawberry resolves a field without a resolver of its own (an amount, a currency, a status)
through four calls that end in ``getattr(source, name)``; every field of every object of an
answer pays them, a list page thousands of times. `read_attributes` gives such fields a
resolver that reads the attribute in one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

__all__ = ["ExecutionContext", "read_attributes"]


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        if hasattr(executor, "_relevant_sub_fields"):
            executor._relevant_sub_fields = {}  # this event's own memo, not the subscription's
        return executor


def read_attributes(schema: GraphQLSchema) -> list[str]:
    """Give each field of ``schema`` that strawberry resolves by reading an attribute of its
    source (no resolver, no extension, the default ``getattr``) a resolver that only reads
    it; the paths of those fields. Run before anything wraps the resolvers."""
    changed = []
    for graphql_type in schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for name, graphql_field in graphql_type.fields.items():
            definition = (graphql_field.extensions or {}).get(
                GraphQLCoreConverter.DEFINITION_BACKREF
            )
            if (
                isinstance(definition, StrawberryField)
                and getattr(graphql_field.resolve, "_is_default", False)  # strawberry's basic
                and definition.is_basic_field
                and definition.default_resolver is getattr
                and definition.python_name
            ):
                graphql_field.resolve = _attribute(definition.python_name)
                changed.append(f"{graphql_type.name}.{name}")
    return changed


def _attribute(name: str) -> Callable[..., Any]:
    def read(source: Any, info: Any) -> Any:
        return getattr(source, name)

    read.__qualname__ = f"read_attribute[{name}]"
    read._is_default = True  # type: ignore[attr-defined]  # as strawberry marks its own
    return read
