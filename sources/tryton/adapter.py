"""The Tryton adapter: Tryton as the ERP behind Accord's ERP port, in canonical terms.

Every call is JSON-RPC through `sources.tryton.rpc.TrytonRpc` (Tryton is never imported).
Reads are ``search_read`` calls with dotted fields, one per batch and model; what Tryton keeps
per company (a customer's balance) is read once per company concerned, together. Filters
Tryton can search are sent as its domain; those it cannot (a credit status, which compares a
balance with a limit Tryton does not search) are applied to pages read in id order until a
page is full. Which records are what: `sources.tryton.customers` and
`sources.tryton.documents`; reference data: `sources.tryton.reference`.

Writes: customers are ``party.party`` writes (one call, nested changes to addresses, contact
mechanisms, identifiers, categories and credit limit rows); an order is a ``sale.sale``
created, quoted and confirmed, keyed by its ``reference`` (the opportunity it comes from), so
a repeat continues or finds the first; a payment is a bank statement, validated and posted,
its lines numbered with the payment's external id, so a repeat finds it. A confirmation Tryton
asks for (a sale over the credit limit) stops the call as `SourceWarning`; nothing is hidden.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sources import erps
from sources.changes import ChangeScan, Notification, RecordKind
from sources.errors import (
    FieldProblem,
    RecordNotFound,
    SourceNotSupported,
    SourceValidationError,
    SourceWarning,
)
from sources.ports import CANONICAL_RECORD_NAMES, CustomerQuery, ErpCapability, InvoiceQuery, Page
from sources.records import (
    Address,
    CreditStatus,
    CustomerFields,
    ErpCustomer,
    ErpInvoice,
    ErpOrder,
    ErpPayment,
    InvoiceStatus,
    LegalEntity,
    Line,
    NewPayment,
    NewSalesOrder,
    PaymentTerms,
)
from sources.resilience import ResiliencePolicy, ResilienceSnapshot
from sources.tryton import documents as docs
from sources.tryton import feed
from sources.tryton.configure import configure
from sources.tryton.customers import PARTY_FIELDS, PartyRows, billing_row, legal_entity_row
from sources.tryton.errors import SOURCE
from sources.tryton.identifiers import tryton_identifier
from sources.tryton.reference import Reference, TrytonReference
from sources.tryton.rpc import TrytonConfig, TrytonRpc

__all__ = ["SWEEP_PAGE", "TrytonErp"]

SWEEP_PAGE = 1000  # the most records one sweep call reads
SCAN_PAGE = 200  # records read per call while filling a page the domain cannot filter
IN_LIST_LIMIT = 1000  # ids per "in" clause

_WRITE_FIELDS = [
    *PARTY_FIELDS,
    "contact_mechanisms.type",
    "contact_mechanisms.value",
    "identifiers.type",
]
_CONTACT_TYPES = {"email": "email", "phone": "phone"}
_INVOICES = [["type", "=", "out"], ["state", "in", ["posted", "paid", "cancelled"]]]
_ALL = {"active_test": False}


def _party_id(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _ids(values: Sequence[str]) -> list[int]:
    return list(dict.fromkeys(i for i in map(_party_id, values) if i is not None))


def _refused(field: str | None, message: str) -> SourceValidationError:
    return SourceValidationError(
        SOURCE, message, problems=[FieldProblem(field, "INVALID_KEY_OR_REF", message)]
    )


class TrytonErp:
    """Tryton as Accord's ERP. Create with a config; `await close()` when done."""

    source = SOURCE
    customer_attributes = frozenset(
        {"name", "email", "phone", "legal_entity_id", "currency", "terms_id", "tax_id"}
    )
    writable_attributes = frozenset(
        {*customer_attributes, "billing_address", "credit_limit", "credit_hold"}
    )
    id_shape = (
        "a Tryton id is a number for a customer or legal entity, "
        "S, I or P and a number for an order, invoice or payment"
    )
    capabilities = frozenset({ErpCapability.CREDIT_CHECK_APPROVAL})
    # the change feed (`sources.tryton.feed`): scans only, Tryton has no webhooks
    webhooks = False
    record_names: Mapping[RecordKind, str] = CANONICAL_RECORD_NAMES

    @staticmethod
    def accepts_id(value: str) -> bool:
        body = value[1:] if value[:1] in docs.KINDS else value
        return body.isascii() and body.isdigit() and 0 < len(body) <= 18

    def __init__(
        self,
        config: TrytonConfig,
        *,
        rpc: TrytonRpc | None = None,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        self.rpc = rpc or TrytonRpc(config)
        # "Overdue" is judged by Tryton's date (from its answers), not this machine's.
        self.today = today or self.rpc.clock.today
        self.reference = TrytonReference(self.rpc)
        self._parties = PartyRows(self.rpc, self.today)

    async def start(self) -> None:
        """Log in and read the reference data, so the first request does not wait."""
        await self.rpc.login()
        await self.reference.get()

    async def close(self) -> None:
        await self.rpc.close()

    async def ping(self) -> None:
        await self.rpc.ping()

    def health(self) -> ResilienceSnapshot:
        return self.rpc.resilience.snapshot()

    def change_scans(self) -> Sequence[ChangeScan]:
        return feed.change_scans(self.rpc)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        return feed.parse_notification(headers, body)

    def require(self, capability: ErpCapability, what: str) -> None:
        """Refuse ``what`` with `SourceNotSupported` unless Tryton can do ``capability``."""
        if capability not in self.capabilities:
            raise SourceNotSupported(SOURCE, f"Tryton cannot {what}", capability=capability.value)

    # ------------------------------------------------------------------ reference data

    async def legal_entities(self) -> dict[str, LegalEntity]:
        reference = await self.reference.get()
        return {entity.erp_id: entity for entity in reference.companies.values()}

    async def payment_terms(self) -> dict[str, PaymentTerms]:
        reference = await self.reference.get()
        return {terms.erp_id: terms for terms in reference.terms.values()}

    # ------------------------------------------------------------------ customers

    async def _party_rows(
        self,
        domain: list[Any],
        *,
        limit: int | None = None,
        fields: list[str] = PARTY_FIELDS,
        active_only: bool = False,
    ) -> list[dict[str, Any]]:
        reference = await self.reference.get()
        return await self.rpc.search_read(
            "party.party",
            [["id", "not in", sorted(reference.company_parties)], *domain],
            fields,
            limit=limit,
            order=[("id", "ASC")],
            context=None if active_only else _ALL,
        )

    async def _customers(self, rows: list[dict[str, Any]]) -> list[ErpCustomer]:
        if not rows:
            return []
        reference, holds = await asyncio.gather(
            self.reference.get(), self.reference.hold_categories()
        )
        return await self._parties.customers(rows, reference, holds)

    async def _in_chunks(
        self, values: Sequence[Any], read: Callable[[list[Any]], Awaitable[list[Any]]]
    ) -> list[Any]:
        unique = list(dict.fromkeys(values))
        if not unique:
            return []
        chunks = [unique[i : i + IN_LIST_LIMIT] for i in range(0, len(unique), IN_LIST_LIMIT)]
        pages = await asyncio.gather(*(read(chunk) for chunk in chunks))
        return [item for page in pages for item in page]

    async def customers_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpCustomer]:
        async def read(ids: list[int]) -> list[ErpCustomer]:
            return await self._customers(await self._party_rows([["id", "in", ids]]))

        found = await self._in_chunks(_ids(erp_ids), read)
        return {customer.erp_id: customer for customer in found}

    async def customers_by_keys(self, keys: Sequence[str]) -> dict[str, ErpCustomer]:
        async def read(chunk: list[str]) -> list[ErpCustomer]:
            return await self._customers(await self._party_rows([["code", "in", chunk]]))

        found = await self._in_chunks([key for key in keys if key], read)
        return {customer.erp_key: customer for customer in found if customer.erp_key}

    async def _customer_domain(self, query: CustomerQuery) -> list[Any] | None:
        """The domain of a customer query; None when no customer can match."""
        domain: list[Any] = []
        if query.after_id is not None:
            domain.append(["id", ">", self._party(query.after_id)])
        if query.legal_entity_id is not None:
            company = _party_id(query.legal_entity_id)
            if company is None:
                return None
            domain.append(["credit_limit_amounts.company", "=", company])
        if query.keys is not None:
            keys = [key for key in query.keys if key][:IN_LIST_LIMIT]
            if not keys:
                return None
            domain.append(["code", "in", keys])
        if query.credit_status is CreditStatus.ON_HOLD:
            holds = await self.reference.hold_categories()
            if "ON" not in holds:
                return None
            domain.append(["categories", "=", holds["ON"]])
        return domain

    def _party(self, value: str) -> int:
        found = _party_id(value)
        if found is None:
            raise SourceValidationError(SOURCE, f"{value!r} is not a customer id ({self.id_shape})")
        return found

    async def customer_page(self, query: CustomerQuery) -> Page[ErpCustomer]:
        domain = await self._customer_domain(query)
        if domain is None:
            return Page([], False, 0)
        status = query.credit_status
        if status is None:
            reference = await self.reference.get()
            excluded = ["id", "not in", sorted(reference.company_parties)]
            count = self.rpc.call("party.party", "search_count", [excluded, *domain], 0, None)
            if query.limit == 0:
                total = int(await count)
                return Page([], bool(total), total)
            rows, total = await asyncio.gather(
                self._party_rows(domain, limit=query.limit + 1, active_only=True), count
            )
            customers = await self._customers(rows[: query.limit])
            return Page(customers, len(rows) > query.limit, int(total))

        async def read(after: int | None, size: int) -> list[dict[str, Any]]:
            more = [["id", ">", after]] if after is not None else []
            return await self._party_rows([*domain, *more], limit=size, active_only=True)

        async def keep(rows: list[dict[str, Any]]) -> list[ErpCustomer]:
            return [c for c in await self._customers(rows) if c.credit_status is status]

        items, has_more = await _scan(read, keep, query.limit)
        return Page(items, has_more)

    async def customer_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[ErpCustomer]:
        """Every customer (inactive ones too) in id order, with its billing address."""
        size = _sweep_size(limit)
        domain = [["id", ">", self._party(after_id)]] if after_id is not None else []
        rows = await self._party_rows(domain, limit=size + 1)
        return Page(await self._customers(rows[:size]), len(rows) > size)

    # ------------------------------------------------------------------ orders

    async def _orders(self, domain: list[Any], **kwargs: Any) -> list[ErpOrder]:
        rows, reference = await asyncio.gather(
            self.rpc.search_read(
                "sale.sale", domain, docs.ORDER_FIELDS, order=[("id", "ASC")], **kwargs
            ),
            self.reference.get(),
        )
        return docs.to_orders(rows, reference)

    async def orders_by_customer_ids(
        self, customer_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpOrder]]:
        parties = _ids(customer_erp_ids)
        orders = await self._orders([["party", "in", parties]]) if parties else []
        newest = docs.newest_first(orders, lambda o: o.order_date)
        return docs.group(newest, lambda order: order.customer_erp_id)

    async def orders_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpOrder]:
        ids = docs.document_ids(erp_ids, "S")
        orders = await self._orders([["id", "in", ids]]) if ids else []
        return {order.erp_id: order for order in orders}

    async def orders_by_external_ids(self, external_ids: Sequence[str]) -> dict[str, ErpOrder]:
        wanted = [value for value in dict.fromkeys(external_ids) if value]
        orders = (
            await self._orders([["reference", "in", wanted], ["state", "!=", "cancelled"]])
            if wanted
            else []
        )
        return {order.external_id: order for order in orders if order.external_id}

    async def order_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[ErpOrder]:
        size = _sweep_size(limit)
        domain: list[Any] = []
        if after_id is not None:
            domain.append(["id", ">", self._document(after_id, "S")])
        orders = await self._orders(domain, limit=size + 1)
        return Page(orders[:size], len(orders) > size)

    def _document(self, value: str, kind: str) -> int:
        found = docs.document_ids([value], kind)
        if not found:
            raise SourceValidationError(SOURCE, f"{value!r} is not an id here ({self.id_shape})")
        return found[0]

    # ------------------------------------------------------------------ invoices

    async def _invoices(self, domain: list[Any], **kwargs: Any) -> list[ErpInvoice]:
        rows, reference = await asyncio.gather(
            self.rpc.search_read(
                "account.invoice",
                [*_INVOICES, *domain],
                docs.INVOICE_FIELDS,
                order=[("id", "ASC")],
                **kwargs,
            ),
            self.reference.get(),
        )
        return docs.to_invoices(rows, reference, self.today())

    async def invoices_by_customer_ids(
        self, customer_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpInvoice]]:
        parties = _ids(customer_erp_ids)
        invoices = await self._invoices([["party", "in", parties]]) if parties else []
        newest = docs.newest_first(invoices, lambda i: i.issue_date)
        return docs.group(newest, lambda invoice: invoice.customer_erp_id)

    async def invoices_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpInvoice]:
        ids = docs.document_ids(erp_ids, "I")
        invoices = await self._invoices([["id", "in", ids]]) if ids else []
        return {invoice.erp_id: invoice for invoice in invoices}

    async def invoices_by_order_ids(
        self, order_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpInvoice]]:
        ids = docs.document_ids(order_erp_ids, "S")
        invoices = await self._invoices([["sales", "in", ids]]) if ids else []
        newest = docs.newest_first(invoices, lambda i: i.issue_date)
        return docs.group(newest, lambda invoice: invoice.order_erp_id or "")

    def _invoice_domain(self, query: InvoiceQuery) -> list[Any] | None:
        domain: list[Any] = []
        if query.after_id is not None:
            domain.append(["id", ">", self._document(query.after_id, "I")])
        if query.customer_erp_ids is not None:
            parties = _ids(query.customer_erp_ids)[:IN_LIST_LIMIT]
            if not parties:
                return None
            domain.append(["party", "in", parties])
        if query.due_before is not None:
            domain.append(["move.lines.maturity_date", "<", query.due_before])
        if query.due_after is not None:
            domain.append(["move.lines.maturity_date", ">", query.due_after])
        today = self.today()
        status = query.status
        if status is InvoiceStatus.VOIDED:
            domain.append(["state", "=", "cancelled"])
        elif status is InvoiceStatus.PAID:
            domain.append(["state", "in", ["posted", "paid"]])
        elif status is InvoiceStatus.OVERDUE:
            domain += [["state", "=", "posted"], ["move.lines.maturity_date", "<", today]]
        elif status is not None:
            domain += [["state", "=", "posted"], ["move.lines.maturity_date", ">=", today]]
        return domain

    async def invoice_page(self, query: InvoiceQuery) -> Page[ErpInvoice]:
        domain = self._invoice_domain(query)
        if domain is None:
            return Page([], False, 0)
        status = query.status
        if status in (None, InvoiceStatus.VOIDED, InvoiceStatus.OVERDUE):
            # the domain selects exactly these: one call, counted
            count = self.rpc.call("account.invoice", "search_count", [*_INVOICES, *domain], 0, None)
            if query.limit == 0:
                total = int(await count)
                return Page([], bool(total), total)
            found, counted = await asyncio.gather(
                self._invoices(domain, limit=query.limit + 1), count
            )
            return Page(found[: query.limit], len(found) > query.limit, int(counted))

        async def read(after: int | None, size: int) -> list[ErpInvoice]:
            more = [["id", ">", after]] if after is not None else []
            return await self._invoices([*domain, *more], limit=size)

        async def keep(invoices: list[ErpInvoice]) -> list[ErpInvoice]:
            return [invoice for invoice in invoices if invoice.status is status]

        items, has_more = await _scan(read, keep, query.limit, id_of=_invoice_number)
        return Page(items, has_more)

    # ------------------------------------------------------------------ payments

    async def _payments(self, domain: list[Any]) -> list[ErpPayment]:
        rows, reference = await asyncio.gather(
            self.rpc.search_read(
                "account.statement.line",
                [["move", "!=", None], *domain],
                docs.PAYMENT_FIELDS,
                order=[("id", "ASC")],
            ),
            self.reference.get(),
        )
        return docs.to_payments(rows, reference)

    async def payments_by_customer_ids(
        self, customer_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpPayment]]:
        parties = _ids(customer_erp_ids)
        payments = await self._payments([["party", "in", parties]]) if parties else []
        newest = docs.newest_first(payments, lambda p: p.payment_date)
        return docs.group(newest, lambda payment: payment.customer_erp_id)

    async def payments_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpPayment]:
        moves = docs.document_ids(erp_ids, "P")
        payments = await self._payments([["move", "in", moves]]) if moves else []
        return {payment.erp_id: payment for payment in payments}

    async def payments_by_external_ids(self, external_ids: Sequence[str]) -> dict[str, ErpPayment]:
        wanted = [value for value in dict.fromkeys(external_ids) if value]
        payments = await self._payments([["number", "in", wanted]]) if wanted else []
        return {payment.number: payment for payment in payments}

    async def payments_by_invoice_ids(
        self, invoice_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpPayment]]:
        ids = docs.document_ids(invoice_erp_ids, "I")
        if not ids:
            return {}
        # the lines applied to the invoices name the moves; a move's other lines complete it
        lines = await self.rpc.search_read(
            "account.statement.line",
            [["related_to", "in", [f"account.invoice,{i}" for i in ids]], ["move", "!=", None]],
            ["move"],
        )
        moves = sorted({int(line["move"]) for line in lines})
        payments = await self._payments([["move", "in", moves]]) if moves else []
        grouped: dict[str, list[ErpPayment]] = {}
        wanted = {f"I{i}" for i in ids}
        for payment in payments:
            for invoice in {a.invoice_erp_id for a in payment.applications} & wanted:
                grouped.setdefault(invoice, []).append(payment)
        return grouped

    async def transaction_lines(self, transaction_erp_ids: Sequence[str]) -> dict[str, list[Line]]:
        sales = docs.document_ids(transaction_erp_ids, "S")
        invoices = docs.document_ids(transaction_erp_ids, "I")

        async def read(model: str, parent: str, ids: list[int]) -> list[dict[str, Any]]:
            if not ids:
                return []
            return await self.rpc.search_read(
                model, [[parent, "in", ids]], [parent, *docs.LINE_FIELDS]
            )

        sale_rows, invoice_rows = await asyncio.gather(
            read("sale.line", "sale", sales), read("account.invoice.line", "invoice", invoices)
        )
        return {
            **docs.to_lines(sale_rows, "sale", "S"),
            **docs.to_lines(invoice_rows, "invoice", "I"),
        }

    # ------------------------------------------------------------------ customer writes

    async def _party_changes(
        self, row: dict[str, Any] | None, fields: CustomerFields
    ) -> dict[str, Any]:
        """``party.party`` values for canonical changes to the party of ``row`` (None: a new
        party); nested lists change its addresses, contacts, identifiers and credit rows."""
        reference = await self.reference.get()
        given = fields.given()
        values: dict[str, Any] = {}
        if "name" in given:
            if not given["name"]:
                raise _refused("name", "a customer needs a name")
            values["name"] = given["name"]
        mechanisms = self._contact_changes(row, given)
        if mechanisms:
            values["contact_mechanisms"] = mechanisms
        address = await self._address_changes(row, given)
        if address:
            values["addresses"] = address
        if "currency" in given:
            code = given["currency"]
            currency = reference.currency_id(str(code)) if code else None
            if code and currency is None:
                raise _refused("currency", f"the ERP has no currency {code}")
            values["customer_currency"] = currency
        if "terms_id" in given:
            terms = given["terms_id"]
            term_id = _party_id(str(terms)) if terms else None
            if terms and term_id not in reference.terms:
                raise _refused("terms_id", f"the ERP has no payment terms {terms}")
            values["customer_payment_term"] = term_id
        if "tax_id" in given:
            values["identifiers"] = self._identifier_changes(row, given, reference)
        credit = self._credit_changes(row, fields, given, reference)
        if credit:
            values["credit_limit_amounts"] = credit
        if fields.credit_hold is not None:
            holds = await self.reference.hold_categories(create=True)
            keep = holds.get(fields.credit_hold.value)
            others = [i for hold, i in holds.items() if hold != fields.credit_hold.value]
            changes: list[Any] = []
            if others and row is not None:
                changes.append(("remove", others))
            if keep is not None:
                changes.append(("add", [keep]))
            values["categories"] = changes
        return values

    @staticmethod
    def _contact_changes(row: dict[str, Any] | None, given: dict[str, Any]) -> list[Any]:
        existing = (row or {}).get("contact_mechanisms.") or []
        changes: list[Any] = []
        for name, kind in _CONTACT_TYPES.items():
            if name not in given:
                continue
            mine = sorted((m for m in existing if m.get("type") == kind), key=lambda m: m["id"])
            value = given[name]
            if mine and value:
                changes.append(("write", [mine[0]["id"]], {"value": value}))
            elif mine:
                changes.append(("delete", [m["id"] for m in mine]))
            elif value:
                changes.append(("create", [{"type": kind, "value": value}]))
        return changes

    async def _address_changes(
        self, row: dict[str, Any] | None, given: dict[str, Any]
    ) -> list[Any]:
        if "billing_address" not in given:
            return []
        current = billing_row(row) if row is not None else None
        address = given["billing_address"]
        if not isinstance(address, Address):
            return [("delete", [current["id"]])] if current else []
        countries = await self.reference.countries()
        country = countries.get(address.country or "") if address.country else None
        if address.country and country is None:
            raise _refused("billing_address", f"the ERP has no country {address.country}")
        subdivision = (
            await self.reference.subdivision(address.country, address.state)
            if address.country and address.state
            else None
        )
        values = {
            "street": address.street or "",
            "city": address.city or "",
            "postal_code": address.postal_code or "",
            "country": country,
            "subdivision": subdivision,
        }
        if current is not None:
            return [("write", [current["id"]], values)]
        return [("create", [{**values, "invoice": True, "delivery": True}])]

    @staticmethod
    def _identifier_changes(
        row: dict[str, Any] | None, given: dict[str, Any], reference: Reference
    ) -> list[Any]:
        changes: list[Any] = []
        existing = [i["id"] for i in (row or {}).get("identifiers.") or []]
        if existing:
            changes.append(("delete", existing))
        tax_id = given["tax_id"]
        if tax_id:
            address = given.get("billing_address")
            country = address.country if isinstance(address, Address) else None
            if country is None and row is not None:
                current = billing_row(row)
                country = ((current or {}).get("country.") or {}).get("code")
            if country is None:
                entity = given.get("legal_entity_id") or _entity_id(row)
                company = reference.companies.get(_party_id(str(entity or "")) or 0)
                country = company.country if company else None
            changes.append(("create", [tryton_identifier(country or "", str(tax_id))]))
        return changes

    @staticmethod
    def _credit_changes(
        row: dict[str, Any] | None,
        fields: CustomerFields,
        given: dict[str, Any],
        reference: Reference,
    ) -> list[Any]:
        """Changes to the credit limit rows: the legal entity is the company of the first."""
        current = legal_entity_row(row) if row is not None else None
        limit = fields.credit_limit
        if "legal_entity_id" in given and given["legal_entity_id"] is not None:
            entity = str(given["legal_entity_id"])
            company = _party_id(entity)
            if company not in reference.companies:
                raise _refused("legal_entity_id", f"the ERP has no legal entity {entity}")
            if current is not None and current.get("company") == company:
                pass  # the same entity: only the limit may change, below
            else:
                kept = current.get("credit_limit_amount") if current else None
                changes: list[Any] = [("delete", [current["id"]])] if current else []
                amount = limit if limit is not None else kept
                changes.append(("create", [{"company": company, "credit_limit_amount": amount}]))
                return changes
        if limit is None:
            return []
        if current is None:
            raise _refused(
                "credit_limit", "a credit limit is kept in a legal entity: give the customer one"
            )
        return [("write", [current["id"]], {"credit_limit_amount": limit})]

    async def _party_row(self, erp_id: str) -> dict[str, Any]:
        party = _party_id(erp_id)
        rows = await self._party_rows([["id", "=", party]], fields=_WRITE_FIELDS) if party else []
        if not rows:
            raise RecordNotFound(SOURCE, f"no customer {erp_id}")
        return rows[0]

    async def update_customer(
        self, erp_id: str, fields: CustomerFields, *, idempotency_key: str
    ) -> None:
        row = await self._party_row(erp_id)
        values = await self._party_changes(row, fields)
        if values:
            # setting values is safe to repeat
            await self.rpc.call("party.party", "write", [row["id"]], values, idempotent=True)

    async def upsert_customer(
        self, key: str, fields: CustomerFields, *, idempotency_key: str
    ) -> str:
        """Create or update the customer whose code is ``key``; its id."""
        if not key:
            raise _refused("key", "a customer's key is not empty")
        rows = await self._party_rows([["code", "=", key]], fields=_WRITE_FIELDS)
        if rows:
            values = await self._party_changes(rows[0], fields)
            if values:
                await self.rpc.call(
                    "party.party", "write", [rows[0]["id"]], values, idempotent=True
                )
            return str(rows[0]["id"])
        values = await self._party_changes(None, fields)
        if "name" not in values:
            raise _refused("name", "a new customer needs a name")
        # Creating a party sets its credit limit (a default) in the context's company: the
        # legal entity is given as that company, its limit as the party's value there.
        credit = values.pop("credit_limit_amounts", [])
        context = None
        for _, rows in credit:
            context = {"company": rows[0]["company"]}
            values["credit_limit_amount"] = rows[0]["credit_limit_amount"]
        (party,) = await self.rpc.create("party.party", [{"code": key, **values}], context=context)
        return str(party)

    async def delete_customer(self, erp_id: str) -> None:
        row = await self._party_row(erp_id)
        await self.rpc.call("party.party", "delete", [row["id"]])

    # ------------------------------------------------------------------ order writes

    async def _sale_by_reference(self, external_id: str) -> dict[str, Any] | None:
        rows = await self.rpc.search_read(
            "sale.sale",
            [["reference", "=", external_id], ["state", "!=", "cancelled"]],
            ["state", "company"],
            order=[("id", "ASC")],
        )
        return rows[0] if rows else None

    async def _confirm(self, sale: int, state: str, company: int, *, approved: bool) -> None:
        """Take a sale on from ``state`` to confirmed. Tryton's credit check stops it quoted
        with `SourceWarning`, unless the order is ``approved``: then the warning is confirmed
        for this sale, as a person with the right does in Tryton, and the sale confirmed."""
        context = {"company": company}
        if state == "draft":
            await self.rpc.call("sale.sale", "quote", [sale], context=context)
            state = "quotation"
        if state != "quotation":
            return
        try:
            await self.rpc.call("sale.sale", "confirm", [sale], context=context)
        except SourceWarning as warning:
            if not approved:
                raise
            await self.rpc.approve_warning(warning.warning)
            await self.rpc.call("sale.sale", "confirm", [sale], context=context)

    async def create_sales_order(self, order: NewSalesOrder, *, idempotency_key: str) -> str:
        """Create, quote and confirm a sale; its id. Keyed by ``order.external_id`` (the
        sale's reference): a repeat finds the sale, taking it on if it stopped half way."""
        found = await self._sale_by_reference(order.external_id)
        if found is not None:
            await self._confirm(
                int(found["id"]),
                str(found["state"]),
                int(found["company"]),
                approved=order.approved,
            )
            return f"S{found['id']}"
        party = await self._party_row(order.customer_erp_id)
        entity = legal_entity_row(party)
        if entity is None or not entity.get("company"):
            raise _refused("customer", "the customer has no legal entity to sell from")
        company = int(entity["company"])
        reference = await self.reference.get()
        currency = reference.currency_id(order.currency)
        if currency is None:
            raise _refused("currency", f"the ERP has no currency {order.currency}")
        skus = list(dict.fromkeys(line.sku for line in order.lines))
        products = await self.rpc.search_read(
            "product.product", [["code", "in", skus]], ["code", "name", "sale_uom"]
        )
        by_sku = {str(p["code"]): p for p in products}
        missing = [sku for sku in skus if sku not in by_sku]
        if missing:
            raise SourceValidationError(
                SOURCE,
                f"the ERP has no item {', '.join(missing)}",
                problems=[
                    FieldProblem("item", "INVALID_KEY_OR_REF", f"unknown item {sku}")
                    for sku in missing
                ],
            )
        address = billing_row(party)
        if address is None:
            raise _refused("customer", "the customer has no address to invoice")
        values: dict[str, Any] = {
            "company": company,
            "party": party["id"],
            "currency": currency,
            "reference": order.external_id,
            "sale_date": order.order_date,
            "invoice_address": address["id"],
            "shipment_address": address["id"],
            "lines": [
                (
                    "create",
                    [
                        {
                            "type": "line",
                            "product": by_sku[line.sku]["id"],
                            "description": line.description or by_sku[line.sku]["name"],
                            "quantity": float(line.quantity),
                            "unit": by_sku[line.sku]["sale_uom"],
                            "unit_price": line.unit_price,
                        }
                        for line in order.lines
                    ],
                )
            ],
        }
        if party.get("customer_payment_term"):
            values["payment_term"] = party["customer_payment_term"]
        if order.memo:
            values["description"] = order.memo
        if order.reference:
            values["comment"] = f"Customer reference: {order.reference}"
        (sale,) = await self.rpc.create("sale.sale", [values], context={"company": company})
        await self._confirm(sale, "draft", company, approved=order.approved)
        return f"S{sale}"

    async def delete_sales_order(self, erp_id: str) -> None:
        """Delete a sale not yet processed (draft, quoted or confirmed); Tryton keeps a sale
        it has processed (its invoices and moves follow from it)."""
        sale = self._document(erp_id, "S")
        rows = await self.rpc.search_read("sale.sale", [["id", "=", sale]], ["state", "company"])
        if not rows:
            raise RecordNotFound(SOURCE, f"no order {erp_id}")
        state, context = rows[0]["state"], {"company": rows[0]["company"]}
        if state in ("processing", "done"):
            self.require(ErpCapability.DELETE_PROCESSED_ORDER, "delete an order it has processed")
        if state in ("quotation", "confirmed"):
            await self.rpc.call("sale.sale", "draft", [sale], context=context)
        await self.rpc.call("sale.sale", "delete", [sale], context=context)

    # ------------------------------------------------------------------ payment writes

    async def create_payment(self, payment: NewPayment, *, idempotency_key: str) -> str:
        """Post a payment as a bank statement whose lines pay the invoices; its id. Keyed by
        ``payment.external_id`` (the lines' number): a repeat finds the first."""
        existing = await self.rpc.search_read(
            "account.statement.line",
            [["number", "=", payment.external_id]],
            ["move", "statement", "statement.state", "statement.company"],
            order=[("id", "ASC")],
        )
        if existing:
            return await self._post_statement(existing[0])
        invoice_ids = docs.document_ids([a.invoice_erp_id for a in payment.applications], "I")
        if len(invoice_ids) != len(payment.applications):
            raise _refused("invoice", "each application names one invoice once")
        invoices = await self.rpc.search_read(
            "account.invoice",
            [["id", "in", invoice_ids], ["type", "=", "out"]],
            ["party", "company", "currency", "state", "account"],
        )
        by_id = {int(row["id"]): row for row in invoices}
        customer = _party_id(payment.customer_erp_id)
        for invoice in invoice_ids:
            row = by_id.get(invoice)
            if row is None:
                raise RecordNotFound(SOURCE, f"no invoice I{invoice}")
            if row["party"] != customer:
                raise _refused("invoice", f"invoice I{invoice} is another customer's")
            if row["state"] != "posted":
                raise _refused("invoice", f"invoice I{invoice} is not open ({row['state']})")
        reference = await self.reference.get()
        currency = reference.currency_id(payment.currency)
        companies = {int(row["company"]) for row in invoices}
        if not invoices or len(companies) != 1:
            raise _refused("invoice", "a payment pays invoices of one legal entity")
        company = companies.pop()
        if any(row["currency"] != currency for row in invoices):
            raise _refused("currency", f"the invoices are not in {payment.currency}")
        journals = await self.rpc.search_read(
            "account.statement.journal",
            [["company", "=", company], ["currency", "=", currency]],
            ["validation"],
            order=[("id", "ASC")],
        )
        if not journals:
            raise _refused("currency", f"the ERP has no bank journal in {payment.currency}")
        lines = [
            {
                "number": payment.external_id,
                "date": payment.payment_date,
                "amount": application.amount,
                "party": customer,
                "account": by_id[invoice]["account"],
                "related_to": f"account.invoice,{invoice}",
                "description": payment.memo,
            }
            for application, invoice in zip(payment.applications, invoice_ids, strict=True)
        ]
        applied = sum((a.amount for a in payment.applications), Decimal(0))
        if payment.amount > applied:
            lines.append(
                {
                    "number": payment.external_id,
                    "date": payment.payment_date,
                    "amount": payment.amount - applied,
                    "party": customer,
                    "account": invoices[0]["account"],
                    "description": payment.memo,
                }
            )
        elif payment.amount < applied:
            raise _refused("amount", "the applications add up to more than the payment")
        statement: dict[str, Any] = {
            "name": f"Accord {payment.external_id}",
            "company": company,
            "journal": journals[0]["id"],
            "date": payment.payment_date,
            "lines": [("create", lines)],
        }
        validation = journals[0].get("validation")
        if validation == "number_of_lines":
            statement["number_of_lines"] = 1
        elif validation == "amount":
            statement["total_amount"] = payment.amount
        # a journal checked by balance wants the bank's balances, which a payment lacks:
        # Tryton refuses the statement, and says why
        context = {"company": company}
        (created,) = await self.rpc.create("account.statement", [statement], context=context)
        return await self._post_statement(
            {"statement": created, "statement.": {"state": "draft", "company": company}}
        )

    async def _post_statement(self, line: dict[str, Any]) -> str:
        """Validate and post the statement of ``line`` as far as it is not yet; the payment's
        id (its move)."""
        statement = int(line["statement"])
        info = line.get("statement.") or {}
        context = {"company": info.get("company")}
        if info.get("state") == "draft":
            await self.rpc.call(
                "account.statement", "validate_statement", [statement], context=context
            )
            info = {**info, "state": "validated"}
        if info.get("state") == "validated":
            await self.rpc.call("account.statement", "post", [statement], context=context)
        rows = await self.rpc.search_read(
            "account.statement.line", [["statement", "=", statement]], ["move"]
        )
        moves = sorted({int(row["move"]) for row in rows if row.get("move")})
        if not moves:
            raise SourceValidationError(SOURCE, "the payment's statement was not posted")
        return f"P{moves[0]}"


def _entity_id(row: dict[str, Any] | None) -> str | None:
    entity = legal_entity_row(row) if row is not None else None
    return str(entity["company"]) if entity and entity.get("company") else None


def _sweep_size(limit: int | None) -> int:
    size = SWEEP_PAGE if limit is None else limit
    if not 1 <= size <= SWEEP_PAGE:
        raise SourceValidationError(SOURCE, f"a sweep page holds 1 to {SWEEP_PAGE}")
    return size


def _invoice_number(invoice: ErpInvoice) -> int:
    return int(invoice.erp_id[1:])


async def _scan(
    read: Callable[[int | None, int], Awaitable[list[Any]]],
    keep: Callable[[list[Any]], Awaitable[list[Any]]],
    limit: int,
    *,
    id_of: Callable[[Any], int] | None = None,
) -> tuple[list[Any], bool]:
    """A page of ``limit`` records a filter keeps, reading in id order ``SCAN_PAGE`` at a time
    (``read(after, size)``), and whether more follow."""
    found: list[Any] = []
    after: int | None = None
    while True:
        batch = await read(after, SCAN_PAGE)
        if not batch:
            return found[:limit], len(found) > limit
        found.extend(await keep(batch))
        if len(found) > limit:
            return found[:limit], True
        last = batch[-1]
        after = id_of(last) if id_of is not None else int(last["id"])
        if len(batch) < SCAN_PAGE:
            return found, False


def _build(config: TrytonConfig, context: erps.ErpContext) -> TrytonErp:
    return TrytonErp(config, today=context.today)


def _from_sandbox(endpoints: Any, policy: ResiliencePolicy) -> TrytonConfig:
    """The configuration of a sandbox's Tryton (``endpoints``: `sandbox.endpoints.Endpoints`)."""
    tryton = endpoints.tryton
    return TrytonConfig(
        url=tryton.url,
        database=tryton.database,
        user=tryton.user,
        password=tryton.password,
        ca_file=tryton.ca_file,
        policy=policy,
    )


erps.register(
    erps.ErpAdapter(
        SOURCE, "Tryton", TrytonConfig, _build, configure=configure, from_sandbox=_from_sandbox
    )
)
