"""Fields made from the ownership registry: a canonical type's plain fields and the
updateCustomer input.

A plain field's GraphQL field is built from its registry entry (`domain.ownership.Binding`):
its type from the binding's kind, its description and ``@owner`` directive from the entry, and
its resolver reads the binding's attribute from the side of the record its owner holds. The
`registry_fields` class decorator lays a type's fields out in registry order, the plain ones
built here and the others taken from the class, so the schema shows every field where the
registry lists it and a field that changes owner changes where it is read from.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import strawberry

from domain.ownership import REGISTRY, SYSTEM_NAMES, FieldOwnership, ValueKind
from schema.directives import owned
from schema.scalars import CountryCode, CurrencyCode
from sources import records

T = TypeVar("T", bound=type)


class Sided(Protocol):
    """What a type with plain fields gives them: the owner's side of its record."""

    def value_of(self, entry: FieldOwnership) -> Any: ...


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


@strawberry.type(description="A postal address.")
class Address:
    street: str | None = strawberry.field(description="Street and number.")
    city: str | None = strawberry.field(description="City or town.")
    state: str | None = strawberry.field(description="State, province or region.")
    postal_code: str | None = strawberry.field(description="Postal or ZIP code.")
    country: CountryCode | None = strawberry.field(description="ISO 3166-1 alpha-2 country.")

    @classmethod
    def of(cls, address: records.Address) -> Address:
        return cls(
            street=address.street,
            city=address.city,
            state=address.state,
            postal_code=address.postal_code,
            country=CountryCode(address.country) if address.country else None,
        )


@strawberry.input(
    description="A postal address; all four of street, city, postal code and country are "
    "required for billing."
)
class AddressInput:
    street: str | None = strawberry.field(default=None, description="Street and number.")
    city: str | None = strawberry.field(default=None, description="City or town.")
    state: str | None = strawberry.field(default=None, description="State, province or region.")
    postal_code: str | None = strawberry.field(default=None, description="Postal or ZIP code.")
    country: CountryCode | None = strawberry.field(
        default=None, description="ISO 3166-1 alpha-2 country."
    )

    def record(self) -> records.Address:
        return records.Address(self.street, self.city, self.state, self.postal_code, self.country)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _currency(value: Any) -> CurrencyCode | None:
    return CurrencyCode(value) if value else None


def _address(value: Any) -> Address | None:
    return Address.of(value) if value is not None else None


# kind -> (the GraphQL type of the field, the converter from the attribute's value)
_SHOWN: dict[ValueKind, tuple[Any, Callable[[Any], Any]]] = {
    ValueKind.TEXT: (str | None, _text),
    ValueKind.CURRENCY: (CurrencyCode | None, _currency),
    ValueKind.ADDRESS: (Address | None, _address),
}

# kind -> the Python type of an input field
_WRITTEN: dict[ValueKind, Any] = {
    ValueKind.TEXT: str | None,
    ValueKind.ADDRESS: AddressInput | None,
    ValueKind.MONEY: decimal.Decimal | None,
    ValueKind.ID: strawberry.ID | None,
}


def plain_field(entry: FieldOwnership) -> Any:
    """The strawberry field of a plain registry entry."""
    binding = entry.bound
    if binding.kind not in _SHOWN:
        raise ValueError(f"{entry.path} is not a plain field shown as a value")
    shown, convert = _SHOWN[binding.kind]

    def resolve(root: strawberry.Parent[Sided]) -> Any:
        return convert(root.value_of(entry))

    resolve.__annotations__["return"] = shown
    resolve.__name__ = snake(entry.field_name)
    return owned(entry.path, binding.description, resolver=resolve)


def registry_fields(type_name: str) -> Callable[[T], T]:
    """Lay ``type_name``'s fields out as the registry lists them (apply below
    ``@strawberry.type``): plain fields built from their entries, the others taken from the
    class, which must declare each of them."""

    def build(cls: T) -> T:
        namespace: dict[str, Any] = {
            name: value
            for name, value in vars(cls).items()
            if name not in ("__dict__", "__weakref__")
        }
        entries = REGISTRY.of_type(type_name)
        ordered: dict[str, Any] = {}
        for entry in entries:
            name = snake(entry.field_name)
            if entry.plain:
                if name in namespace:
                    raise TypeError(f"{type_name}.{name} is plain: the registry builds it")
                ordered[name] = plain_field(entry)
            elif name in namespace:
                ordered[name] = namespace.pop(name)
            else:
                raise TypeError(f"{type_name} declares no field {name} ({entry.path})")
        rest = {k: v for k, v in namespace.items() if k not in ordered}
        return type(cls.__name__, cls.__bases__, {**rest, **ordered})  # type: ignore[return-value]

    return build


def update_inputs(cls: T) -> T:
    """Add to the updateCustomer input one optional field per registry entry it may write,
    typed by the binding and described by the entry: the owner it goes to, who may write it."""
    annotations = dict(vars(cls).get("__annotations__", {}))
    for entry in REGISTRY.inputs():
        name = snake(entry.input_name)
        annotations[name] = _WRITTEN[entry.bound.written_as]
        setattr(cls, name, strawberry.field(default=None, description=input_description(entry)))
    cls.__annotations__ = annotations
    return cls


def input_description(entry: FieldOwnership) -> str:
    note = entry.bound.input_note
    roles = " or ".join(sorted(role.value for role in entry.writable_by)) or "no role"
    lead = f"{note[:1].upper()}{note[1:]}. " if note else ""
    return f"{lead}Written to {SYSTEM_NAMES[entry.owner]}; {roles} may change it."
