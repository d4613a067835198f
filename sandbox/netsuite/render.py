"""Records as the record API shows them.

A record body carries ``links`` (self), its fields with empty ones left out, references as
``{"links", "id", "refName"}`` and sublists as a link object, or, with
``expandSubResources=true``, as ``{"links", "items": [...], "totalResults"}``. Links name
record types in lower case (``.../record/v1/salesorder/50012``), as NetSuite's own links do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.netsuite.model import (
    CREDIT_HOLD,
    INVOICE,
    INVOICE_STATUS,
    PAYMENT,
    PAYMENT_STATUS,
    SALES_ORDER,
    SALES_ORDER_STATUS,
    AddressRec,
    CustomerRec,
    LineRec,
    TransactionRec,
)
from sandbox.netsuite.store import Store
from sandbox.world import COUNTRY_NAMES

RECORD_ROOT = "/services/rest/record/v1"

_STATUS_TEXT = {SALES_ORDER: SALES_ORDER_STATUS, INVOICE: INVOICE_STATUS, PAYMENT: PAYMENT_STATUS}
_TYPE_TEXT = {SALES_ORDER: "Sales Order", INVOICE: "Invoice", PAYMENT: "Payment"}


@dataclass(frozen=True)
class RecordType:
    """A record type the emulator serves: its REST name and where its data lives."""

    name: str  # as NetSuite documents it: customer, salesOrder, invoice, customerPayment
    kind: str  # store kind: customer or transaction
    tran_type: str | None  # SalesOrd, CustInvc, CustPymt
    sublists: tuple[str, ...]  # sublist names, as they appear in the body

    @property
    def link_name(self) -> str:
        return self.name.lower()


CUSTOMER = RecordType("customer", "customer", None, ("addressBook",))
SALES_ORDER_TYPE = RecordType("salesOrder", "transaction", SALES_ORDER, ("item",))
INVOICE_TYPE = RecordType("invoice", "transaction", INVOICE, ("item",))
PAYMENT_TYPE = RecordType("customerPayment", "transaction", PAYMENT, ("apply",))

RECORD_TYPES = {t.link_name: t for t in (CUSTOMER, SALES_ORDER_TYPE, INVOICE_TYPE, PAYMENT_TYPE)}
BY_TRAN_TYPE = {t.tran_type: t for t in RECORD_TYPES.values() if t.tran_type}


def record_type(name: str) -> RecordType | None:
    """The record type for a URL segment; NetSuite accepts any letter case."""
    return RECORD_TYPES.get(name.lower())


class Renderer:
    """Turns stored records into record API bodies for one request's base URL."""

    def __init__(self, store: Store, base_url: str) -> None:
        self.store = store
        self.base = base_url.rstrip("/")

    # ------------------------------------------------------------------ links

    def href(self, link_type: str, record_id: int | str, *rest: str | int) -> str:
        tail = "".join(f"/{part}" for part in rest)
        return f"{self.base}{RECORD_ROOT}/{link_type}/{record_id}{tail}"

    def links(self, href: str) -> list[dict[str, str]]:
        return [{"rel": "self", "href": href}]

    def ref(self, link_type: str | None, record_id: int | str, ref_name: str) -> dict[str, Any]:
        links = self.links(self.href(link_type, record_id)) if link_type else []
        return {"links": links, "id": str(record_id), "refName": ref_name}

    def enum(self, value: str, text: str) -> dict[str, Any]:
        return {"id": value, "refName": text}

    # ------------------------------------------------------------------ references

    def customer_ref(self, customer_id: int) -> dict[str, Any]:
        found = self.store.customers.get(customer_id)
        return self.ref("customer", customer_id, found.ref_name if found else str(customer_id))

    def currency_ref(self, currency_id: int) -> dict[str, Any]:
        found = self.store.currencies.get(currency_id)
        return self.ref("currency", currency_id, found.name if found else str(currency_id))

    def subsidiary_ref(self, subsidiary_id: int) -> dict[str, Any]:
        found = self.store.subsidiaries.get(subsidiary_id)
        return self.ref("subsidiary", subsidiary_id, found.name if found else str(subsidiary_id))

    def term_ref(self, term_id: int) -> dict[str, Any]:
        found = self.store.terms.get(term_id)
        return self.ref("term", term_id, found.name if found else str(term_id))

    def item_ref(self, item_id: int) -> dict[str, Any]:
        found = self.store.items.get(item_id)
        if found is None:
            return self.ref("item", item_id, str(item_id))
        return self.ref(found.record_type, item_id, found.itemid)

    def transaction_ref(self, tran_id: int) -> dict[str, Any]:
        found = self.store.transactions.get(tran_id)
        if found is None:
            return self.ref(None, tran_id, str(tran_id))
        kind = BY_TRAN_TYPE[found.type]
        return self.ref(kind.link_name, tran_id, f"{_TYPE_TEXT[found.type]} #{found.tran_id}")

    # ------------------------------------------------------------------ records

    def record(
        self,
        rtype: RecordType,
        record: CustomerRec | TransactionRec,
        *,
        expand: bool,
        self_href: str,
    ) -> dict[str, Any]:
        if isinstance(record, CustomerRec):
            body = self.customer(record, expand=expand)
        else:
            body = self.transaction(rtype, record, expand=expand)
        body["links"] = self.links(self_href)
        return body

    def customer(self, customer: CustomerRec, *, expand: bool) -> dict[str, Any]:
        store = self.store
        body: dict[str, Any] = {
            "links": [],
            "id": str(customer.id),
            "entityId": customer.entity_id,
            "companyName": customer.company_name,
            "email": customer.email,
            "phone": customer.phone,
            "externalId": customer.external_id,
            "subsidiary": self.subsidiary_ref(customer.subsidiary),
            "currency": self.currency_ref(customer.currency),
            "terms": self.term_ref(customer.terms) if customer.terms is not None else None,
            "creditLimit": customer.credit_limit,
            "creditHoldOverride": self.enum(
                customer.credit_hold, CREDIT_HOLD.get(customer.credit_hold, customer.credit_hold)
            ),
            "balance": store.balance(customer.id),
            "overdueBalance": store.overdue_balance(customer.id),
            "unbilledOrders": store.unbilled_orders(customer.id),
            "vatRegNumber": customer.vat_reg_number,
            "isInactive": customer.is_inactive,
            "isPerson": False,
            "dateCreated": customer.date_created,
            "lastModifiedDate": customer.last_modified,
        }
        billing = customer.default_billing()
        if billing is not None:
            body["defaultAddress"] = billing.text()
        body["addressBook"] = self.sublist(CUSTOMER, customer, "addressBook", expand=expand)
        return _drop_empty(body)

    def transaction(
        self, rtype: RecordType, tran: TransactionRec, *, expand: bool
    ) -> dict[str, Any]:
        store = self.store
        status = store.status_of(tran)
        status_text = _STATUS_TEXT[tran.type].get(status, status)
        body: dict[str, Any] = {
            "links": [],
            "id": str(tran.id),
            "tranId": tran.tran_id,
            "tranDate": tran.tran_date,
            "status": self.enum(status_text, status_text),
            "currency": self.currency_ref(tran.currency),
            "subsidiary": self.subsidiary_ref(tran.subsidiary),
            "externalId": tran.external_id,
            "memo": tran.memo,
            "exchangeRate": 1,
            "createdDate": tran.created,
            "lastModifiedDate": tran.last_modified,
        }
        if tran.type == PAYMENT:
            applied = tran.applied
            body.update(
                customer=self.customer_ref(tran.entity),
                payment=tran.total,
                applied=applied,
                unapplied=tran.total - applied,
                total=tran.total,
            )
        else:
            subtotal = tran.total
            body.update(
                entity=self.customer_ref(tran.entity),
                otherRefNum=tran.other_ref_num,
                subtotal=subtotal,
                total=subtotal,
            )
        if tran.type == SALES_ORDER:
            body["orderStatus"] = self.enum(status, status)
        if tran.type == INVOICE:
            paid = store.amount_paid(tran)
            body.update(
                dueDate=tran.due_date,
                createdFrom=(
                    self.transaction_ref(tran.created_from)
                    if tran.created_from is not None
                    else None
                ),
                amountPaid=paid,
                amountRemaining=tran.total - paid,
            )
        for name in rtype.sublists:
            body[name] = self.sublist(rtype, tran, name, expand=expand)
        return _drop_empty(body)

    # ------------------------------------------------------------------ sublists

    def sublist(
        self, rtype: RecordType, record: CustomerRec | TransactionRec, name: str, *, expand: bool
    ) -> dict[str, Any]:
        href = self.href(rtype.link_name, record.id, name)
        if not expand:
            return {"links": self.links(href)}
        items = self.sublist_lines(rtype, record, name)
        return {"links": self.links(href), "items": items, "totalResults": len(items)}

    def sublist_lines(
        self, rtype: RecordType, record: CustomerRec | TransactionRec, name: str
    ) -> list[dict[str, Any]]:
        if isinstance(record, CustomerRec):
            return [self.address_line(record, address) for address in record.addresses]
        if name == "apply":
            return [self.apply_line(record, number) for number in range(len(record.applies))]
        return [self.item_line(rtype, record, line) for line in record.lines]

    def item_line(self, rtype: RecordType, tran: TransactionRec, line: LineRec) -> dict[str, Any]:
        return _drop_empty(
            {
                "links": self.links(self.href(rtype.link_name, tran.id, "item", line.line)),
                "line": line.line,
                "item": self.item_ref(line.item),
                "quantity": line.quantity,
                "rate": line.rate,
                "amount": line.amount,
                "description": line.description,
            }
        )

    def apply_line(self, payment: TransactionRec, index: int) -> dict[str, Any]:
        apply = payment.applies[index]
        invoice = self.store.transactions.get(apply.doc)
        body: dict[str, Any] = {
            "links": self.links(self.href("customerpayment", payment.id, "apply", apply.doc)),
            "apply": True,
            "amount": apply.amount,
            "doc": self.transaction_ref(apply.doc),
            "line": apply.line,
            "type": "Invoice",
        }
        if invoice is not None:
            body.update(
                applyDate=invoice.tran_date,
                refNum=invoice.tran_id,
                total=invoice.total,
                due=self.store.amount_remaining(invoice),
                currency=self.currency_ref(invoice.currency).get("refName"),
            )
        return _drop_empty(body)

    def address_line(self, customer: CustomerRec, address: AddressRec) -> dict[str, Any]:
        line_href = self.href("customer", customer.id, "addressBook", address.id)
        return _drop_empty(
            {
                "links": self.links(line_href),
                "id": address.id,
                "internalId": address.id,
                "label": address.label,
                "defaultBilling": address.default_billing,
                "defaultShipping": address.default_shipping,
                "isResidential": False,
                "addressBookAddress": self.address(line_href + "/addressBookAddress", address),
                "addressBookAddress_text": address.text(),
            }
        )

    def address(self, href: str, address: AddressRec) -> dict[str, Any]:
        country = (
            self.enum(address.country, COUNTRY_NAMES.get(address.country, address.country))
            if address.country
            else None
        )
        return _drop_empty(
            {
                "links": self.links(href),
                "addr1": address.addr1,
                "city": address.city,
                "state": address.state,
                "zip": address.zip,
                "country": country,
                "addressee": address.addressee,
                "addrText": address.text(),
                "override": False,
            }
        )


def _drop_empty(body: dict[str, Any]) -> dict[str, Any]:
    """NetSuite leaves fields without a value out of a record body."""
    return {key: value for key, value in body.items() if value is not None and value != ""}
