"""Object and field metadata of the emulated org.

One `Schema` drives everything that depends on what an object looks like: the describe calls,
the validation of writes, the SOQL binding (field names, relationships, filter types) and the
serialisation of records. Field names are matched case-insensitively and always answered in
their canonical spelling, as Salesforce does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

# Field types, as describe answers them in ``type``.
TEXT_TYPES = frozenset(
    {"string", "textarea", "picklist", "phone", "url", "email", "combobox", "encryptedstring"}
)
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"currency", "double", "percent", "int"})

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "currency": "xsd:double",
    "double": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "address": "urn:address",
}


@dataclass(frozen=True)
class PicklistValue:
    value: str
    label: str
    valid_for: frozenset[str] | None = None  # controlling values (dependent picklists)


@dataclass(frozen=True)
class FieldDef:
    """One field. ``derived`` is a path read through lookups (``("PricebookEntryId",
    "Product2Id")``): the value lives on another record and is never stored here."""

    name: str
    label: str
    type: str
    length: int = 0
    precision: int = 0
    scale: int = 0
    digits: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    external_id: bool = False
    id_lookup: bool = False
    unique: bool = False
    case_sensitive: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    child_relationship: str | None = None  # the parent's name for the list of children
    on_parent_delete: str = "restrict"  # "cascade", "clear" or "restrict"
    picklist: tuple[PicklistValue, ...] = ()
    restricted_picklist: bool = False
    controller: str | None = None  # controlling field of a dependent picklist
    default_value: str | None = None
    calculated: bool = False
    auto_number: bool = False
    name_field: bool = False
    filterable: bool = True
    sortable: bool = True
    derived: tuple[str, ...] | None = None
    compound_of: tuple[str, ...] = ()  # components of a compound (address) field
    compound_field: str | None = None  # the compound field this one belongs to

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def required(self) -> bool:
        """A value must be given on create (describe: not nillable, not defaulted)."""
        return self.createable and not self.nillable and not self.defaulted_on_create

    @property
    def soap_type(self) -> str:
        return _SOAP_TYPES.get(self.type, "xsd:string")

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES

    @property
    def is_id(self) -> bool:
        return self.type in ID_TYPES

    @property
    def is_number(self) -> bool:
        return self.type in NUMBER_TYPES

    def picklist_value(self, value: str) -> PicklistValue | None:
        """The picklist entry for ``value`` (case-insensitive), or None."""
        lowered = value.lower()
        for entry in self.picklist:
            if entry.value.lower() == lowered:
                return entry
        return None


@dataclass(frozen=True)
class ChildRelationship:
    name: str
    child: str
    field: str
    cascade_delete: bool
    restricted_delete: bool


@dataclass
class ObjectDef:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: dict[str, FieldDef]
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    name_field: str | None = "Name"
    children: list[ChildRelationship] = field(default_factory=list)
    _lower: dict[str, FieldDef] = field(default_factory=dict, repr=False)
    _relationships: dict[str, FieldDef] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._lower = {name.lower(): f for name, f in self.fields.items()}
        self._relationships = {
            f.relationship_name.lower(): f for f in self.fields.values() if f.relationship_name
        }

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    def field(self, name: str) -> FieldDef | None:
        """The field called ``name`` in any letter case, or None."""
        return self._lower.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field whose relationship is called ``name`` (``Account``), or None."""
        return self._relationships.get(name.lower())

    def stored_fields(self) -> Iterator[FieldDef]:
        """Fields held on the record itself (not derived, not compound)."""
        for f in self.fields.values():
            if f.derived is None and not f.compound_of:
                yield f


class Schema:
    """All objects of the org, by name (case-insensitive) and by key prefix."""

    def __init__(self, objects: Iterable[ObjectDef]) -> None:
        self.objects: dict[str, ObjectDef] = {obj.name: obj for obj in objects}
        self._lower = {name.lower(): obj for name, obj in self.objects.items()}
        self._prefixes = {obj.key_prefix: obj for obj in self.objects.values()}
        for obj in self.objects.values():
            for f in obj.fields.values():
                if f.type != "reference" or not f.child_relationship:
                    continue
                for target in f.reference_to:
                    self.objects[target].children.append(
                        ChildRelationship(
                            name=f.child_relationship,
                            child=obj.name,
                            field=f.name,
                            cascade_delete=f.on_parent_delete == "cascade",
                            restricted_delete=f.on_parent_delete == "restrict",
                        )
                    )

    def object(self, name: str) -> ObjectDef | None:
        return self._lower.get(name.lower())

    def by_prefix(self, prefix: str) -> ObjectDef | None:
        return self._prefixes.get(prefix)

    def __iter__(self) -> Iterator[ObjectDef]:
        return iter(self.objects.values())
