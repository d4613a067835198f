"""Accord as an Apollo Federation v2 subgraph: the standalone schema's own types, with keys.

The subgraph is not a second schema written beside the first. Each type that federation
annotates is a subclass of the standalone type that keeps its GraphQL name, description,
fields and resolvers and adds only federation directives:

- entities, which other subgraphs may extend and reference: ``Customer`` by ``id``, and also
  by ``salesforceId`` and by ``erpId`` (the keys other systems hold); ``Order``, ``Invoice``
  and ``Payment`` by ``id``;
- ``@shareable`` value types that other subgraphs may define and resolve too: ``Money``,
  ``PageInfo``, ``Address``;
- ``@inaccessible``: ``_accord`` and its types, facts about this Accord that make sense to
  its direct clients only and stay out of the supergraph's API.

Subscriptions are left out: a gateway's federated subscriptions need a transport of their
own; direct clients subscribe at ``/graphql`` as before (docs/federation.md).

``_entities`` resolves references through the request's DataLoaders, exactly as the root
lookups do: every reference of one request is loaded concurrently, so N customers cost one
call per system, like a page of N. A reference that cannot be read (malformed, an unknown
type) is null with a BAD_USER_INPUT error at its index; a source outage nulls the fields
that source owns, with the same typed errors as on the read path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol, TypeVar, cast

import strawberry
from strawberry.federation.schema import FederationAny
from strawberry.types.base import get_object_definition

from resolvers import customers as customer_resolvers
from resolvers import lookahead
from resolvers.errors import BadInputError
from resolvers.paging import MAX_PAGE
from schema.access import guard_fields
from schema.bound import Address
from schema.build import Mutation, Query, options
from schema.catalogue import AccordInfo, FieldInfo, SystemInfo
from schema.cost import mark_costs
from schema.descriptions import describe
from schema.execution import direct_resolvers
from schema.query import customer_ref, erp_id_of
from schema.types import Customer, Info, Invoice, Money, Order, PageInfo, Payment

# Every directive Accord uses exists since v2.0; v2.3 is understood by every current gateway.
FEDERATION_VERSION: Final = "2.3"
MAX_REPRESENTATIONS = MAX_PAGE  # a request resolves no more references than a page holds

T = TypeVar("T", bound=type)


def annotated(**federation: Any) -> Callable[[T], T]:
    """Make the decorated subclass the same GraphQL type as its base (name, description,
    fields), with the given federation directives (``keys``, ``shareable``, ``inaccessible``)."""

    def annotate(cls: T) -> T:
        base = get_object_definition(cls.__mro__[1], strict=True)
        return strawberry.federation.type(
            cls, name=base.name, description=base.description, **federation
        )

    return annotate


def _key(representation: Mapping[str, Any], name: str) -> Any:
    value = representation.get(name)
    if value is not None and not isinstance(value, str):
        raise BadInputError(f"{name} of a reference is a string", argument="representations")
    return value


@annotated(keys=["id", "salesforceId", "erpId"])
class CustomerEntity(Customer):
    @classmethod
    async def resolve_reference(
        cls, info: Info, representation: Mapping[str, Any]
    ) -> CustomerEntity | None:
        keys = [_key(representation, name) for name in ("id", "salesforceId", "erpId")]
        if sum(key is not None for key in keys) != 1:
            raise BadInputError(
                "a Customer reference has exactly one key: id, salesforceId or erpId",
                argument="representations",
            )
        ref = customer_ref(info.context.sources.erp, *keys)
        fields = lookahead.selected_on(info, "Customer")
        data = await customer_resolvers.resolve_root(info.context, ref, fields)
        return cls(data=data) if data else None


def _erp_id(info: Info, type_name: str, representation: Mapping[str, Any]) -> str:
    value = _key(representation, "id")
    if value is None:
        raise BadInputError(f"a {type_name} reference has its id", argument="representations")
    return erp_id_of(info, type_name, value)


@annotated(keys=["id"])
class OrderEntity(Order):
    @classmethod
    async def resolve_reference(
        cls, info: Info, representation: Mapping[str, Any]
    ) -> OrderEntity | None:
        found = await info.context.loaders.order_by_id.load(_erp_id(info, "Order", representation))
        return cls.of(found) if found else None  # type: ignore[return-value]


@annotated(keys=["id"])
class InvoiceEntity(Invoice):
    @classmethod
    async def resolve_reference(
        cls, info: Info, representation: Mapping[str, Any]
    ) -> InvoiceEntity | None:
        erp_id = _erp_id(info, "Invoice", representation)
        found = await info.context.loaders.invoice_by_id.load(erp_id)
        return cls.of(found) if found else None  # type: ignore[return-value]


@annotated(keys=["id"])
class PaymentEntity(Payment):
    @classmethod
    async def resolve_reference(
        cls, info: Info, representation: Mapping[str, Any]
    ) -> PaymentEntity | None:
        erp_id = _erp_id(info, "Payment", representation)
        found = await info.context.loaders.payment_by_id.load(erp_id)
        return cls.of(found) if found else None  # type: ignore[return-value]


def _marked(base: type, **federation: Any) -> type:
    """``base`` with federation directives and nothing of its own."""
    return annotated(**federation)(type(base.__name__, (base,), {"__module__": __name__}))


SHAREABLE = tuple(_marked(base, shareable=True) for base in (Money, PageInfo, Address))
INACCESSIBLE = tuple(
    _marked(base, inaccessible=True) for base in (AccordInfo, FieldInfo, SystemInfo)
)


_ACCORD_FIELD = get_object_definition(Query, strict=True).get_field("accord_info")


@strawberry.type(name="Query")
class SubgraphQuery(Query):  # type: ignore[misc]
    @strawberry.federation.field(  # type: ignore[untyped-decorator]
        name="_accord",
        description=_ACCORD_FIELD.description if _ACCORD_FIELD else None,
        inaccessible=True,
    )
    def accord_info(self) -> AccordInfo:
        return AccordInfo()


class Resolvable(Protocol):
    @classmethod
    async def resolve_reference(cls, info: Info, representation: Mapping[str, Any]) -> Any: ...


ENTITIES: dict[str, type[Resolvable]] = {
    "Customer": CustomerEntity,
    "Order": OrderEntity,
    "Invoice": InvoiceEntity,
    "Payment": PaymentEntity,
}
ANNOTATED: tuple[type, ...] = (*ENTITIES.values(), *SHAREABLE, *INACCESSIBLE)


class SubgraphSchema(strawberry.federation.Schema):
    """The federation schema whose ``_entities`` reads every reference of a request at once."""

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        if len(representations) > MAX_REPRESENTATIONS:
            raise BadInputError(
                f"at most {MAX_REPRESENTATIONS} references in one request",
                argument="representations",
            )
        # Each item is an awaitable (resolved concurrently by the executor, so the loaders
        # see every reference in one batch) or the error that makes that item null.
        return [cast(FederationAny, _resolve(info, item)) for item in representations]


def _resolve(info: Info, representation: object) -> Any:
    if not isinstance(representation, dict) or not isinstance(
        representation.get("__typename"), str
    ):
        return BadInputError(
            "a reference is an object with its __typename", argument="representations"
        )
    type_name = representation["__typename"]
    entity = ENTITIES.get(type_name)
    if entity is None:
        return BadInputError(
            f"{type_name!r} is not an entity of Accord ({', '.join(ENTITIES)})",
            argument="representations",
        )
    fields = {name: value for name, value in representation.items() if name != "__typename"}
    return entity.resolve_reference(info, fields)


def build_subgraph_schema() -> SubgraphSchema:
    """Accord's subgraph schema: queries and mutations, the annotated types, ``_entities``."""
    schema = SubgraphSchema(
        query=SubgraphQuery,
        mutation=Mutation,
        types=ANNOTATED,
        federation_version=FEDERATION_VERSION,
        # Each annotated type shares its name with its base: the annotated one, converted
        # first, stands for both (checked below).
        **options(_unsafe_disable_same_type_validation=True),
    )
    type_map = schema.schema_converter.type_map
    for annotated_type in ANNOTATED:
        definition = get_object_definition(annotated_type, strict=True)
        if type_map[definition.name].definition is not definition:
            raise RuntimeError(f"the subgraph's {definition.name} is not the annotated type")
    describe(schema._schema)
    mark_costs(schema)
    direct_resolvers(schema)
    guard_fields(schema._schema)  # the same field rules behind a gateway as on /graphql
    # In a supergraph the roots belong to every subgraph: a description of Accord's would
    # describe them all (and differ from the others', which composition reports).
    for root in (schema._schema.query_type, schema._schema.mutation_type):
        if root is not None:
            root.description = None
    return schema
