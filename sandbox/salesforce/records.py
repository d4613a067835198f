"""Reading field values off records, and records as the REST API answers them."""

from __future__ import annotations

from typing import Any

from sandbox.salesforce.schema import FieldDef, ObjectDef
from sandbox.salesforce.store import Record, Store
from sandbox.salesforce.values import to_json

_ADDRESS_KEYS = (
    ("city", "City"),
    ("country", "Country"),
    ("countryCode", "CountryCode"),
    ("geocodeAccuracy", None),
    ("latitude", None),
    ("longitude", None),
    ("postalCode", "PostalCode"),
    ("state", "State"),
    ("stateCode", "StateCode"),
    ("street", "Street"),
)


def value_of(store: Store, obj: ObjectDef, record: Record, field: FieldDef) -> Any:
    """The stored value of ``field`` on ``record``, following derived paths through lookups."""
    if field.derived is not None:
        current_obj, current = obj, record
        for step in field.derived[:-1]:
            ref = current_obj.fields[step]
            target_id = value_of(store, current_obj, current, ref)
            if target_id is None:
                return None
            target_obj = store.schema.objects[ref.reference_to[0]]
            target = store.get(target_obj.name, target_id)
            if target is None:
                return None
            current_obj, current = target_obj, target
        return value_of(store, current_obj, current, current_obj.fields[field.derived[-1]])
    if field.compound_of:
        return _address(field, record)
    return record.get(field.name)


def _address(field: FieldDef, record: Record) -> dict[str, Any] | None:
    prefix = field.name.removesuffix("Address")
    parts = {key: record.get(prefix + suffix) if suffix else None for key, suffix in _ADDRESS_KEYS}
    if all(value is None for value in parts.values()):
        return None
    return parts


def attributes(obj: ObjectDef, record_id: str, version: str) -> dict[str, str]:
    return {"type": obj.name, "url": f"/services/data/v{version}/sobjects/{obj.name}/{record_id}"}


def render(
    store: Store,
    obj: ObjectDef,
    record: Record,
    version: str,
    fields: list[FieldDef] | None = None,
) -> dict[str, Any]:
    """The record as ``GET /sobjects/{type}/{id}`` answers it: all fields, or ``fields``."""
    out: dict[str, Any] = {"attributes": attributes(obj, record["Id"], version)}
    for field in fields if fields is not None else obj.fields.values():
        value = value_of(store, obj, record, field)
        out[field.name] = value if field.compound_of else to_json(field, value)
    return out
