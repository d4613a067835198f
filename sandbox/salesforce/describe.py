"""Describe results: ``GET /sobjects`` (global), ``/sobjects/{type}`` and ``.../describe``."""

from __future__ import annotations

import base64
from typing import Any

from sandbox.salesforce.schema import FieldDef, ObjectDef, Schema

_MERGEABLE = frozenset({"Account", "Contact"})


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "rowTemplate": f"{base}/{{ID}}",
        "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
        "describe": f"{base}/describe",
        "sobject": base,
    }


def object_summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    """The describeGlobal entry of one object."""
    return {
        "activateable": False,
        "associateEntityType": None,
        "associateParentEntity": None,
        "createable": obj.createable,
        "custom": obj.custom,
        "customSetting": False,
        "deepCloneable": False,
        "deletable": obj.deletable,
        "deprecatedAndHidden": False,
        "feedEnabled": obj.name in ("Account", "Contact", "Opportunity", "Order"),
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": obj.key_prefix,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "layoutable": True,
        "mergeable": obj.name in _MERGEABLE,
        "mruEnabled": True,
        "name": obj.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "triggerable": True,
        "undeletable": obj.deletable,
        "updateable": obj.updateable,
        "urls": _urls(obj, version),
    }


def describe_global(schema: Schema, version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [object_summary(obj, version) for obj in schema],
    }


def _valid_for(entry_valid: frozenset[str] | None, controller: FieldDef | None) -> str | None:
    """Salesforce's dependent-picklist bitmap: bit i set when controlling value i allows it."""
    if entry_valid is None or controller is None:
        return None
    values = [entry.value for entry in controller.picklist]
    bits = bytearray((len(values) + 7) // 8)
    for index, value in enumerate(values):
        if value in entry_valid:
            bits[index // 8] |= 0x80 >> (index % 8)
    return base64.b64encode(bytes(bits)).decode("ascii")


def _byte_length(field: FieldDef) -> int:
    if field.is_id:
        return 18
    if field.is_text:
        return field.length * 3
    return 0


def _extra_type_info(field: FieldDef) -> str | None:
    if field.type == "textarea":
        return "plaintextarea"
    if field.name == "Name" and field.length == 121:
        return "personname"
    return None


def describe_field(obj: ObjectDef, field: FieldDef) -> dict[str, Any]:
    controller = obj.fields.get(field.controller) if field.controller else None
    default: Any = field.default_value
    if field.type == "boolean" and field.defaulted_on_create and not field.nillable:
        default = False
    return {
        "aggregatable": field.filterable and field.type != "address",
        "aiPredictionField": False,
        "autoNumber": field.auto_number,
        "byteLength": _byte_length(field),
        "calculated": field.calculated,
        "calculatedFormula": None,
        "cascadeDelete": field.type == "reference" and field.on_parent_delete == "cascade",
        "caseSensitive": field.case_sensitive,
        "compoundFieldName": field.compound_field,
        "controllerName": field.controller,
        "createable": field.createable,
        "custom": field.custom,
        "defaultValue": default,
        "defaultValueFormula": None,
        "defaultedOnCreate": field.defaulted_on_create,
        "dependentPicklist": field.controller is not None,
        "deprecatedAndHidden": False,
        "digits": field.digits,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": field.external_id,
        "extraTypeInfo": _extra_type_info(field),
        "filterable": field.filterable,
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": field.filterable
        and field.type not in ("currency", "double", "percent", "datetime", "address"),
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": field.id_lookup,
        "inlineHelpText": None,
        "label": field.label,
        "length": field.length,
        "mask": None,
        "maskType": None,
        "name": field.name,
        "nameField": field.name_field,
        "namePointing": False,
        "nillable": field.nillable,
        "permissionable": field.nillable and field.createable,
        "picklistValues": [
            {
                "active": True,
                "defaultValue": entry.value == field.default_value,
                "label": entry.label,
                "validFor": _valid_for(entry.valid_for, controller),
                "value": entry.value,
            }
            for entry in field.picklist
        ],
        "polymorphicForeignKey": False,
        "precision": field.precision,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(field.reference_to),
        "relationshipName": field.relationship_name,
        "relationshipOrder": None,
        "restrictedDelete": field.type == "reference" and field.on_parent_delete == "restrict",
        "restrictedPicklist": field.restricted_picklist,
        "scale": field.scale,
        "searchPrefilterable": field.type == "reference",
        "soapType": field.soap_type,
        "sortable": field.sortable,
        "type": field.type,
        "unique": field.unique,
        "updateable": field.updateable,
        "writeRequiresMasterRead": False,
    }


def describe_object(obj: ObjectDef, version: str) -> dict[str, Any]:
    result = object_summary(obj, version)
    result.update(
        actionOverrides=[],
        childRelationships=[
            {
                "cascadeDelete": child.cascade_delete,
                "childSObject": child.child,
                "deprecatedAndHidden": False,
                "field": child.field,
                "junctionIdListNames": [],
                "junctionReferenceTo": [],
                "relationshipName": child.name,
                "restrictedDelete": child.restricted_delete,
            }
            for child in obj.children
        ],
        compactLayoutable=True,
        defaultImplementation=None,
        extendedBy=None,
        extendsInterfaces=None,
        fields=[describe_field(obj, field) for field in obj.fields.values()],
        implementedBy=None,
        implementsInterfaces=None,
        listviewable=None,
        lookupLayoutable=None,
        namedLayoutInfos=[],
        networkScopeFieldName=None,
        recordTypeInfos=[
            {
                "active": True,
                "available": True,
                "defaultRecordTypeMapping": True,
                "developerName": "Master",
                "master": True,
                "name": "Master",
                "recordTypeId": "012000000000000AAA",
                "urls": {
                    "layout": f"/services/data/v{version}/sobjects/{obj.name}/describe/layouts/"
                    "012000000000000AAA"
                },
            }
        ],
        searchLayoutable=True,
        sobjectDescribeOption="FULL",
        supportedScopes=[{"label": "All " + obj.label_plural.lower(), "name": "everything"}],
    )
    return dict(sorted(result.items()))
