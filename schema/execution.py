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
through four calls that end in ``getattr(source, name)``, and a field with a resolver through
a dozen more, which build its `Info` and convert each argument's name and value every time;
every field of every object of an answer pays them, a list page thousands of times.
`direct_resolvers` gives a field that needs none of that (no extension, arguments that are
scalars or enums, which strawberry passes on unchanged) a resolver that reads the attribute
or calls the resolver function itself, with the same arguments strawberry would give it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import (
    GraphQLField,
    GraphQLResolveInfo,
    get_nullable_type,
    is_leaf_type,
)
from strawberry.relay.types import GlobalID
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.field import StrawberryField

from schema.walk import definition_of, object_fields

__all__ = ["ExecutionContext", "direct_resolvers"]


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        if hasattr(executor, "_relevant_sub_fields"):
            executor._relevant_sub_fields = {}  # this event's own memo, not the subscription's
        return executor


def direct_resolvers(schema: strawberry.Schema) -> list[str]:
    """Give the fields of ``schema`` that strawberry resolves without conversions (see the
    module's text) resolvers of their own; the paths of those fields. Run before anything
    wraps the resolvers; a schema with exception handlers keeps strawberry's throughout."""
    if getattr(schema.schema_converter, "_exception_handler_specs", None):
        return []
    changed = []
    for graphql_type, name, graphql_field in object_fields(schema._schema):
        definition = definition_of(graphql_field)
        if (
            definition is None
            or definition.extensions
            or graphql_type is schema._schema.subscription_type
        ):
            continue
        direct = _direct(schema, definition, graphql_field)
        if direct is not None:
            graphql_field.resolve = direct
            changed.append(f"{graphql_type.name}.{name}")
    return changed


def _direct(
    schema: strawberry.Schema, field: StrawberryField, graphql_field: GraphQLField
) -> Callable[..., Any] | None:
    resolver = field.base_resolver
    if resolver is None:
        if field.default_resolver is getattr and field.python_name:
            return _attribute(field.python_name)
        return None
    names: list[tuple[str, str]] = []  # (GraphQL name, Python name) of each argument
    for argument in field.arguments:
        graphql_name = schema.config.name_converter.from_argument(argument)
        graphql_argument = graphql_field.args.get(graphql_name)
        if (
            graphql_argument is None
            or not argument.python_name
            or not is_leaf_type(get_nullable_type(graphql_argument.type))
            or isinstance(argument.type, StrawberryMaybe)
            or argument.type is GlobalID
            or (isinstance(argument.type, StrawberryOptional) and argument.type.of_type is GlobalID)
        ):
            return None  # a list, an input object or a special type: strawberry converts it
        names.append((graphql_name, argument.python_name))
    function = resolver.wrapped_func
    if not callable(function):
        return None
    with_self = resolver.self_parameter is not None
    sources = [
        parameter.name
        for parameter in (resolver.root_parameter, resolver.parent_parameter)
        if parameter is not None
    ]
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    info_class = schema.config.info_class

    def resolve(source: Any, info: GraphQLResolveInfo[Any], **given: Any) -> Any:
        kwargs = {python: given[name] for name, python in names if name in given}
        for parameter in sources:
            kwargs[parameter] = source
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=info, _field=field)
        return function(source, **kwargs) if with_self else function(**kwargs)

    resolve.__qualname__ = f"direct[{field.python_name}]"
    return resolve


def _attribute(name: str) -> Callable[..., Any]:
    def read(source: Any, info: Any) -> Any:
        return getattr(source, name)

    read.__qualname__ = f"read_attribute[{name}]"
    read._is_default = True  # type: ignore[attr-defined]  # as strawberry marks its own
    return read
