"""The NetSuite adapter: the ERP behind Accord's ERP port, in canonical terms.

Reads are SuiteQL queries (one per batch, IN lists split at Oracle's 1,000-expression limit,
pages followed to the end) over the ``customer``, ``transaction``, ``transactionline`` and
``nexttransactionlink`` tables; writes go through the REST record API with an idempotency
key (`sources.netsuite_http`). Reference data (subsidiaries, currencies, terms) is read once
and kept for an hour.

SuiteQL renders every value as a string, dates in the account's date format preference
(`NetSuiteErp.date_order`, month/day/year by default), and leaves NULL columns out of a row.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

from sources import erps, netsuite_feed
from sources.changes import ChangeScan, Notification, RecordKind
from sources.concurrency import ConcurrencyBudget
from sources.errors import FieldProblem, SourceProtocolError, SourceValidationError
from sources.netsuite_http import SOURCE, NetSuiteClient, NetSuiteConfig
from sources.ports import (
    CustomerDocuments,
    CustomerQuery,
    DocumentKind,
    ErpCapability,
    InvoiceQuery,
    Page,
)
from sources.records import (
    Address,
    CreditHold,
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
    OrderStatus,
    PaymentApplication,
    PaymentTerms,
)
from sources.resilience import ResilienceSnapshot

IN_LIST_LIMIT = 1000  # Oracle refuses more expressions in one IN list
SWEEP_PAGE = 1000  # the most rows one SuiteQL answer holds
REFERENCE_TTL = 3600.0

ORDER_STATUS = {
    "A": OrderStatus.PENDING_APPROVAL,
    "B": OrderStatus.PENDING_FULFILLMENT,
    "C": OrderStatus.CANCELLED,
    "D": OrderStatus.PARTIALLY_FULFILLED,
    "E": OrderStatus.PENDING_BILLING,
    "F": OrderStatus.PENDING_BILLING,
    "G": OrderStatus.BILLED,
    "H": OrderStatus.CLOSED,
}

# The adapter's mapping of a customer: canonical attribute (`sources.records.CustomerAttributes`)
# -> the SuiteQL column read; `NetSuiteErp._customer_body` writes them back to the record API.
CUSTOMER_READS: dict[str, str] = {
    "name": "companyname",
    "email": "email",
    "phone": "phone",
    "legal_entity_id": "subsidiary",
    "currency": "currency",
    "terms_id": "terms",
    "tax_id": "vatregnumber",
}
CUSTOMER_COLUMNS = ", ".join(
    f"c.{column}"
    for column in (
        "id",
        "externalid",
        *CUSTOMER_READS.values(),
        "creditlimit",
        "balancesearch",
        "overduebalancesearch",
        "creditholdoverride",
        "isinactive",
        "lastmodifieddate",
    )
)
# The default billing address, as the address book's entity address holds it.
BILLING_COLUMNS = {
    "street": "addr1",
    "city": "city",
    "state": "state",
    "postal_code": "zip",
    "country": "country",
}
# canonical attribute -> (record API field, value converter) for the plain attributes written
_CUSTOMER_WRITES: dict[str, tuple[str, Any]] = {
    "name": ("companyName", str),
    "email": ("email", str),
    "phone": ("phone", str),
    "legal_entity_id": ("subsidiary", lambda value: {"id": str(value)}),
    "terms_id": ("terms", lambda value: {"id": str(value)}),
    "tax_id": ("vatRegNumber", str),
}


def _address_book(address: Any) -> dict[str, Any]:
    """The customer's default billing address as the record API takes it (None: none)."""
    if not isinstance(address, Address):
        return {"items": []}
    return {
        "items": [
            {
                "defaultBilling": True,
                "addressBookAddress": {
                    "addr1": address.street,
                    "city": address.city,
                    "state": address.state,
                    "zip": address.postal_code,
                    "country": {"id": address.country} if address.country else None,
                },
            }
        ]
    }


TRANSACTION_COLUMNS = (
    "t.id, t.tranid, t.entity, t.externalid, t.trandate, t.duedate, t.status, t.currency, "
    "t.foreigntotal, t.foreignamountpaid, t.foreignamountunpaid, "
    "t.foreignpaymentamountunused, t.memo, t.voided"
)

DateOrder = Literal["MDY", "DMY", "YMD"]


def quote(value: str | int) -> str:
    """A SuiteQL literal; strings have their quotes doubled so they stay one literal."""
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def in_list(values: Iterable[str | int]) -> str:
    return ", ".join(quote(value) for value in values)


def _chunks(values: Sequence[str], size: int = IN_LIST_LIMIT) -> list[list[str]]:
    unique = list(dict.fromkeys(values))
    return [unique[start : start + size] for start in range(0, len(unique), size)]


def _numeric_ids(values: Sequence[str]) -> list[int]:
    return [int(value) for value in dict.fromkeys(values) if value.isdigit()]


class NetSuiteErp:
    """NetSuite as Accord's ERP. Create with a config; `await close()` when done."""

    source = SOURCE
    # the customer attributes this adapter reads, and writes (see CUSTOMER_READS)
    customer_attributes = frozenset(CUSTOMER_READS)
    writable_attributes = frozenset(
        {*_CUSTOMER_WRITES, "currency", "billing_address", "credit_limit"}
    )
    id_shape = "a NetSuite internal id is a number"
    capabilities = frozenset({ErpCapability.DELETE_PROCESSED_ORDER, ErpCapability.CHANGE_WEBHOOKS})
    # the change feed (`sources.netsuite_feed`)
    record_names: Mapping[RecordKind, str] = netsuite_feed.RECORD_NAMES
    webhooks = True

    @staticmethod
    def accepts_id(value: str) -> bool:
        return value.isascii() and value.isdigit() and len(value) <= 18

    def _internal_id(self, value: str) -> int:
        """``value`` as the internal id a query compares with; a refusal when it cannot be one."""
        if not self.accepts_id(value):
            raise SourceValidationError(
                SOURCE, f"{value!r} is not an internal id ({self.id_shape})"
            )
        return int(value)

    def __init__(
        self,
        config: NetSuiteConfig,
        *,
        client: NetSuiteClient | None = None,
        date_order: DateOrder = "MDY",
        today: Callable[[], dt.date] | None = None,
        budget: ConcurrencyBudget | None = None,
        timezone: dt.tzinfo = dt.UTC,
    ) -> None:
        self.client = client or NetSuiteClient(config, budget=budget)
        self.date_order = date_order
        self.timezone = timezone  # the account's, in which SuiteQL renders date-times
        # "Overdue" is judged by NetSuite's date (from its answers), not this machine's.
        self.today = today or self.client.clock.today
        self._reference: dict[str, tuple[float, Any]] = {}
        self._reference_locks: dict[str, asyncio.Lock] = {}

    def change_scans(self) -> Sequence[ChangeScan]:
        return netsuite_feed.change_scans(self.client, timezone=self.timezone)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        return netsuite_feed.parse_notification(headers, body)

    async def start(self) -> None:
        """Fetch a token and the reference data, so the first request does not wait."""
        await self.legal_entities()

    async def close(self) -> None:
        await self.client.close()

    async def ping(self) -> None:
        await self.client.suiteql_page("SELECT id FROM currency", limit=1)

    def health(self) -> ResilienceSnapshot:
        return self.client.resilience.snapshot()

    # ------------------------------------------------------------------ value parsing

    def _date(self, value: Any) -> dt.date | None:
        if value in (None, ""):
            return None
        text = str(value).split(" ")[0]
        parts = [part for part in text.replace("-", "/").replace(".", "/").split("/") if part]
        try:
            numbers = [int(part) for part in parts]
            if len(numbers) != 3:
                raise ValueError(text)
            if len(parts[0]) == 4 or self.date_order == "YMD":
                year, month, day = numbers
            elif self.date_order == "DMY":
                day, month, year = numbers
            else:
                month, day, year = numbers
            return dt.date(year, month, day)
        except ValueError as exc:
            raise SourceProtocolError(SOURCE, f"not a date: {value!r}") from exc

    @staticmethod
    def _decimal(value: Any, default: Decimal | None = None) -> Decimal | None:
        if value in (None, ""):
            return default
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise SourceProtocolError(SOURCE, f"not a number: {value!r}") from exc

    def _money(self, value: Any) -> Decimal:
        parsed = self._decimal(value, Decimal(0))
        assert parsed is not None
        return parsed

    # ------------------------------------------------------------------ reference data

    async def _cached(self, name: str, load: Callable[[], Awaitable[Any]]) -> Any:
        entry = self._reference.get(name)
        if entry is not None and time.monotonic() - entry[0] < REFERENCE_TTL:
            return entry[1]
        lock = self._reference_locks.setdefault(name, asyncio.Lock())
        async with lock:
            entry = self._reference.get(name)
            if entry is not None and time.monotonic() - entry[0] < REFERENCE_TTL:
                return entry[1]
            value = await load()
            self._reference[name] = (time.monotonic(), value)
            return value

    async def currencies(self) -> dict[str, str]:
        """ISO code by currency internal id."""

        async def load() -> dict[str, str]:
            rows = await self.client.suiteql("SELECT id, symbol FROM currency")
            return {str(row["id"]): str(row.get("symbol", "")) for row in rows}

        found: dict[str, str] = await self._cached("currencies", load)
        return found

    async def legal_entities(self) -> dict[str, LegalEntity]:
        async def load() -> dict[str, LegalEntity]:
            rows, currencies = await asyncio.gather(
                self.client.suiteql("SELECT id, name, country, currency FROM subsidiary"),
                self.currencies(),
            )
            return {
                str(row["id"]): LegalEntity(
                    erp_id=str(row["id"]),
                    name=str(row.get("name", "")),
                    country=row.get("country"),
                    currency=currencies.get(str(row.get("currency"))),
                )
                for row in rows
            }

        found: dict[str, LegalEntity] = await self._cached("subsidiaries", load)
        return found

    async def payment_terms(self) -> dict[str, PaymentTerms]:
        async def load() -> dict[str, PaymentTerms]:
            rows = await self.client.suiteql("SELECT id, name, daysuntilnetdue FROM term")
            return {
                str(row["id"]): PaymentTerms(
                    erp_id=str(row["id"]),
                    name=str(row.get("name", "")),
                    days=int(row["daysuntilnetdue"]) if row.get("daysuntilnetdue") else None,
                )
                for row in rows
            }

        found: dict[str, PaymentTerms] = await self._cached("terms", load)
        return found

    # ------------------------------------------------------------------ batched SuiteQL

    async def _rows_in(self, template: str, values: Sequence[str]) -> list[dict[str, Any]]:
        """``template`` (with ``{in_list}``) run for all ``values``, chunks concurrently."""
        chunks = _chunks(values)
        pages = await asyncio.gather(
            *(self.client.suiteql(template.format(in_list=in_list(chunk))) for chunk in chunks)
        )
        return [row for page in pages for row in page]

    async def _ids_in(self, template: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        numeric = [str(value) for value in _numeric_ids(ids)]
        if not numeric:
            return []
        chunks = _chunks(numeric)
        pages = await asyncio.gather(
            *(self.client.suiteql(template.format(in_list=", ".join(chunk))) for chunk in chunks)
        )
        return [row for page in pages for row in page]

    # ------------------------------------------------------------------ customers

    async def _to_customers(self, rows: list[dict[str, Any]]) -> list[ErpCustomer]:
        currencies = await self.currencies() if rows else {}
        customers = []
        for row in rows:
            hold = str(row.get("creditholdoverride") or "AUTO").upper()
            attributes = {name: row.get(column) for name, column in CUSTOMER_READS.items()}
            attributes["currency"] = currencies.get(str(row.get("currency")))
            customers.append(
                ErpCustomer(
                    erp_id=str(row["id"]),
                    erp_key=row.get("externalid"),
                    **attributes,
                    credit_limit=self._decimal(row.get("creditlimit")),
                    balance=self._money(row.get("balancesearch")),
                    overdue_balance=self._money(row.get("overduebalancesearch")),
                    credit_hold=CreditHold(hold)
                    if hold in CreditHold.__members__
                    else CreditHold.AUTO,
                    inactive=row.get("isinactive") == "T",
                    last_modified=_midnight(self._date(row.get("lastmodifieddate"))),
                )
            )
        return customers

    async def customers_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpCustomer]:
        rows = await self._ids_in(
            f"SELECT {CUSTOMER_COLUMNS} FROM customer c WHERE c.id IN ({{in_list}})", erp_ids
        )
        return {c.erp_id: c for c in await self._to_customers(rows)}

    async def customers_by_keys(self, keys: Sequence[str]) -> dict[str, ErpCustomer]:
        rows = await self._rows_in(
            f"SELECT {CUSTOMER_COLUMNS} FROM customer c WHERE c.externalid IN ({{in_list}})",
            [key for key in keys if key],
        )
        return {c.erp_key: c for c in await self._to_customers(rows) if c.erp_key}

    async def customer_page(self, query: CustomerQuery) -> Page[ErpCustomer]:
        conditions = ["c.isinactive = 'F'"]
        if query.after_id is not None:
            conditions.append(f"c.id > {self._internal_id(query.after_id)}")
        if query.legal_entity_id is not None:
            if not self.accepts_id(query.legal_entity_id):
                return Page([], False, 0)  # no subsidiary has that id
            conditions.append(f"c.subsidiary = {int(query.legal_entity_id)}")
        if query.keys is not None:
            if not query.keys:
                return Page([], False, 0)
            conditions.append(f"c.externalid IN ({in_list(list(query.keys)[:IN_LIST_LIMIT])})")
        status = query.credit_status
        if status is CreditStatus.ON_HOLD:
            conditions.append("c.creditholdoverride = 'ON'")
        elif status is CreditStatus.OVER_LIMIT:
            conditions.append(
                "c.creditholdoverride = 'AUTO' AND c.creditlimit IS NOT NULL "
                "AND c.balancesearch > c.creditlimit"
            )
        elif status is CreditStatus.GOOD_STANDING:
            conditions.append(
                "(c.creditholdoverride = 'OFF' OR (c.creditholdoverride = 'AUTO' AND "
                "(c.creditlimit IS NULL OR c.balancesearch <= c.creditlimit)))"
            )
        text = (
            f"SELECT {CUSTOMER_COLUMNS} FROM customer c WHERE {' AND '.join(conditions)} "
            "ORDER BY c.id"
        )
        if query.limit == 0:
            _, _, total = await self.client.suiteql_page(text, limit=1)
            return Page([], bool(total), total)
        rows, has_more, total = await self.client.suiteql_page(text, limit=query.limit)
        return Page(await self._to_customers(rows), has_more, total)

    async def customer_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[ErpCustomer]:
        """Every customer (inactive ones too) in internal id order, with its default billing
        address, a page at a time."""
        columns = ", ".join(f"a.{column}" for column in BILLING_COLUMNS.values())
        rows, has_more = await self._sweep(
            f"SELECT {CUSTOMER_COLUMNS}, {columns} FROM customer c "
            "LEFT JOIN entityaddress a ON a.nkey = c.defaultbillingaddress",
            "c.id",
            after_id,
            limit,
        )
        customers = await self._to_customers(rows)
        return Page(
            [
                dataclasses.replace(customer, billing_address=_billing(row))
                for customer, row in zip(customers, rows, strict=True)
            ],
            has_more,
        )

    async def order_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[ErpOrder]:
        """Every sales order in internal id order, a page at a time."""
        rows, has_more = await self._sweep(self._ORDERS, "t.id", after_id, limit)
        return Page(await self._orders(rows), has_more)

    async def _sweep(
        self, select: str, id_column: str, after_id: str | None, limit: int | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """One keyset page of ``select`` (its WHERE, if any, kept) ordered by ``id_column``."""
        size = SWEEP_PAGE if limit is None else limit
        if not 1 <= size <= SWEEP_PAGE:
            raise SourceValidationError(SOURCE, f"a sweep page holds 1 to {SWEEP_PAGE}")
        text = select
        if after_id is not None:
            joiner = " AND " if " WHERE " in select else " WHERE "
            text += f"{joiner}{id_column} > {self._internal_id(after_id)}"
        rows, has_more, _ = await self.client.suiteql_page(
            f"{text} ORDER BY {id_column}", limit=size
        )
        return rows, has_more

    # ------------------------------------------------------------------ transactions

    async def _orders(self, rows: list[dict[str, Any]]) -> list[ErpOrder]:
        currencies = await self.currencies() if rows else {}
        return [
            ErpOrder(
                erp_id=str(row["id"]),
                number=str(row.get("tranid", "")),
                customer_erp_id=str(row.get("entity", "")),
                external_id=row.get("externalid"),
                order_date=self._date(row.get("trandate")),
                status=ORDER_STATUS.get(str(row.get("status")), OrderStatus.PENDING_APPROVAL),
                currency=currencies.get(str(row.get("currency"))),
                total=self._money(row.get("foreigntotal")),
                memo=row.get("memo"),
            )
            for row in rows
        ]

    def invoice_status(
        self, status: str | None, due: dt.date | None, paid: Decimal, voided: str | None
    ) -> InvoiceStatus:
        """The canonical status of an invoice from its status letter (A open, B paid in full,
        V voided), its ``voided`` flag, due date and amount paid; due today is not overdue."""
        if voided == "T" or status == "V":
            return InvoiceStatus.VOIDED
        if status == "B":
            return InvoiceStatus.PAID
        if due is not None and due < self.today():
            return InvoiceStatus.OVERDUE
        return InvoiceStatus.PARTIALLY_PAID if paid > 0 else InvoiceStatus.OPEN

    async def _invoices(self, rows: list[dict[str, Any]]) -> list[ErpInvoice]:
        currencies = await self.currencies() if rows else {}
        invoices = []
        for row in rows:
            total = self._money(row.get("foreigntotal"))
            paid = self._money(row.get("foreignamountpaid"))
            due = self._date(row.get("duedate"))
            invoices.append(
                ErpInvoice(
                    erp_id=str(row["id"]),
                    number=str(row.get("tranid", "")),
                    customer_erp_id=str(row.get("entity", "")),
                    order_erp_id=row.get("createdfrom"),
                    issue_date=self._date(row.get("trandate")),
                    due_date=due,
                    status=self.invoice_status(row.get("status"), due, paid, row.get("voided")),
                    currency=currencies.get(str(row.get("currency"))),
                    total=total,
                    amount_paid=paid,
                    amount_due=self._decimal(row.get("foreignamountunpaid"), total - paid)
                    or Decimal(0),
                )
            )
        return invoices

    async def _payments(self, rows: list[dict[str, Any]]) -> list[ErpPayment]:
        """Payments from rows of a payment LEFT JOIN its invoice links (one row per link)."""
        currencies = await self.currencies() if rows else {}
        by_id: dict[str, ErpPayment] = {}
        applications: dict[str, list[PaymentApplication]] = {}
        for row in rows:
            erp_id = str(row["id"])
            if erp_id not in by_id:
                by_id[erp_id] = ErpPayment(
                    erp_id=erp_id,
                    number=str(row.get("tranid", "")),
                    customer_erp_id=str(row.get("entity", "")),
                    payment_date=self._date(row.get("trandate")),
                    currency=currencies.get(str(row.get("currency"))),
                    amount=self._money(row.get("foreigntotal")),
                    unapplied=self._money(row.get("foreignpaymentamountunused")),
                    memo=row.get("memo"),
                )
                applications[erp_id] = []
            if row.get("applied_invoice"):
                applications[erp_id].append(
                    PaymentApplication(
                        invoice_erp_id=str(row["applied_invoice"]),
                        amount=self._money(row.get("applied_amount")),
                    )
                )
        return [
            dataclasses.replace(payment, applications=tuple(applications[payment.erp_id]))
            for payment in by_id.values()
        ]

    _ORDERS = f"SELECT {TRANSACTION_COLUMNS} FROM transaction t WHERE t.type = 'SalesOrd'"
    _INVOICES = (
        f"SELECT {TRANSACTION_COLUMNS}, tl.createdfrom FROM transaction t "
        "INNER JOIN transactionline tl ON tl.transaction = t.id "
        "WHERE t.type = 'CustInvc' AND tl.mainline = 'T'"
    )
    _PAYMENTS = (
        f"SELECT {TRANSACTION_COLUMNS}, l.previousdoc AS applied_invoice, "
        "l.foreignamount AS applied_amount FROM transaction t "
        "LEFT JOIN nexttransactionlink l ON l.nextdoc = t.id "
        "WHERE t.type = 'CustPymt' AND (l.linktype = 'Payment' OR l.linktype IS NULL)"
    )
    _NEWEST_FIRST = " ORDER BY t.trandate DESC, t.id DESC"

    # Orders, invoices and payments in one query: each row says which it is (recordtype);
    # an invoice's main line gives its order, a payment's links the invoices it pays.
    _DOCUMENTS = (
        f"SELECT {TRANSACTION_COLUMNS}, t.recordtype, tl.createdfrom, "
        "l.previousdoc AS applied_invoice, l.foreignamount AS applied_amount{columns} "
        "FROM transaction t {join}"
        "LEFT JOIN transactionline tl ON tl.transaction = t.id AND tl.mainline = 'T' "
        "AND t.type = 'CustInvc' "
        "LEFT JOIN nexttransactionlink l ON l.nextdoc = t.id AND l.linktype = 'Payment' "
        "AND t.type = 'CustPymt' "
        "WHERE t.type IN ({types}) AND {customers}"
    )
    _DOCUMENT_TYPES: ClassVar[dict[DocumentKind, tuple[str, str]]] = {
        "orders": ("SalesOrd", "salesorder"),
        "invoices": ("CustInvc", "invoice"),
        "payments": ("CustPymt", "customerpayment"),
    }

    def _documents_query(
        self, kinds: Collection[DocumentKind], customers: str, *, by_key: bool = False
    ) -> str | None:
        """The documents query for ``kinds`` of the customers ``customers`` selects (a
        condition with ``{in_list}``), newest first; None when no kind is asked for. With
        ``by_key`` each transaction is joined to its customer (``c``), whose external id each
        row carries as ``customer_key``."""
        wanted = [kind for kind in self._DOCUMENT_TYPES if kind in kinds]
        if not wanted:
            return None
        types = ", ".join(f"'{self._DOCUMENT_TYPES[kind][0]}'" for kind in wanted)
        return (
            self._DOCUMENTS.format(
                types=types,
                customers=customers,
                columns=", c.externalid AS customer_key" if by_key else "",
                join="INNER JOIN customer c ON c.id = t.entity " if by_key else "",
            )
            + self._NEWEST_FIRST
        )

    async def documents_by_customer_ids(
        self, customer_erp_ids: Sequence[str], kinds: Collection[DocumentKind]
    ) -> CustomerDocuments:
        """The customers' documents of ``kinds``, in one SuiteQL query (one per 1,000
        customers)."""
        query = self._documents_query(kinds, "t.entity IN ({in_list})")
        rows = await self._ids_in(query, customer_erp_ids) if query else []
        return await self._documents(rows, kinds)

    async def documents_by_customer_keys(
        self, keys: Sequence[str], kinds: Collection[DocumentKind]
    ) -> CustomerDocuments:
        """The documents of ``kinds`` of the customers with these external ids, grouped by
        external id, in one SuiteQL query (one per 1,000 customers): the transactions joined
        to their customer, so the customers' internal ids need not be known first."""
        query = self._documents_query(kinds, "c.externalid IN ({in_list})", by_key=True)
        rows = await self._rows_in(query, keys) if query else []
        key_of = {str(row.get("entity", "")): str(row["customer_key"]) for row in rows}
        found = await self._documents(rows, kinds)

        def by_key(grouped: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
            return {key_of[erp_id]: items for erp_id, items in grouped.items()}

        return CustomerDocuments(
            orders=by_key(found.orders),
            invoices=by_key(found.invoices),
            payments=by_key(found.payments),
        )

    async def _documents(
        self, rows: list[dict[str, Any]], kinds: Collection[DocumentKind]
    ) -> CustomerDocuments:
        """Orders, invoices and payments of ``kinds`` from rows of the documents query,
        grouped by customer internal id."""
        wanted = [kind for kind in self._DOCUMENT_TYPES if kind in kinds]
        by_type: dict[str, list[dict[str, Any]]] = {
            self._DOCUMENT_TYPES[kind][1]: [] for kind in wanted
        }
        for row in rows:
            found = by_type.get(str(row.get("recordtype")))
            if found is not None:
                found.append(row)

        def of(kind: DocumentKind) -> list[dict[str, Any]]:
            return by_type.get(self._DOCUMENT_TYPES[kind][1], [])

        return CustomerDocuments(
            orders=_group(await self._orders(of("orders")), lambda o: o.customer_erp_id),
            invoices=_group(await self._invoices(of("invoices")), lambda i: i.customer_erp_id),
            payments=_group(await self._payments(of("payments")), lambda p: p.customer_erp_id),
        )

    async def orders_by_customer_ids(
        self, customer_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpOrder]]:
        rows = await self._ids_in(
            self._ORDERS + " AND t.entity IN ({in_list})" + self._NEWEST_FIRST, customer_erp_ids
        )
        return _group(await self._orders(rows), lambda order: order.customer_erp_id)

    async def orders_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpOrder]:
        rows = await self._ids_in(self._ORDERS + " AND t.id IN ({in_list})", erp_ids)
        return {order.erp_id: order for order in await self._orders(rows)}

    async def orders_by_external_ids(self, external_ids: Sequence[str]) -> dict[str, ErpOrder]:
        rows = await self._rows_in(self._ORDERS + " AND t.externalid IN ({in_list})", external_ids)
        return {o.external_id: o for o in await self._orders(rows) if o.external_id}

    async def invoices_by_customer_ids(
        self, customer_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpInvoice]]:
        rows = await self._ids_in(
            self._INVOICES + " AND t.entity IN ({in_list})" + self._NEWEST_FIRST, customer_erp_ids
        )
        return _group(await self._invoices(rows), lambda invoice: invoice.customer_erp_id)

    async def invoices_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpInvoice]:
        rows = await self._ids_in(self._INVOICES + " AND t.id IN ({in_list})", erp_ids)
        return {invoice.erp_id: invoice for invoice in await self._invoices(rows)}

    async def invoices_by_order_ids(
        self, order_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpInvoice]]:
        rows = await self._ids_in(
            self._INVOICES + " AND tl.createdfrom IN ({in_list})" + self._NEWEST_FIRST,
            order_erp_ids,
        )
        return _group(await self._invoices(rows), lambda invoice: invoice.order_erp_id or "")

    async def invoice_page(self, query: InvoiceQuery) -> Page[ErpInvoice]:
        conditions: list[str] = []
        if query.after_id is not None:
            conditions.append(f"t.id > {self._internal_id(query.after_id)}")
        if query.customer_erp_ids is not None:
            numeric = _numeric_ids(query.customer_erp_ids)[:IN_LIST_LIMIT]
            if not numeric:
                return Page([], False, 0)
            conditions.append(f"t.entity IN ({in_list(numeric)})")
        today = f"TO_DATE('{self.today().isoformat()}', 'YYYY-MM-DD')"
        if query.due_before is not None:
            conditions.append(
                f"t.duedate < TO_DATE('{query.due_before.isoformat()}', 'YYYY-MM-DD')"
            )
        if query.due_after is not None:
            conditions.append(f"t.duedate > TO_DATE('{query.due_after.isoformat()}', 'YYYY-MM-DD')")
        status = query.status
        if status is InvoiceStatus.VOIDED:
            conditions.append("(t.voided = 'T' OR t.status = 'V')")
        elif status is not None:
            conditions.append("t.voided = 'F'")  # a voided invoice has only that status
        if status is InvoiceStatus.PAID:
            conditions.append("t.status = 'B'")
        elif status is InvoiceStatus.OVERDUE:
            conditions.append(f"t.status = 'A' AND t.duedate < {today}")
        elif status is not None:
            paid = (
                "t.foreignamountpaid > 0"
                if status is InvoiceStatus.PARTIALLY_PAID
                else ("t.foreignamountpaid = 0")
            )
            conditions.append(
                f"t.status = 'A' AND (t.duedate IS NULL OR t.duedate >= {today}) AND {paid}"
            )
        text = self._INVOICES + "".join(f" AND {c}" for c in conditions) + " ORDER BY t.id"
        rows, has_more, total = await self.client.suiteql_page(text, limit=max(query.limit, 1))
        items = await self._invoices(rows) if query.limit else []
        return Page(items, has_more if query.limit else bool(total), total)

    async def payments_by_customer_ids(
        self, customer_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpPayment]]:
        rows = await self._ids_in(
            self._PAYMENTS + " AND t.entity IN ({in_list})" + self._NEWEST_FIRST, customer_erp_ids
        )
        return _group(await self._payments(rows), lambda payment: payment.customer_erp_id)

    async def payments_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpPayment]:
        rows = await self._ids_in(self._PAYMENTS + " AND t.id IN ({in_list})", erp_ids)
        return {payment.erp_id: payment for payment in await self._payments(rows)}

    async def payments_by_external_ids(self, external_ids: Sequence[str]) -> dict[str, ErpPayment]:
        rows = await self._rows_in(
            "SELECT t.id, t.externalid FROM transaction t "
            "WHERE t.type = 'CustPymt' AND t.externalid IN ({in_list})",
            external_ids,
        )
        ids = {str(row["id"]): str(row["externalid"]) for row in rows}
        payments = await self.payments_by_ids(list(ids))
        return {ids[erp_id]: payment for erp_id, payment in payments.items()}

    async def payments_by_invoice_ids(
        self, invoice_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpPayment]]:
        links = await self._ids_in(
            "SELECT l.previousdoc, l.nextdoc FROM nexttransactionlink l "
            "WHERE l.linktype = 'Payment' AND l.previousdoc IN ({in_list})",
            invoice_erp_ids,
        )
        payments = await self.payments_by_ids([str(link["nextdoc"]) for link in links])
        grouped: dict[str, list[ErpPayment]] = {}
        for link in links:
            payment = payments.get(str(link["nextdoc"]))
            if payment is not None:
                grouped.setdefault(str(link["previousdoc"]), []).append(payment)
        return grouped

    async def transaction_lines(self, transaction_erp_ids: Sequence[str]) -> dict[str, list[Line]]:
        rows = await self._ids_in(
            "SELECT tl.transaction, tl.linesequencenumber, tl.quantity, tl.rate, "
            "tl.foreignamount, tl.memo, i.itemid, i.displayname FROM transactionline tl "
            "LEFT JOIN item i ON i.id = tl.item "
            "WHERE tl.mainline = 'F' AND tl.taxline = 'F' AND tl.transaction IN ({in_list}) "
            "ORDER BY tl.transaction, tl.linesequencenumber",
            transaction_erp_ids,
        )
        grouped: dict[str, list[Line]] = {}
        for row in rows:
            # Sales lines post as credits: NetSuite shows their quantity and amount negative.
            grouped.setdefault(str(row["transaction"]), []).append(
                Line(
                    number=int(row.get("linesequencenumber") or 0),
                    sku=row.get("itemid"),
                    description=row.get("displayname") or row.get("memo"),
                    quantity=abs(self._money(row.get("quantity"))),
                    unit_price=self._money(row.get("rate")),
                    amount=abs(self._money(row.get("foreignamount"))),
                )
            )
        return grouped

    # ------------------------------------------------------------------ writes

    async def _currency_id(self, code: str) -> str:
        for internal_id, symbol in (await self.currencies()).items():
            if symbol == code:
                return internal_id
        raise SourceValidationError(
            SOURCE,
            f"the ERP has no currency {code}",
            problems=[FieldProblem("currency", "INVALID_KEY_OR_REF", f"unknown currency {code}")],
        )

    async def _customer_body(self, fields: CustomerFields) -> dict[str, Any]:
        """Record API fields for canonical customer changes (None empties a field)."""
        body: dict[str, Any] = {}
        for name, value in fields.given().items():
            if name == "currency" and value is not None:
                body["currency"] = _ref(await self._currency_id(str(value)))
            elif name == "billing_address":
                body["addressBook"] = _address_book(value)
            elif name in _CUSTOMER_WRITES:
                field, convert = _CUSTOMER_WRITES[name]
                body[field] = None if value is None else convert(value)
            else:
                raise ValueError(f"the NetSuite adapter writes no customer attribute {name!r}")
        if fields.credit_limit is not None:
            body["creditLimit"] = float(fields.credit_limit)
        if fields.credit_hold is not None:
            body["creditHoldOverride"] = {"id": fields.credit_hold.value}
        return body

    async def update_customer(
        self, erp_id: str, fields: CustomerFields, *, idempotency_key: str
    ) -> None:
        body = await self._customer_body(fields)
        replace = ("addressBook",) if "addressBook" in body else ()
        await self.client.update_record(
            "customer", erp_id, body, idempotency_key=idempotency_key, replace=replace
        )

    async def upsert_customer(
        self, key: str, fields: CustomerFields, *, idempotency_key: str
    ) -> str:
        """Create or update the customer whose external id is ``key``; its internal id."""
        body = await self._customer_body(fields)
        return await self.client.upsert_record(
            "customer", key, body, idempotency_key=idempotency_key
        )

    async def delete_customer(self, erp_id: str) -> None:
        await self.client.delete_record("customer", erp_id)

    async def items_by_sku(self, skus: Sequence[str]) -> dict[str, str]:
        """Item internal ids by item name/number (the CRM's product code)."""
        rows = await self._rows_in("SELECT id, itemid FROM item WHERE itemid IN ({in_list})", skus)
        return {str(row["itemid"]): str(row["id"]) for row in rows}

    async def create_sales_order(self, order: NewSalesOrder, *, idempotency_key: str) -> str:
        """Post a sales order; its internal id. Keyed by ``order.external_id``: a repeat
        finds the order the first request created."""
        items = await self.items_by_sku([line.sku for line in order.lines])
        missing = sorted({line.sku for line in order.lines} - set(items))
        if missing:
            raise SourceValidationError(
                SOURCE,
                f"the ERP has no item {', '.join(missing)}",
                problems=[
                    FieldProblem("item", "INVALID_KEY_OR_REF", f"unknown item {sku}")
                    for sku in missing
                ],
            )
        body: dict[str, Any] = {
            "entity": _ref(order.customer_erp_id),
            "externalId": order.external_id,
            "tranDate": order.order_date.isoformat(),
            "currency": _ref(await self._currency_id(order.currency)),
            "item": {
                "items": [
                    {
                        "item": _ref(items[line.sku]),
                        "quantity": float(line.quantity),
                        "rate": float(line.unit_price),
                        **({"description": line.description} if line.description else {}),
                    }
                    for line in order.lines
                ]
            },
        }
        if order.memo:
            body["memo"] = order.memo
        if order.reference:
            body["otherRefNum"] = order.reference
        return await self.client.create_record("salesOrder", body, idempotency_key=idempotency_key)

    async def delete_sales_order(self, erp_id: str) -> None:
        await self.client.delete_record("salesOrder", erp_id)

    async def create_payment(self, payment: NewPayment, *, idempotency_key: str) -> str:
        """Post a customer payment applied to invoices; its internal id. Keyed by
        ``payment.external_id``: a repeat finds the payment the first request created."""
        body: dict[str, Any] = {
            "customer": _ref(payment.customer_erp_id),
            "externalId": payment.external_id,
            "payment": float(payment.amount),
            "currency": _ref(await self._currency_id(payment.currency)),
            "tranDate": payment.payment_date.isoformat(),
            "apply": {
                "items": [
                    {
                        "doc": _ref(application.invoice_erp_id),
                        "apply": True,
                        "amount": float(application.amount),
                    }
                    for application in payment.applications
                ]
            },
        }
        if payment.memo:
            body["memo"] = payment.memo
        return await self.client.create_record(
            "customerPayment", body, idempotency_key=idempotency_key
        )


def _group(items: Iterable[Any], key: Callable[[Any], str]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for item in items:
        grouped.setdefault(key(item), []).append(item)
    return grouped


def _billing(row: dict[str, Any]) -> Address | None:
    """The billing address of a customer row joined to its entity address (None: none)."""
    parts = {part: row.get(column) for part, column in BILLING_COLUMNS.items()}
    return Address(**parts) if any(parts.values()) else None


def _midnight(day: dt.date | None) -> dt.datetime | None:
    return dt.datetime.combine(day, dt.time(), dt.UTC) if day else None


def _ref(internal_id: str) -> dict[str, str]:
    return {"id": internal_id}


def _build(config: NetSuiteConfig, context: erps.ErpContext) -> NetSuiteErp:
    return NetSuiteErp(config, today=context.today, budget=context.budget)


erps.register(erps.ErpAdapter(SOURCE, "NetSuite", NetSuiteConfig, _build))
