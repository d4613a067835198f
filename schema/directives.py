"""The ``@owner`` schema directive and the helper that declares an owned field.

Every canonical field is declared through `owned`, which reads the ownership registry: the
field's description ends with the name of its owner, and the printed SDL carries
``@owner(system: ERP, ttlSeconds: 30, classification: CONFIDENTIAL)`` so that tools reading
the schema can see who owns what.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry
from strawberry.schema_directive import Location

from domain.ownership import REGISTRY, Classification, System
from schema.enums import describe_values

OwnerSystem = strawberry.enum(System, name="OwnerSystem", description="Which system owns a field.")
DataClassification = strawberry.enum(
    Classification, name="DataClassification", description="How sensitive a field's data is."
)
describe_values(
    OwnerSystem,
    {
        "CRM": "The CRM (Salesforce) owns it.",
        "ERP": "The ERP owns it.",
        "ACCORD": "Accord derives it from the other two.",
    },
)
describe_values(
    DataClassification,
    {
        "PUBLIC": "Fit for anyone who may use Accord.",
        "INTERNAL": "For the company's own staff and tools.",
        "CONFIDENTIAL": "Finance data: for the roles that work with it.",
        "PII": "Personal data: for the roles that need it, shown to others masked or not at all.",
    },
)


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="The system that owns this field, how long Accord may cache it, and how "
    "sensitive it is. Read from Accord's ownership registry.",
)
class Owner:
    system: System
    ttl_seconds: int
    classification: Classification


F = TypeVar("F", bound=Callable[..., Any])


def owned(path: str, text: str, **field_kwargs: Any) -> Any:
    """A strawberry field for the canonical ``path`` (``"Customer.name"``), described and
    marked from the registry; use it as a field's default."""
    entry = REGISTRY[path]
    return strawberry.field(
        description=entry.describe(text),
        directives=[
            Owner(
                system=entry.owner,
                ttl_seconds=entry.ttl.seconds,
                classification=entry.classification,
            )
        ],
        **field_kwargs,
    )


def resolves(path: str, text: str) -> Callable[[F], F]:
    """`owned` as a decorator for a field with a resolver method."""
    return cast(Callable[[F], F], owned(path, text))
