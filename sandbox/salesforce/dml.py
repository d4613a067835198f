"""Creates, updates, upserts and deletes, validated and derived as Salesforce does them.

Every change is checked the way the API checks it (unknown fields, read-only fields, JSON
types, required fields, lengths, picklists, ids and references, uniqueness, the objects' own
rules) and answered with the vendor's error code and message. Derived values follow: contact
names, opportunity probability / closed / won from the stage, line totals, opportunity amounts
and order totals rolled up from their lines, the price book an opportunity takes from its
first line. Deletes cascade where Salesforce cascades, clear lookups where it clears them and
refuse where a record is still in use. All writes land in `Store.write`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain import sfid
from sandbox.salesforce import geography
from sandbox.salesforce.errors import ApiError, not_found
from sandbox.salesforce.objects import CORPORATE_CURRENCY, stage_info
from sandbox.salesforce.schema import FieldDef, ObjectDef, Schema
from sandbox.salesforce.store import Record, Store
from sandbox.salesforce.values import from_json

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CENT = Decimal("0.01")
_ROLLED_BACK = ApiError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    [],
)


class MultipleMatches(Exception):
    """An external id value matched several records (HTTP 300 with their URLs)."""

    def __init__(self, sobject: str, ids: list[str]) -> None:
        super().__init__(f"{len(ids)} {sobject} records match")
        self.sobject = sobject
        self.ids = ids


class _Rollback(Exception):
    """Raised inside a transaction to undo an all-or-none batch that had failures."""


def _fmt_decimal(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)


class Dml:
    """The write side of the emulator, for one org."""

    def __init__(
        self,
        schema: Schema,
        store: Store,
        *,
        user_id: str,
        clock: Callable[[], dt.datetime] | None = None,
        id_pod: str = "7Q",
    ) -> None:
        self.schema = schema
        self.store = store
        self.user_id = user_id
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._pod = id_pod
        self._frozen: dt.datetime | None = None
        self._counters: dict[str, int] = {}
        self._auto: dict[tuple[str, str], int] = {
            ("Order", "OrderNumber"): 99,
            ("OrderItem", "OrderItemNumber"): 0,
        }

    # ------------------------------------------------------------------ public operations

    def now(self) -> dt.datetime:
        if self._frozen is not None:
            return self._frozen
        stamp = self._clock().astimezone(dt.UTC)
        return stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)

    @contextmanager
    def acting(self, stamp: dt.datetime | None, user_id: str | None) -> Iterator[None]:
        """Stamp every write inside with ``stamp`` and ``user_id`` (loading the seed)."""
        saved = (self._frozen, self.user_id)
        self._frozen = stamp
        self.user_id = user_id or self.user_id
        try:
            yield
        finally:
            self._frozen, self.user_id = saved

    def create(self, obj: ObjectDef, body: Any) -> str:
        if not obj.createable:
            raise ApiError(
                "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {obj.name}"
            )
        values = self._validate(obj, body, None)
        with self.store.transaction():
            return self.insert(obj, values)

    def update(self, obj: ObjectDef, record_id: str, body: Any) -> None:
        if not obj.updateable:
            raise ApiError(
                "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {obj.name}"
            )
        record = self.existing(obj, record_id)
        values = self._validate(obj, body, record)
        with self.store.transaction():
            self._modify(obj, record, values)

    def upsert(self, obj: ObjectDef, field: FieldDef, value: str, body: Any) -> tuple[str, bool]:
        """Update the one record whose external id ``field`` is ``value``, or create it."""
        if field.name == "Id":
            record = self.existing(obj, value)
            self.update(obj, record["Id"], body)
            return record["Id"], False
        matches = self.find_external(obj, field, value)
        if len(matches) > 1:
            raise MultipleMatches(obj.name, matches)
        if not isinstance(body, dict):
            raise ApiError("JSON_PARSER_ERROR", "The request body must be a JSON object")
        body = {k: v for k, v in body.items() if k.lower() != field.name.lower()}
        if matches:
            self.update(obj, matches[0], body)
            return matches[0], False
        return self.create(obj, {**body, field.name: value}), True

    def delete(self, obj: ObjectDef, record_id: str) -> None:
        if not obj.deletable:
            raise ApiError(
                "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be deleted: {obj.name}"
            )
        record = self.existing(obj, record_id)
        with self.store.transaction():
            self._delete(obj, record)

    def collection(
        self, records: list[tuple[ObjectDef | ApiError, Any]], *, update: bool, all_or_none: bool
    ) -> list[dict[str, Any]]:
        """Create or update many records; results in the composite/sobjects shape."""
        results: list[dict[str, Any]] = []

        def one(obj: ObjectDef | ApiError, body: Any) -> dict[str, Any]:
            record_id = body.get("Id") if update and isinstance(body, dict) else None
            try:
                if isinstance(obj, ApiError):
                    raise obj
                if update:
                    if not isinstance(record_id, str) or not record_id:
                        raise ApiError("MISSING_ARGUMENT", "Id not specified in an update call", [])
                    rest = {k: v for k, v in body.items() if k != "Id"}
                    self.update(obj, record_id, rest)
                    return {"id": self._id18(record_id), "success": True, "errors": []}
                new_id = self.create(obj, body)
                return {"id": new_id, "success": True, "errors": []}
            except ApiError as error:
                failed: dict[str, Any] = {"success": False, "errors": [error.record_error()]}
                if isinstance(record_id, str) and sfid.is_valid(record_id):
                    failed = {"id": self._id18(record_id), **failed}
                return failed

        if not all_or_none:
            return [one(obj, body) for obj, body in records]
        try:
            with self.store.transaction():
                results = [one(obj, body) for obj, body in records]
                if any(not result["success"] for result in results):
                    raise _Rollback
        except _Rollback:
            rolled: list[dict[str, Any]] = []
            for result in results:
                if result["success"]:
                    entry = {"success": False, "errors": [_ROLLED_BACK.record_error()]}
                    rolled.append({"id": result["id"], **entry} if update else entry)
                else:
                    rolled.append(result)
            return rolled
        return results

    # ------------------------------------------------------------------ lookups

    def existing(self, obj: ObjectDef, record_id: str) -> Record:
        """The live record ``record_id`` of ``obj``: 404 NOT_FOUND / ENTITY_IS_DELETED else."""
        try:
            full = sfid.to18(record_id)
        except ValueError:
            raise ApiError(
                "MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {record_id}", ["Id"]
            ) from None
        record = self.store.get(obj.name, full)
        if record is None:
            raise not_found()
        if record.get("IsDeleted"):
            raise ApiError("ENTITY_IS_DELETED", "entity is deleted", [])
        return record

    def find_external(self, obj: ObjectDef, field: FieldDef, value: str) -> list[str]:
        """Live records whose external id ``field`` equals ``value`` (case-insensitive)."""
        ids = self.store.matching(obj.name, field.name, value)
        return [i for i in ids if not self.store.tables[obj.name][i].get("IsDeleted")]

    def _id18(self, record_id: str) -> str:
        try:
            return sfid.to18(record_id)
        except ValueError:
            return record_id

    # ------------------------------------------------------------------ validation

    def _validate(self, obj: ObjectDef, body: Any, record: Record | None) -> dict[str, Any]:
        """The stored values a create (``record`` None) or update body asks for."""
        if not isinstance(body, dict):
            raise ApiError(
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {obj.name} from "
                f"{'START_ARRAY' if isinstance(body, list) else 'VALUE_STRING'} value "
                "or request may be missing a required field",
            )
        creating = record is None
        fields: list[tuple[FieldDef, Any]] = []
        for key, raw in body.items():
            if key == "attributes":
                continue
            field = obj.field(key)
            if field is None:
                raise ApiError(
                    "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}"
                )
            fields.append((field, raw))
        read_only: list[str] = []
        values: dict[str, Any] = {}
        for field, raw in fields:
            if field.name == "Id":
                if creating:
                    raise ApiError(
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        "cannot specify Id in an insert call",
                        ["Id"],
                    )
                if isinstance(raw, str) and record is not None and self._id18(raw) == record["Id"]:
                    continue
                read_only.append(field.name)
                continue
            if not (field.createable if creating else field.updateable):
                read_only.append(field.name)
                continue
            values[field.name] = from_json(field, raw)
        if read_only:
            raise ApiError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(read_only)}. Please check the "
                "security settings of this field and verify that it is read/write for your "
                "profile or permission set.",
                read_only,
            )
        missing = [
            f.name
            for f in obj.stored_fields()
            if f.required
            and (
                (creating and values.get(f.name) in (None, ""))
                or (not creating and f.name in values and values[f.name] in (None, ""))
            )
        ]
        if missing:
            raise ApiError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        for name, value in list(values.items()):
            values[name] = self._check(obj, obj.fields[name], value)
        self._check_unique(obj, values, record)
        return values

    def _check(self, obj: ObjectDef, field: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        if field.is_text:
            if value == "":
                return None
            if field.length and len(value) > field.length:
                raise ApiError(
                    "STRING_TOO_LONG",
                    f"{field.label}: data value too large: {value} (max length={field.length})",
                    [field.name],
                )
            if field.type == "email" and not _EMAIL.fullmatch(value):
                raise ApiError(
                    "INVALID_EMAIL_ADDRESS",
                    f"{field.label}: invalid email address: {value}",
                    [field.name],
                )
            if field.type == "picklist":
                entry = field.picklist_value(value)
                if entry is not None:
                    return entry.value
                if field.restricted_picklist and field.compound_field is None:
                    raise ApiError(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"{field.label}: bad value for restricted picklist field: {value}",
                        [field.name],
                    )
            return value
        if field.is_number:
            assert isinstance(value, Decimal)
            integer_digits = field.digits or field.precision - field.scale
            if integer_digits and abs(value) >= Decimal(10) ** integer_digits:
                raise ApiError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"{field.label}: value outside of valid range on numeric field: "
                    f"{_fmt_decimal(value)}",
                    [field.name],
                )
            return value.quantize(Decimal(1).scaleb(-field.scale), rounding=ROUND_HALF_UP)
        if field.type == "reference":
            return self._check_reference(field, value)
        return value

    def _check_reference(self, field: FieldDef, value: str) -> str | None:
        if value == "":
            return None
        try:
            full = sfid.to18(value)
        except ValueError:
            raise ApiError(
                "MALFORMED_ID", f"{field.label}: id value of incorrect type: {value}", [field.name]
            ) from None
        targets = [self.schema.objects[name] for name in field.reference_to]
        target = next((t for t in targets if t.key_prefix == full[:3]), None)
        if target is None:
            raise ApiError(
                "FIELD_INTEGRITY_EXCEPTION",
                f"{field.label}: id value of incorrect type: {value}",
                [field.name],
            )
        record = self.store.get(target.name, full)
        if record is None:
            raise ApiError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        if record.get("IsDeleted"):
            raise ApiError("ENTITY_IS_DELETED", "entity is deleted", [], status=400)
        return full

    def _check_unique(
        self, obj: ObjectDef, values: Mapping[str, Any], record: Record | None
    ) -> None:
        for name, value in values.items():
            field = obj.fields[name]
            if not field.unique or value is None:
                continue
            for other in self.store.matching(obj.name, name, str(value)):
                if record is not None and other == record["Id"]:
                    continue
                if self.store.tables[obj.name][other].get("IsDeleted"):
                    continue
                raise ApiError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {name} duplicates value on record with id: {other}",
                    [],
                )

    # ------------------------------------------------------------------ writes

    def new_id(self, prefix: str) -> str:
        self._counters[prefix] = self._counters.get(prefix, 0) + 1
        return sfid.make(prefix, self._counters[prefix], pod=self._pod)

    def _next_number(self, sobject: str, field: str, width: int) -> str:
        key = (sobject, field)
        self._auto[key] += 1
        return f"{self._auto[key]:0{width}d}"

    def insert(
        self,
        obj: ObjectDef,
        values: dict[str, Any],
        *,
        record_id: str | None = None,
        created: dt.datetime | None = None,
        user_id: str | None = None,
    ) -> str:
        """Insert a validated record, deriving its computed fields and its parents' roll-ups.

        The seed passes ``record_id``, ``created`` and ``user_id`` to load the world's records.
        """
        record_id = record_id or self.new_id(obj.key_prefix)
        stamp = created or self.now()
        user = user_id or self.user_id
        record: dict[str, Any] = {"Id": record_id, "IsDeleted": False}
        for field in obj.stored_fields():
            if field.type == "boolean" and not field.nillable:
                record[field.name] = False
        if "CurrencyIsoCode" in obj.fields and obj.fields["CurrencyIsoCode"].derived is None:
            record["CurrencyIsoCode"] = CORPORATE_CURRENCY
        if "OwnerId" in obj.fields:
            record["OwnerId"] = user
        record.update(values)
        record.update(
            CreatedDate=stamp,
            CreatedById=user,
            LastModifiedDate=stamp,
            LastModifiedById=user,
            SystemModstamp=stamp,
        )
        self._derive(obj, record, values, None)
        after = self._before_insert(obj, record)
        self.store.write("CREATE", obj.name, record_id, record, timestamp=stamp, user_id=user)
        for action in after:
            action()
        return record_id

    def _modify(self, obj: ObjectDef, record: Record, values: dict[str, Any]) -> None:
        merged = {**record, **values}
        self._derive(obj, merged, values, record)
        changes = {
            key: merged.get(key)
            for key in set(merged) | set(record)
            if merged.get(key) != record.get(key)
        }
        after = self._before_update(obj, record, merged, changes)
        stamp = self.now()
        changes.update(LastModifiedDate=stamp, LastModifiedById=self.user_id, SystemModstamp=stamp)
        self.store.write(
            "UPDATE", obj.name, record["Id"], changes, timestamp=stamp, user_id=self.user_id
        )
        for action in after:
            action()

    def _touch(self, obj: ObjectDef, record_id: str, changes: dict[str, Any]) -> None:
        """A system-made change (a roll-up, a cleared lookup), stamped like any other."""
        record = self.store.tables[obj.name][record_id]
        changes = {k: v for k, v in changes.items() if record.get(k) != v}
        if not changes:
            return
        stamp = self.now()
        changes.update(LastModifiedDate=stamp, LastModifiedById=self.user_id, SystemModstamp=stamp)
        self.store.write(
            "UPDATE", obj.name, record_id, changes, timestamp=stamp, user_id=self.user_id
        )

    # ------------------------------------------------------------------ object rules

    def _derive(
        self,
        obj: ObjectDef,
        merged: dict[str, Any],
        values: Mapping[str, Any],
        before: Record | None,
    ) -> None:
        """Compute fields that depend on other fields of the same record (in place)."""
        name = obj.name
        if name in ("Contact", "User"):
            parts = [merged.get("FirstName"), merged.get("LastName")]
            merged["Name"] = " ".join(p for p in parts if p) or None
        elif name == "Account":
            self._derive_address(merged, values, before)
        elif name == "Opportunity":
            stage = merged["StageName"]
            probability, category, closed, won = stage_info(stage)
            stage_changed = before is None or before.get("StageName") != stage
            if "Probability" not in values and stage_changed:
                merged["Probability"] = Decimal(probability)
            merged.update(IsClosed=closed, IsWon=won, ForecastCategoryName=category)
            if before is not None and before.get("HasOpportunityLineItem"):
                if "CurrencyIsoCode" in values and values["CurrencyIsoCode"] != before.get(
                    "CurrencyIsoCode"
                ):
                    raise ApiError(
                        "FIELD_INTEGRITY_EXCEPTION",
                        "field integrity exception: CurrencyIsoCode (cannot change the currency "
                        "of an opportunity with products)",
                        ["CurrencyIsoCode"],
                    )
                book = values.get("Pricebook2Id", before.get("Pricebook2Id"))
                if book != before.get("Pricebook2Id"):
                    raise ApiError(
                        "FIELD_INTEGRITY_EXCEPTION",
                        "field integrity exception: Pricebook2Id (cannot change the price book "
                        "of an opportunity with products)",
                        ["Pricebook2Id"],
                    )
                merged["Amount"] = before.get("Amount")  # read-only: the sum of the lines
            merged.setdefault("HasOpportunityLineItem", False)
            amount, chance = merged.get("Amount"), merged.get("Probability")
            merged["ExpectedRevenue"] = (
                (amount * chance / 100).quantize(_CENT)
                if amount is not None and chance is not None
                else None
            )
        elif name in ("OpportunityLineItem", "OrderItem"):
            quantity, price = merged.get("Quantity"), merged.get("UnitPrice")
            if price is None:
                raise ApiError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "field integrity exception: unknown (must specify either TotalPrice or "
                    "UnitPrice)",
                    [],
                )
            merged["TotalPrice"] = (quantity * price).quantize(_CENT, rounding=ROUND_HALF_UP)
        elif name == "Order":
            merged["StatusCode"] = merged["Status"]
            merged.setdefault("TotalAmount", Decimal("0.00"))
            if (
                before is not None
                and values.get("CurrencyIsoCode", before.get("CurrencyIsoCode"))
                != before.get("CurrencyIsoCode")
                and self._live_children("OrderItem", "OrderId", before["Id"])
            ):
                raise ApiError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "field integrity exception: CurrencyIsoCode (cannot change the currency "
                    "of an order with products)",
                    ["CurrencyIsoCode"],
                )

    def _derive_address(
        self, merged: dict[str, Any], values: Mapping[str, Any], before: Record | None
    ) -> None:
        if "BillingCountryCode" in values:
            code = values["BillingCountryCode"]
            if code is not None and code.upper() not in geography.COUNTRIES:
                raise ApiError(
                    "FIELD_INTEGRITY_EXCEPTION", geography.COUNTRY_ERROR, ["BillingCountryCode"]
                )
            merged["BillingCountryCode"] = code.upper() if code else None
            merged["BillingCountry"] = geography.COUNTRIES[code.upper()] if code else None
        elif "BillingCountry" in values:
            text = values["BillingCountry"]
            code = geography.country_code(text) if text else None
            if text and code is None:
                raise ApiError(
                    "FIELD_INTEGRITY_EXCEPTION", geography.COUNTRY_ERROR, ["BillingCountry"]
                )
            merged["BillingCountryCode"] = code
            merged["BillingCountry"] = geography.COUNTRIES[code] if code else None
        country = merged.get("BillingCountryCode")
        states = geography.STATES.get(country or "")
        if "BillingStateCode" in values:
            code = values["BillingStateCode"]
            if code is not None and (states is None or code.upper() not in states):
                raise ApiError(
                    "FIELD_INTEGRITY_EXCEPTION", geography.STATE_ERROR, ["BillingStateCode"]
                )
            merged["BillingStateCode"] = code.upper() if code else None
            merged["BillingState"] = states[code.upper()] if code and states else None
        elif "BillingState" in values:
            text = values["BillingState"]
            if states is None:
                merged["BillingStateCode"] = None
            else:
                code = geography.state_code(country or "", text) if text else None
                if text and code is None:
                    raise ApiError(
                        "FIELD_INTEGRITY_EXCEPTION", geography.STATE_ERROR, ["BillingState"]
                    )
                merged["BillingStateCode"] = code
                merged["BillingState"] = states[code] if code else None
        elif before is not None and "BillingCountryCode" in merged:
            code = merged.get("BillingStateCode")
            if code is not None and (states is None or code not in states):
                raise ApiError(
                    "FIELD_INTEGRITY_EXCEPTION", geography.STATE_ERROR, ["BillingStateCode"]
                )

    def _entry_for(self, record: Mapping[str, Any]) -> Record:
        entry = self.store.tables["PricebookEntry"][record["PricebookEntryId"]]
        if not entry.get("IsActive"):
            raise ApiError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: PricebookEntryId (pricebook entry is inactive)",
                ["PricebookEntryId"],
            )
        return entry

    def _before_insert(self, obj: ObjectDef, record: dict[str, Any]) -> list[Callable[[], None]]:
        """Cross-record rules of an insert; returns the parent updates to run after it."""
        name = obj.name
        if name == "OpportunityLineItem":
            entry = self._entry_for(record)
            opp = self.store.tables["Opportunity"][record["OpportunityId"]]
            if entry.get("CurrencyIsoCode") != opp.get("CurrencyIsoCode"):
                raise ApiError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "field integrity exception: PricebookEntryId (pricebook entry currency code "
                    "does not match opportunity currency code)",
                    ["PricebookEntryId"],
                )
            book = opp.get("Pricebook2Id")
            if book is not None and book != entry["Pricebook2Id"]:
                raise ApiError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "field integrity exception: PricebookEntryId (pricebook entry is in a "
                    "different pricebook than the one assigned to the opportunity)",
                    ["PricebookEntryId"],
                )
            record["ListPrice"] = entry["UnitPrice"]
            opp_id, entry_book = opp["Id"], entry["Pricebook2Id"]

            def rollup() -> None:
                if book is None:
                    self._touch(
                        self.schema.objects["Opportunity"], opp_id, {"Pricebook2Id": entry_book}
                    )
                self._rollup_opportunity(opp_id)

            return [rollup]
        if name == "OrderItem":
            entry = self._entry_for(record)
            order = self.store.tables["Order"][record["OrderId"]]
            if order.get("Pricebook2Id") != entry["Pricebook2Id"]:
                raise ApiError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "field integrity exception: PricebookEntryId (pricebook entry is in a "
                    "different pricebook than the one assigned to the Order, or Order has no "
                    "pricebook assigned)",
                    ["PricebookEntryId"],
                )
            if entry.get("CurrencyIsoCode") != order.get("CurrencyIsoCode"):
                raise ApiError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "field integrity exception: PricebookEntryId (pricebook entry currency code "
                    "does not match order currency code)",
                    ["PricebookEntryId"],
                )
            record["ListPrice"] = entry["UnitPrice"]
            record["OrderItemNumber"] = self._next_number("OrderItem", "OrderItemNumber", 10)
            order_id = order["Id"]
            return [lambda: self._rollup_order(order_id)]
        if name == "Order":
            record["OrderNumber"] = self._next_number("Order", "OrderNumber", 8)
        if name == "PricebookEntry":
            self._check_entry(record)
        return []

    def _before_update(
        self, obj: ObjectDef, before: Record, merged: dict[str, Any], changes: dict[str, Any]
    ) -> list[Callable[[], None]]:
        if obj.name == "OpportunityLineItem" and "TotalPrice" in changes:
            opp_id = before["OpportunityId"]
            return [lambda: self._rollup_opportunity(opp_id)]
        if obj.name == "OrderItem" and "TotalPrice" in changes:
            order_id = before["OrderId"]
            return [lambda: self._rollup_order(order_id)]
        return []

    def _check_entry(self, record: Mapping[str, Any]) -> None:
        siblings = self.store.children("PricebookEntry", "Product2Id", record["Product2Id"])
        entries = [self.store.tables["PricebookEntry"][i] for i in siblings]
        live = [e for e in entries if not e.get("IsDeleted")]
        currency = record.get("CurrencyIsoCode")
        for entry in live:
            if (
                entry["Pricebook2Id"] == record["Pricebook2Id"]
                and entry.get("CurrencyIsoCode") == currency
            ):
                raise ApiError(
                    "DUPLICATE_VALUE", "This price definition already exists in this price book", []
                )
        book = self.store.tables["Pricebook2"][record["Pricebook2Id"]]
        if not book.get("IsStandard"):
            standard = [
                e
                for e in live
                if e.get("CurrencyIsoCode") == currency
                and self.store.tables["Pricebook2"][e["Pricebook2Id"]].get("IsStandard")
            ]
            if not standard:
                raise ApiError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "You must first define a standard price for this product before adding it "
                    "to a price book.",
                    [],
                )

    def _live_children(self, sobject: str, field: str, parent_id: str) -> list[Record]:
        table = self.store.tables[sobject]
        records = (table[i] for i in self.store.children(sobject, field, parent_id))
        return [record for record in records if not record.get("IsDeleted")]

    def _rollup_opportunity(self, opp_id: str) -> None:
        opp = self.store.tables["Opportunity"][opp_id]
        if opp.get("IsDeleted"):
            return
        lines = [
            self.store.tables["OpportunityLineItem"][i]
            for i in self.store.children("OpportunityLineItem", "OpportunityId", opp_id)
        ]
        live = [line for line in lines if not line.get("IsDeleted")]
        amount = sum((line["TotalPrice"] for line in live), Decimal("0.00"))
        chance = opp.get("Probability")
        self._touch(
            self.schema.objects["Opportunity"],
            opp_id,
            {
                "Amount": amount,
                "HasOpportunityLineItem": bool(live),
                "ExpectedRevenue": (amount * chance / 100).quantize(_CENT)
                if chance is not None
                else None,
            },
        )

    def _rollup_order(self, order_id: str) -> None:
        order = self.store.tables["Order"][order_id]
        if order.get("IsDeleted"):
            return
        items = [
            self.store.tables["OrderItem"][i]
            for i in self.store.children("OrderItem", "OrderId", order_id)
        ]
        total = sum(
            (item["TotalPrice"] for item in items if not item.get("IsDeleted")), Decimal("0.00")
        )
        self._touch(self.schema.objects["Order"], order_id, {"TotalAmount": total})

    # ------------------------------------------------------------------ delete

    def _delete(self, obj: ObjectDef, record: Record) -> None:
        doomed: dict[tuple[str, str], None] = {(obj.name, record["Id"]): None}
        queue = [(obj, record["Id"])]
        while queue:
            current, current_id = queue.pop()
            for child in current.children:
                if not child.cascade_delete:
                    continue
                child_obj = self.schema.objects[child.child]
                for child_id in self.store.children(child.child, child.field, current_id):
                    key = (child.child, child_id)
                    if key in doomed or self.store.tables[child.child][child_id].get("IsDeleted"):
                        continue
                    doomed[key] = None
                    queue.append((child_obj, child_id))
        clears: list[tuple[str, str, str]] = []
        for sobject, record_id in doomed:
            current = self.schema.objects[sobject]
            for child in current.children:
                if child.cascade_delete:
                    continue
                users = [
                    i
                    for i in self.store.children(child.child, child.field, record_id)
                    if (child.child, i) not in doomed
                    and not self.store.tables[child.child][i].get("IsDeleted")
                ]
                if not users:
                    continue
                if child.restricted_delete:
                    target = self.store.tables[sobject][record_id]
                    label = target.get(current.name_field or "Id") or record_id
                    plural = self.schema.objects[child.child].label_plural
                    raise ApiError(
                        "DELETE_FAILED",
                        f"Your attempt to delete {label} could not be completed because it is "
                        f"associated with the following {plural.lower()}.: "
                        f"{', '.join(users[:5])}",
                        [],
                    )
                clears.extend((child.child, i, child.field) for i in users)
        stamp = self.now()
        for sobject, record_id in doomed:
            self.store.write(
                "DELETE",
                sobject,
                record_id,
                {
                    "IsDeleted": True,
                    "LastModifiedDate": stamp,
                    "LastModifiedById": self.user_id,
                    "SystemModstamp": stamp,
                },
                timestamp=stamp,
                user_id=self.user_id,
            )
        for sobject, record_id, field in clears:
            self._touch(self.schema.objects[sobject], record_id, {field: None})
        for sobject, record_id in doomed:
            current_record = self.store.tables[sobject][record_id]
            if sobject == "OpportunityLineItem":
                self._rollup_opportunity(current_record["OpportunityId"])
            elif sobject == "OrderItem":
                self._rollup_order(current_record["OrderId"])
