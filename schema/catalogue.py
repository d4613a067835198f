"""``_accord``: the ownership registry, readable at run time.

Introspection shows types and descriptions but not schema directives, so a tool that reads
Accord over GraphQL alone cannot see ``@owner``. ``{ _accord { fields { path owner
classification ttlSeconds } } }`` answers the same facts from the registry: who owns each
canonical field, how sensitive it is, how long it may be cached, who may write it, and which
product fills each system's role.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.ownership import REGISTRY, SYSTEM_NAMES, Classification, FieldOwnership, System
from schema.types import Info


@strawberry.type(description="One canonical field as the ownership registry describes it.")
class FieldInfo:
    path: str = strawberry.field(description='The field\'s path, e.g. "Customer.taxId".')
    type_name: str = strawberry.field(description="The type that has the field.")
    field_name: str = strawberry.field(description="The field's name in that type.")
    owner: System = strawberry.field(description="The system that owns the field.")
    owner_name: str = strawberry.field(
        description='The owner as the schema\'s descriptions name it, e.g. "the ERP".'
    )
    classification: Classification = strawberry.field(description="How sensitive the data is.")
    ttl_seconds: int = strawberry.field(
        description="How long Accord may serve a cached value; events drop it sooner."
    )
    writable_by: list[str] = strawberry.field(
        description="The roles that may change the field (empty: nobody, through Accord)."
    )
    input: str | None = strawberry.field(
        description="The updateCustomer input field that writes it, if any."
    )

    @classmethod
    def of(cls, entry: FieldOwnership) -> FieldInfo:
        return cls(
            path=entry.path,
            type_name=entry.type_name,
            field_name=entry.field_name,
            owner=entry.owner,
            owner_name=SYSTEM_NAMES[entry.owner],
            classification=entry.classification,
            ttl_seconds=entry.ttl.seconds,
            writable_by=sorted(role.value for role in entry.writable_by),
            input=entry.binding.input if entry.binding else None,
        )


@strawberry.type(description="A system Accord fronts, by the role it plays.")
class SystemInfo:
    role: System = strawberry.field(description="The role: CRM or ERP.")
    product: str = strawberry.field(description='The product that fills it, e.g. "netsuite".')


@strawberry.type(description="Facts about this Accord: its ownership registry and its systems.")
class AccordInfo:
    @strawberry.field(description="The registry's entries, in schema order.")  # type: ignore[untyped-decorator]
    def fields(
        self,
        type_name: Annotated[
            str | None,
            strawberry.argument(description="Only the fields of this type, e.g. Customer."),
        ] = None,
        owner: Annotated[
            System | None, strawberry.argument(description="Only the fields this system owns.")
        ] = None,
    ) -> list[FieldInfo]:
        return [
            FieldInfo.of(entry)
            for entry in REGISTRY
            if (type_name is None or entry.type_name == type_name)
            and (owner is None or entry.owner is owner)
        ]

    @strawberry.field(description="The systems behind this Accord.")  # type: ignore[untyped-decorator]
    def systems(self, info: Info) -> list[SystemInfo]:
        sources = info.context.sources
        return [
            SystemInfo(role=System.CRM, product=sources.crm.source),
            SystemInfo(role=System.ERP, product=sources.erp.source),
        ]
