"""Demand-control directives: ``@cost`` and ``@listSize`` of the IBM GraphQL Cost Directives
specification, put on the schema's fields from the ownership registry.

The weights follow the specification's defaults (an object, interface or union costs 1, a
scalar or enum 0) and add `SOURCE_READ` to every field the registry says a source (the CRM
or the ERP) holds: a field read from a source costs more than one Accord derives. A
``@cost`` is printed only where it differs from the default, so a derived field carries none.

Lists are sized as the specification says: a paged list (a field with a ``first`` argument
that returns a connection) takes its size from ``first``, applied to the connection's
``edges`` and ``nodes``; every other list has an ``assumedSize``. The printed SDL carries both
directives (committed in schema/schema.graphql), and the cost analysis (`api.cost`) reads the
same directive objects off the fields (a test holds them equal to the published SDL), so
what tools see is what Accord enforces.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    get_named_type,
    is_composite_type,
)
from strawberry.schema_directive import Location

from domain.ownership import REGISTRY, System
from resolvers.paging import MAX_PAGE

SOURCE_READ = 1
"""What reading a field from a source adds to its weight."""

SLICING_ARGUMENT = "first"
SIZED_FIELDS = ["edges", "nodes"]
DEFAULT_ASSUMED_SIZE = 10
ASSUMED_SIZES: dict[str, int] = {
    # How many items such a list holds in a typical record: lines of a document, invoices
    # billed from an order, payments applied to an invoice, invoices a payment pays, the
    # systems that hold a customer. Other lists (workflow steps, a payload's errors) take
    # `DEFAULT_ASSUMED_SIZE`.
    # A gateway's batch of entity references: at most a page of them (Accord's own analysis
    # counts the references a request really sends).
    "Query._entities": MAX_PAGE,
    "Order.lines": 10,
    "Invoice.lines": 10,
    "Opportunity.lines": 10,
    "Order.invoices": 3,
    "Invoice.payments": 3,
    "Payment.applications": 3,
    "Customer.systems": 2,
}


@strawberry.schema_directive(
    name="cost",
    locations=[
        Location.ARGUMENT_DEFINITION,
        Location.ENUM,
        Location.FIELD_DEFINITION,
        Location.INPUT_FIELD_DEFINITION,
        Location.OBJECT,
        Location.SCALAR,
    ],
    description="The weight of a field, argument or type in an operation's cost (IBM GraphQL "
    "Cost Directives). Fields read from a source weigh more than fields Accord derives.",
)
class Cost:
    weight: str  # a number written as a string, as the specification defines it


@strawberry.schema_directive(
    name="listSize",
    locations=[Location.FIELD_DEFINITION],
    description="How many items a list field returns, for cost analysis (IBM GraphQL Cost "
    "Directives): from a slicing argument, applied to the sized fields, or an assumed size.",
)
class ListSize:
    assumed_size: int | None = strawberry.UNSET
    slicing_arguments: list[str] | None = strawberry.UNSET
    sized_fields: list[str] | None = strawberry.UNSET
    require_one_slicing_argument: bool | None = True


def _is_list(field_type: GraphQLOutputType) -> bool:
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    return isinstance(inner, GraphQLList)


def field_weight(path: str, field_type: GraphQLOutputType) -> int | None:
    """The ``@cost`` weight of a canonical field, or None where the default applies."""
    if path not in REGISTRY or REGISTRY[path].owner is System.ACCORD:
        return None
    base = 1 if is_composite_type(get_named_type(field_type)) else 0
    return base + SOURCE_READ


def list_size(path: str, field_type: GraphQLOutputType, arguments: set[str]) -> ListSize | None:
    """The ``@listSize`` of a field, or None when it returns neither a list nor a page."""
    named = get_named_type(field_type)
    if SLICING_ARGUMENT in arguments and named.name.endswith("Connection"):
        return ListSize(
            slicing_arguments=[SLICING_ARGUMENT],
            sized_fields=list(SIZED_FIELDS),
            require_one_slicing_argument=False,  # `first` has a default
        )
    if _is_list(field_type) and not (
        named.name.endswith(("Connection", "Edge")) or path.split(".")[1] in SIZED_FIELDS
    ):
        return ListSize(assumed_size=ASSUMED_SIZES.get(path, DEFAULT_ASSUMED_SIZE))
    return None


def mark_costs(schema: strawberry.Schema) -> None:
    """Put ``@cost`` and ``@listSize`` on the fields of a built schema, as the printed SDL
    shows them. Connection types' own ``edges`` and ``nodes`` are sized by the field that
    returns the connection."""
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        definition: Any = (graphql_type.extensions or {}).get("strawberry-definition")
        if definition is None:
            continue
        by_name = {schema.config.name_converter.get_graphql_name(f): f for f in definition.fields}
        for name, graphql_field in graphql_type.fields.items():
            strawberry_field = by_name.get(name)
            if strawberry_field is None or any(
                isinstance(d, Cost | ListSize) for d in strawberry_field.directives
            ):
                continue  # types are built once per process, schemas once per app
            path = f"{graphql_type.name}.{name}"
            weight = field_weight(path, graphql_field.type)
            if weight is not None:
                strawberry_field.directives.append(Cost(weight=str(weight)))
            size = list_size(path, graphql_field.type, set(graphql_field.args))
            if size is not None:
                strawberry_field.directives.append(size)
