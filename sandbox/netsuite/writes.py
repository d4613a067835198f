"""Record writes: request bodies checked as NetSuite checks them, turned into new records.

`Writer` never changes the store. Each operation validates the body against the record as it
stands and returns the records to commit (the written record first; creating an invoice from
a sales order also marks the order billed). The caller commits them.

Rules worth knowing:

- A field absent from a PATCH body stays as it is; ``null`` clears it (a required field then
  fails as missing). Unknown fields fail with INVALID_CONTENT unless the request says
  ``X-NetSuite-PropertyNameValidation: Ignore`` (or ``Warning``); read-only fields (balances,
  totals, status, dates kept by the system) fail the same way.
- Sublists (``item``, ``apply``, ``addressBook``) take ``{"items": [...]}``. Lines that name an
  existing line (``line``; ``doc`` for ``apply``; ``id`` for ``addressBook``) update it, other
  lines are added; ``?replace=item`` makes the given lines the whole sublist.
- References are ``{"id": "123"}`` (or a bare id); a customer may also be given as
  ``{"externalId": "CUST-000001"}``.
- A transaction's currency and subsidiary must be the customer's; a payment may apply only to
  open invoices of its customer in its currency, at most their amount remaining, and at most
  the payment amount in total.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Container, Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.netsuite.errors import (
    NetSuiteError,
    invalid_content,
    invalid_reference,
    invalid_value,
    user_error,
)
from sandbox.netsuite.model import (
    CREDIT_HOLD,
    INVOICE,
    PAYMENT,
    SALES_ORDER,
    UNBILLED_ORDER_STATUSES,
    AddressRec,
    ApplyRec,
    CustomerRec,
    LineRec,
    TransactionRec,
    money,
)
from sandbox.netsuite.render import CUSTOMER, RecordType
from sandbox.netsuite.store import Kind, Record, Store

Commit = tuple[Kind, int, Record | None]

MAX_TEXT = 4000
MAX_AMOUNT = Decimal("1e15")

_CUSTOMER_FIELDS = {
    "entityId",
    "companyName",
    "email",
    "phone",
    "externalId",
    "subsidiary",
    "currency",
    "terms",
    "creditLimit",
    "creditHoldOverride",
    "vatRegNumber",
    "isInactive",
    "addressBook",
}
_CUSTOMER_READ_ONLY = {
    "id",
    "balance",
    "overdueBalance",
    "unbilledOrders",
    "dateCreated",
    "lastModifiedDate",
    "defaultAddress",
    "isPerson",
}
_TRAN_COMMON = {"tranId", "tranDate", "currency", "subsidiary", "externalId", "memo"}
_TRAN_FIELDS = {
    SALES_ORDER: _TRAN_COMMON | {"entity", "otherRefNum", "orderStatus", "item"},
    INVOICE: _TRAN_COMMON | {"entity", "otherRefNum", "dueDate", "createdFrom", "item"},
    PAYMENT: _TRAN_COMMON | {"customer", "payment", "apply"},
}
_TRAN_READ_ONLY = {
    "id",
    "status",
    "total",
    "subtotal",
    "amountPaid",
    "amountRemaining",
    "applied",
    "unapplied",
    "createdDate",
    "lastModifiedDate",
    "exchangeRate",
}
_LINE_FIELDS = {"line", "item", "quantity", "rate", "amount", "description"}
_APPLY_FIELDS = {"doc", "apply", "amount"}
_APPLY_READ_ONLY = {"line", "due", "total", "refNum", "type", "applyDate", "currency"}
_ADDRESS_LINE_FIELDS = {"id", "label", "defaultBilling", "defaultShipping", "addressBookAddress"}
_ADDRESS_LINE_READ_ONLY = {"internalId", "addressBookAddress_text", "isResidential"}
_ADDRESS_FIELDS = {"addr1", "city", "state", "zip", "country", "addressee"}
_ADDRESS_READ_ONLY = {"addrText", "override"}

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Writer:
    def __init__(self, store: Store, *, strict_names: bool = True) -> None:
        self.store = store
        self.strict_names = strict_names

    # ------------------------------------------------------------------ entry points

    def create(
        self, rtype: RecordType, body: Mapping[str, Any], *, external_id: str | None = None
    ) -> list[Commit]:
        if external_id is not None:
            body = {**body, "externalId": external_id}
        if rtype is CUSTOMER:
            return [self._customer(None, body, replace_sublists=set())]
        assert rtype.tran_type is not None
        return self._transaction(rtype.tran_type, None, body, replace_sublists=set())

    def update(
        self,
        rtype: RecordType,
        existing: Record,
        body: Mapping[str, Any],
        *,
        replace_sublists: set[str],
    ) -> list[Commit]:
        if isinstance(existing, CustomerRec):
            return [self._customer(existing, body, replace_sublists=replace_sublists)]
        return self._transaction(existing.type, existing, body, replace_sublists=replace_sublists)

    def delete(self, existing: Record) -> list[Commit]:
        store = self.store
        dependent = user_error("This record cannot be deleted because it has dependent records.")
        if isinstance(existing, CustomerRec):
            if store.transactions_of(existing.id):
                raise dependent
            return [("customer", existing.id, None)]
        if existing.type == INVOICE and store.payments_applied_to(existing.id):
            raise dependent
        if existing.type == SALES_ORDER and store.invoices_from(existing.id):
            raise dependent
        return [("transaction", existing.id, None)]

    # ------------------------------------------------------------------ field checks

    def _check_names(
        self,
        body: Mapping[str, Any],
        allowed: set[str],
        read_only: set[str],
        prefix: str,
        record_name: str,
    ) -> None:
        for name in body:
            if name == "links" or name in allowed:
                continue
            path = prefix + name
            if name in read_only:
                raise user_error(f"You cannot set the read-only field {name}.", path)
            if self.strict_names:
                raise invalid_content(
                    "Invalid content in the request body. "
                    f"The property '{name}' does not exist on record type '{record_name}'.",
                    path,
                )

    # ------------------------------------------------------------------ customers

    def _customer(
        self, existing: CustomerRec | None, body: Mapping[str, Any], *, replace_sublists: set[str]
    ) -> Commit:
        store = self.store
        self._check_names(body, _CUSTOMER_FIELDS, _CUSTOMER_READ_ONLY, "", "customer")
        now = store.now()
        if existing is None:
            new_id = store.new_customer_id()
            current = CustomerRec(
                id=new_id,
                entity_id="",
                company_name="",
                subsidiary=0,
                currency=0,
                date_created=now,
                last_modified=now,
            )
        else:
            current = replace(existing, addresses=list(existing.addresses), last_modified=now)
        values = _Fields(body, "")
        if values.has("companyName"):
            current.company_name = values.text("companyName", "Company Name") or ""
        if values.has("entityId"):
            current.entity_id = values.text("entityId", "Customer ID") or ""
        if values.has("email"):
            current.email = values.text("email", "Email")
            if current.email is not None and not _EMAIL.fullmatch(current.email):
                raise invalid_value(current.email, "email", "email")
        if values.has("phone"):
            current.phone = values.text("phone", "Phone")
        if values.has("externalId"):
            current.external_id = values.text("externalId", "External ID")
        if values.has("vatRegNumber"):
            current.vat_reg_number = values.text("vatRegNumber", "Tax Reg. Number")
        if values.has("isInactive"):
            current.is_inactive = values.boolean("isInactive")
        if values.has("creditLimit"):
            limit = values.number("creditLimit")
            if limit is not None and limit < 0:
                raise invalid_value(limit, "creditLimit", "creditLimit")
            current.credit_limit = limit
        if values.has("creditHoldOverride"):
            hold = values.enum("creditHoldOverride", set(CREDIT_HOLD))
            current.credit_hold = hold or "AUTO"
        if values.has("subsidiary"):
            current.subsidiary = values.known_ref("subsidiary", store.subsidiaries) or 0
            if existing is not None and current.subsidiary != existing.subsidiary:
                if store.transactions_of(existing.id):
                    raise user_error(
                        "You cannot change the subsidiary of a customer with transactions.",
                        "subsidiary",
                    )
                if not values.has("currency") and current.subsidiary in store.subsidiaries:
                    current.currency = store.subsidiaries[current.subsidiary].currency
        if values.has("terms"):
            current.terms = values.known_ref("terms", store.terms)
        currency_given = values.has("currency")
        if currency_given:
            current.currency = values.known_ref("currency", store.currencies) or 0
        if "addressBook" in body:
            current.addresses = self._addresses(
                current, body["addressBook"], "addressBook" in replace_sublists
            )
        # Cross-field rules.
        if not current.company_name:
            raise user_error("Please enter value(s) for: Company Name", "companyName")
        if not current.subsidiary:
            raise user_error("Please enter value(s) for: Primary Subsidiary", "subsidiary")
        subsidiary = store.subsidiaries[current.subsidiary]
        if not current.currency or (not currency_given and existing is None):
            current.currency = subsidiary.currency
        if current.currency != subsidiary.currency:
            raise invalid_reference("currency", current.currency, "currency")
        if not current.entity_id:
            current.entity_id = f"CUST{current.id}"
        if current.external_id is not None:
            other = store.customer_by_eid(current.external_id)
            if other is not None and other.id != current.id:
                raise user_error(
                    "A customer record with this external ID already exists.", "externalId"
                )
        return ("customer", current.id, current)

    def _addresses(self, customer: CustomerRec, value: Any, replace_all: bool) -> list[AddressRec]:
        lines = _sublist_items(value, "addressBook")
        result = [] if replace_all else [replace(a) for a in customer.addresses]
        by_id = {a.id: a for a in result}
        for index, line in enumerate(lines):
            path = f"addressBook.items[{index}]."
            self._check_names(
                line, _ADDRESS_LINE_FIELDS, _ADDRESS_LINE_READ_ONLY, path, "customer addressBook"
            )
            values = _Fields(line, path)
            key = values.integer("id") if values.has("id") else None
            target = by_id.get(key) if key is not None else None
            if key is not None and target is None and not replace_all:
                raise invalid_reference("addressBook line", key, path + "id")
            if target is None:
                target = AddressRec(id=0, addr1=None, city=None, state=None, zip=None, country=None)
                result.append(target)
            if values.has("label"):
                target.label = values.text("label", "Label")
            if values.has("defaultBilling"):
                target.default_billing = values.boolean("defaultBilling")
                if target.default_billing:
                    for other in result:
                        if other is not target:
                            other.default_billing = False
            if values.has("defaultShipping"):
                target.default_shipping = values.boolean("defaultShipping")
                if target.default_shipping:
                    for other in result:
                        if other is not target:
                            other.default_shipping = False
            if "addressBookAddress" in line:
                self._address(target, line["addressBookAddress"], path + "addressBookAddress.")
        fresh = [a for a in result if a.id == 0]
        for address, new_id in zip(fresh, self.store.new_address_ids(len(fresh)), strict=True):
            address.id = new_id
            if address.label is None:
                address.label = address.addr1
        if result and not any(a.default_billing for a in result):
            result[0].default_billing = True
        return result

    def _address(self, target: AddressRec, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise invalid_content("Invalid content in the request body.", path.rstrip("."))
        self._check_names(value, _ADDRESS_FIELDS, _ADDRESS_READ_ONLY, path, "address")
        values = _Fields(value, path)
        if values.has("addr1"):
            target.addr1 = values.text("addr1", "Address 1")
        if values.has("city"):
            target.city = values.text("city", "City")
        if values.has("state"):
            target.state = values.text("state", "State")
        if values.has("zip"):
            target.zip = values.text("zip", "Zip")
        if values.has("addressee"):
            target.addressee = values.text("addressee", "Addressee")
        if values.has("country"):
            country = values.enum("country", None)
            if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
                raise invalid_value(country, "country", path + "country")
            target.country = country

    # ------------------------------------------------------------------ transactions

    def _transaction(
        self,
        tran_type: str,
        existing: TransactionRec | None,
        body: Mapping[str, Any],
        *,
        replace_sublists: set[str],
    ) -> list[Commit]:
        store = self.store
        names = {SALES_ORDER: "salesOrder", INVOICE: "invoice", PAYMENT: "customerPayment"}
        self._check_names(body, _TRAN_FIELDS[tran_type], _TRAN_READ_ONLY, "", names[tran_type])
        now = store.now()
        if existing is None:
            current = TransactionRec(
                id=store.new_transaction_id(),
                type=tran_type,
                tran_id="",
                tran_date=store.reference_date(),
                entity=0,
                currency=0,
                subsidiary=0,
                created=now,
                last_modified=now,
                status="B" if tran_type in (SALES_ORDER, PAYMENT) else "A",
            )
        else:
            current = replace(
                existing,
                lines=[replace(line) for line in existing.lines],
                applies=[replace(a) for a in existing.applies],
                last_modified=now,
            )
        values = _Fields(body, "")
        entity_field = "customer" if tran_type == PAYMENT else "entity"
        if values.has(entity_field):
            entity = values.customer_ref(entity_field, store)
            current.entity = entity or 0
        if not current.entity:
            label = "Customer"
            raise user_error(f"Please enter value(s) for: {label}", entity_field)
        customer = store.customers.get(current.entity)
        if customer is None:
            raise invalid_reference(entity_field, current.entity, entity_field)
        if (
            existing is not None
            and existing.entity != current.entity
            and (existing.applies or store.payments_applied_to(existing.id))
        ):
            raise user_error(
                "You cannot change the customer of a transaction that has payments applied.",
                entity_field,
            )
        if values.has("tranId"):
            current.tran_id = values.text("tranId", "Number") or ""
        if values.has("tranDate"):
            current.tran_date = values.date("tranDate") or store.reference_date()
        if values.has("externalId"):
            current.external_id = values.text("externalId", "External ID")
        if values.has("memo"):
            current.memo = values.text("memo", "Memo")
        if values.has("otherRefNum"):
            current.other_ref_num = values.text("otherRefNum", "PO #")
        current.currency = _customers_ref(
            values,
            "currency",
            store.currencies,
            held=current.currency,
            customers=customer.currency,
            new=existing is None,
        )
        if current.currency != customer.currency:
            raise user_error(
                f"The currency {store.currencies[current.currency].name} is not allowed for "
                f"customer {customer.ref_name}.",
                "currency",
                "INVALID_KEY_OR_REF",
            )
        current.subsidiary = _customers_ref(
            values,
            "subsidiary",
            store.subsidiaries,
            held=current.subsidiary,
            customers=customer.subsidiary,
            new=existing is None,
        )
        if current.subsidiary != customer.subsidiary:
            raise user_error(
                f"The subsidiary {store.subsidiaries[current.subsidiary].name} is not the "
                f"subsidiary of customer {customer.ref_name}.",
                "subsidiary",
                "INVALID_KEY_OR_REF",
            )
        if (
            existing is not None
            and existing.currency != current.currency
            and (existing.applies or store.payments_applied_to(existing.id))
        ):
            raise user_error(
                "You cannot change the currency of a transaction that has payments applied.",
                "currency",
            )
        extra: list[Commit] = []
        if tran_type == SALES_ORDER:
            self._sales_order_fields(current, values)
        elif tran_type == INVOICE:
            extra = self._invoice_fields(current, existing, values, customer)
        if tran_type in (SALES_ORDER, INVOICE):
            if "item" in body:
                current.lines = self._lines(current, body["item"], "item" in replace_sublists)
            elif existing is None and tran_type == INVOICE and current.created_from is not None:
                order = store.transactions[current.created_from]
                current.lines = [replace(line) for line in order.lines]
            if not current.lines:
                raise user_error(
                    "You must enter at least one line item for this transaction.", "item"
                )
            if tran_type == INVOICE and existing is not None:
                paid = store.amount_paid(existing)
                if current.total < paid:
                    raise user_error(
                        "The invoice total cannot be less than the amount already paid.", "item"
                    )
        if tran_type == PAYMENT:
            self._payment_fields(current, existing, values, body, replace_sublists)
        if not current.tran_id:
            current.tran_id = store.next_tran_id(tran_type)
        if current.external_id is not None:
            other = store.transaction_by_eid(tran_type, current.external_id)
            if other is not None and other.id != current.id:
                raise user_error(
                    "A transaction of this type with this external ID already exists.",
                    "externalId",
                )
        return [("transaction", current.id, current), *extra]

    def _sales_order_fields(self, current: TransactionRec, values: _Fields) -> None:
        if values.has("orderStatus"):
            status = values.enum("orderStatus", {"A", "B"})
            if status is not None:
                if current.status not in ("A", "B"):
                    raise user_error(
                        "The order status can only be changed while the order is pending "
                        "approval or fulfillment.",
                        "orderStatus",
                    )
                current.status = status

    def _invoice_fields(
        self,
        current: TransactionRec,
        existing: TransactionRec | None,
        values: _Fields,
        customer: CustomerRec,
    ) -> list[Commit]:
        store = self.store
        extra: list[Commit] = []
        if values.has("createdFrom"):
            if existing is not None:
                raise user_error(
                    "You cannot change the Created From field of an invoice.", "createdFrom"
                )
            order_id = values.ref("createdFrom")
            if order_id is not None:
                order = store.transactions.get(order_id)
                if order is None or order.type != SALES_ORDER or order.entity != current.entity:
                    raise invalid_reference("createdFrom", order_id, "createdFrom")
                if order.status not in UNBILLED_ORDER_STATUSES | {"G"}:
                    raise user_error(
                        "The sales order cannot be billed in its current status.", "createdFrom"
                    )
                current.created_from = order_id
                if order.status in UNBILLED_ORDER_STATUSES:
                    billed = replace(order, status="G", last_modified=store.now())
                    extra.append(("transaction", order.id, billed))
        if values.has("dueDate"):
            current.due_date = values.date("dueDate")
        if current.due_date is None or (existing is None and not values.has("dueDate")):
            terms = store.terms.get(customer.terms) if customer.terms is not None else None
            current.due_date = current.tran_date + dt.timedelta(days=terms.days if terms else 0)
        return extra

    def _lines(self, tran: TransactionRec, value: Any, replace_all: bool) -> list[LineRec]:
        store = self.store
        precision = store.precision(tran.currency)
        items = _sublist_items(value, "item")
        result = [] if replace_all else [replace(line) for line in tran.lines]
        by_line = {line.line: line for line in result}
        next_line = max((line.line for line in tran.lines), default=0) + 1
        for index, raw in enumerate(items):
            path = f"item.items[{index}]."
            self._check_names(raw, _LINE_FIELDS, set(), path, "item line")
            values = _Fields(raw, path)
            key = values.integer("line") if values.has("line") else None
            target = by_line.get(key) if key is not None else None
            if key is not None and target is None and not replace_all:
                raise invalid_reference("line", key, path + "line")
            new = target is None
            if values.has("item"):
                item_id = values.ref("item")
                if item_id is None or item_id not in store.items:
                    raise invalid_reference("item", item_id, path + "item")
            elif new:
                raise user_error("Please enter value(s) for: Item", path + "item")
            else:
                item_id = target.item if target is not None else 0
            item = store.items[item_id]
            quantity = values.number("quantity") if values.has("quantity") else None
            rate = values.number("rate") if values.has("rate") else None
            amount = values.number("amount") if values.has("amount") else None
            if target is None:
                target = LineRec(
                    line=key if key is not None else next_line,
                    item=item_id,
                    quantity=Decimal(1),
                    rate=item.prices.get(tran.currency, Decimal(0)),
                    amount=Decimal(0),
                    description=item.displayname,
                )
                if key is None:
                    next_line += 1
                else:
                    next_line = max(next_line, key + 1)
                result.append(target)
                by_line[target.line] = target
            elif target.item != item_id:
                target.item = item_id
                target.description = item.displayname
                if rate is None and amount is None:
                    target.rate = item.prices.get(tran.currency, Decimal(0))
            if quantity is not None:
                if quantity <= 0:
                    raise invalid_value(quantity, "quantity", path + "quantity")
                target.quantity = quantity
            if rate is not None:
                if rate < 0:
                    raise invalid_value(rate, "rate", path + "rate")
                target.rate = rate
            if amount is not None:
                if amount < 0:
                    raise invalid_value(amount, "amount", path + "amount")
                target.amount = money(amount, precision)
                if rate is None:
                    target.rate = (amount / target.quantity).quantize(Decimal("0.0001"))
            else:
                target.amount = money(target.quantity * target.rate, precision)
            if values.has("description"):
                target.description = values.text("description", "Description")
        return sorted(result, key=lambda line: line.line)

    def _payment_fields(
        self,
        current: TransactionRec,
        existing: TransactionRec | None,
        values: _Fields,
        body: Mapping[str, Any],
        replace_sublists: set[str],
    ) -> None:
        store = self.store
        precision = store.precision(current.currency)
        if "apply" in body:
            current.applies = self._applies(
                current, existing, body["apply"], "apply" in replace_sublists
            )
        if values.has("payment"):
            amount = values.number("payment")
            if amount is not None and amount <= 0:
                raise invalid_value(amount, "payment", "payment")
            current.payment = None if amount is None else money(amount, precision)
        if current.payment is None:
            current.payment = current.applied
        if current.payment <= 0:
            raise user_error("Please enter value(s) for: Payment Amount", "payment")
        if current.applied > current.payment:
            raise user_error(
                "The total amount applied exceeds the payment amount.", "apply", "INVALID_FLD_VALUE"
            )

    def _applies(
        self,
        payment: TransactionRec,
        existing: TransactionRec | None,
        value: Any,
        replace_all: bool,
    ) -> list[ApplyRec]:
        store = self.store
        precision = store.precision(payment.currency)
        items = _sublist_items(value, "apply")
        result = [] if replace_all else [replace(a) for a in payment.applies]
        previously = {a.doc: a.amount for a in existing.applies} if existing else {}
        for index, raw in enumerate(items):
            path = f"apply.items[{index}]."
            self._check_names(raw, _APPLY_FIELDS, _APPLY_READ_ONLY, path, "apply line")
            values = _Fields(raw, path)
            doc = values.ref("doc")
            if doc is None:
                raise user_error("Please enter value(s) for: Document", path + "doc")
            invoice = store.transactions.get(doc)
            if invoice is None or invoice.type != INVOICE or invoice.entity != payment.entity:
                raise invalid_reference("doc", doc, path + "doc")
            if invoice.currency != payment.currency:
                raise user_error(
                    f"Invoice {invoice.tran_id} is in another currency than the payment.",
                    path + "doc",
                    "INVALID_KEY_OR_REF",
                )
            apply = values.boolean("apply") if values.has("apply") else True
            result = [a for a in result if a.doc != doc]
            if not apply:
                continue
            due = store.amount_remaining(invoice) + previously.get(doc, Decimal(0))
            amount = values.number("amount") if values.has("amount") else None
            if amount is None:
                amount = due
            amount = money(amount, precision)
            if amount <= 0:
                raise invalid_value(amount, "amount", path + "amount")
            if amount > due:
                raise user_error(
                    f"The amount applied to invoice {invoice.tran_id} ({amount}) exceeds its "
                    f"amount due ({due}).",
                    path + "amount",
                    "INVALID_FLD_VALUE",
                )
            result.append(ApplyRec(doc=doc, amount=amount))
        for number, apply_line in enumerate(result, start=1):
            apply_line.line = number
        return result


# --------------------------------------------------------------------------- value parsing


def _customers_ref(
    values: _Fields,
    name: str,
    known: Container[int],
    *,
    held: int,
    customers: int,
    new: bool,
) -> int:
    """A transaction's currency or subsidiary: the one the body gives (which must exist),
    else the one the transaction ``held``; the customer's when that leaves none, and on a
    ``new`` transaction that does not give one."""
    given = values.has(name)
    value = (values.known_ref(name, known) or 0) if given else held
    if not value or (new and not given):
        return customers
    return value


def _sublist_items(value: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(value, dict) or not isinstance(value.get("items"), list):
        raise invalid_content(
            f"Invalid content in the request body. The sublist '{name}' takes an object with "
            "an 'items' array.",
            name,
        )
    extra = set(value) - {"items", "links", "totalResults", "count", "hasMore", "offset"}
    if extra:
        raise invalid_content(
            f"Invalid content in the request body. Unexpected property '{sorted(extra)[0]}'.",
            name,
        )
    items: list[dict[str, Any]] = []
    for index, item in enumerate(value["items"]):
        if not isinstance(item, dict):
            raise invalid_content("Invalid content in the request body.", f"{name}.items[{index}]")
        items.append(item)
    return items


class _Fields:
    """Typed access to the fields of one body object; errors point at ``prefix + name``."""

    def __init__(self, body: Mapping[str, Any], prefix: str) -> None:
        self.body = body
        self.prefix = prefix

    def has(self, name: str) -> bool:
        return name in self.body

    def path(self, name: str) -> str:
        return self.prefix + name

    def text(self, name: str, label: str) -> str | None:
        value = self.body[name]
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise invalid_value(_show(value), name, self.path(name))
        text = str(value).strip()
        if len(text) > MAX_TEXT:
            raise user_error(
                f"The field {label} contains more than the maximum number "
                f"({MAX_TEXT}) of characters allowed.",
                self.path(name),
                "INVALID_FLD_VALUE",
            )
        return text or None

    def boolean(self, name: str) -> bool:
        value = self.body[name]
        if not isinstance(value, bool):
            raise invalid_value(_show(value), name, self.path(name))
        return value

    def number(self, name: str) -> Decimal | None:
        value = self.body[name]
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise invalid_value(_show(value), name, self.path(name))
        try:
            number = Decimal(value)
        except InvalidOperation as exc:
            raise invalid_value(_show(value), name, self.path(name)) from exc
        if not number.is_finite() or abs(number) >= MAX_AMOUNT:
            raise invalid_value(_show(value), name, self.path(name))
        return number

    def integer(self, name: str) -> int:
        value = self.body[name]
        if isinstance(value, str) and _digits(value):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**18:
            return value
        raise invalid_value(_show(value), name, self.path(name))

    def date(self, name: str) -> dt.date | None:
        value = self.body[name]
        if value is None:
            return None
        if isinstance(value, str) and _DATE.fullmatch(value):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise invalid_value(_show(value), name, self.path(name))

    def ref(self, name: str) -> int | None:
        """An internal id from ``{"id": "123"}``, ``{"id": 123}`` or a bare id."""
        value = self.body[name]
        if value is None:
            return None
        raw = value.get("id") if isinstance(value, dict) else value
        if isinstance(raw, str) and _digits(raw):
            return int(raw)
        if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < 10**18:
            return raw
        raise invalid_reference(name, _show(raw), self.path(name))

    def known_ref(self, name: str, known: Container[int]) -> int | None:
        """`ref`, refused as an invalid reference unless ``known`` holds the id."""
        value = self.ref(name)
        if value is not None and value not in known:
            raise invalid_reference(name, value, self.path(name))
        return value

    def customer_ref(self, name: str, store: Store) -> int | None:
        value = self.body[name]
        if isinstance(value, dict) and "id" not in value and "externalId" in value:
            external = value["externalId"]
            found = store.customer_by_eid(external) if isinstance(external, str) else None
            if found is None:
                raise invalid_reference(name, _show(external), self.path(name))
            return found.id
        return self.ref(name)

    def enum(self, name: str, allowed: set[str] | None) -> str | None:
        value = self.body[name]
        if value is None:
            return None
        raw = value.get("id") if isinstance(value, dict) else value
        if not isinstance(raw, str) or (allowed is not None and raw not in allowed):
            raise invalid_value(_show(raw), name, self.path(name))
        return raw


def _digits(text: str) -> bool:
    """An internal id written as text: 1 to 18 ASCII digits."""
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


__all__ = ["Commit", "NetSuiteError", "Writer"]
