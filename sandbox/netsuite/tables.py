"""The SuiteQL tables: live views of the store, one dict per row, lower-case columns.

Rows hold typed values (int ids, Decimal amounts, dates, ``"T"``/``"F"`` for booleans as
SuiteQL compares them); `sandbox.netsuite.wire` renders them as strings afterwards. Each table
keeps its rows per record and rebuilds only the records a `Change` touched, the next time the
table is queried, so queries stay fast on a large world that is being written to.

Each table offers equality indexes (`sandbox.querylang.tables`) on the columns queries select
by: ids, ``entity``, ``transaction``, ``previousdoc``/``nextdoc``, ``externalid``, ``type``.
They are maintained as records are rebuilt, so a query by id stays cheap after writes.

Table and column names are NetSuite's (SuiteAnalytics/SuiteQL "NetSuite2.com" names) where
they could be checked; see docs/sandbox-netsuite.md for the few that are approximations.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sandbox.netsuite.model import INVOICE, PAYMENT, SALES_ORDER, TransactionRec
from sandbox.netsuite.store import Change, Store
from sandbox.querylang.tables import ColumnIndex, IndexedRows, IndexKind, Table, lazy_index

Row = dict[str, Any]

_RECORD_TYPE = {SALES_ORDER: "salesorder", INVOICE: "invoice", PAYMENT: "customerpayment"}

COLUMNS: dict[str, tuple[str, ...]] = {
    "customer": (
        "id",
        "entityid",
        "companyname",
        "altname",
        "email",
        "phone",
        "externalid",
        "subsidiary",
        "currency",
        "terms",
        "creditlimit",
        "balancesearch",
        "overduebalancesearch",
        "unbilledorderssearch",
        "creditholdoverride",
        "vatregnumber",
        "isinactive",
        "isperson",
        "datecreated",
        "lastmodifieddate",
        "defaultbillingaddress",
        "defaultshippingaddress",
    ),
    "customeraddressbook": (
        "entity",
        "internalid",
        "addressbookaddress",
        "defaultbilling",
        "defaultshipping",
        "isresidential",
        "label",
    ),
    "entityaddress": (
        "nkey",
        "addr1",
        "addr2",
        "addr3",
        "addressee",
        "attention",
        "city",
        "state",
        "zip",
        "country",
        "addrtext",
        "recordowner",
    ),
    "subsidiary": (
        "id",
        "name",
        "fullname",
        "country",
        "currency",
        "parent",
        "isinactive",
        "iselimination",
    ),
    "currency": ("id", "symbol", "name", "isbasecurrency", "currencyprecision", "isinactive"),
    "term": ("id", "name", "daysuntilnetdue", "isinactive"),
    "item": ("id", "itemid", "displayname", "fullname", "itemtype", "description", "isinactive"),
    "transaction": (
        "id",
        "tranid",
        "type",
        "recordtype",
        "entity",
        "trandate",
        "duedate",
        "status",
        "currency",
        "exchangerate",
        "foreigntotal",
        "foreignamountpaid",
        "foreignamountunpaid",
        "foreignpaymentamountused",
        "foreignpaymentamountunused",
        "externalid",
        "otherrefnum",
        "memo",
        "posting",
        "voided",
        "createddate",
        "lastmodifieddate",
    ),
    "transactionline": (
        "transaction",
        "id",
        "linesequencenumber",
        "mainline",
        "taxline",
        "item",
        "quantity",
        "rate",
        "netamount",
        "foreignamount",
        "memo",
        "entity",
        "subsidiary",
        "createdfrom",
    ),
    "nexttransactionlinelink": (
        "previousdoc",
        "previousline",
        "previoustype",
        "nextdoc",
        "nextline",
        "nexttype",
        "linktype",
        "foreignamount",
        "amount",
        "linkeddate",
    ),
    "nexttransactionlink": (
        "previousdoc",
        "nextdoc",
        "previoustype",
        "nexttype",
        "linktype",
        "foreignamount",
        "amount",
        "linkeddate",
    ),
}
# Tables that are the same rows under another name.
ALIASES = {
    "customeraddressbookentityaddress": "entityaddress",
    "previoustransactionlinelink": "nexttransactionlinelink",
    "previoustransactionlink": "nexttransactionlink",
}


def _tf(value: bool) -> str:
    return "T" if value else "F"


class _Group(Table):
    """Rows of one table kept per record id; dirty ids are rebuilt on the next read.

    Table order is record id, then the order the builder gives a record's rows; for a table
    of one row per record, ``record_id_column`` names the column holding the record id (the
    table is then sorted by it). Equality
    indexes on the ``indexed`` columns map a value to the records having a row with it; each
    is built on its first use and then kept in step as dirty records are rebuilt.
    """

    def __init__(
        self,
        build: Callable[[int], list[Row]],
        ids: Callable[[], Sequence[int]],
        indexed: Mapping[str, IndexKind],
        record_id_column: str | None = None,
    ):
        self._build = build
        self._ids = ids
        self._kinds = dict(indexed)
        self._record_id_column = record_id_column
        self._rows: dict[int, list[Row]] = {}
        self._dirty: set[int] = set()
        self._flat: list[Row] | None = None
        self._loaded = False
        self._count = 0
        self._indexes: dict[str, ColumnIndex] = {}

    def invalidate(self, record_id: int) -> None:
        self._dirty.add(record_id)
        self._flat = None

    def invalidate_all(self) -> None:
        self._loaded = False
        self._dirty.clear()
        self._flat = None

    def _refresh(self) -> None:
        if not self._loaded:
            self._rows = {}
            self._indexes = {}
            self._count = 0
            for record_id in self._ids():
                built = self._build(record_id)
                if built:
                    self._rows[record_id] = built
                    self._count += len(built)
            self._loaded = True
            self._dirty.clear()
            self._flat = None
        if self._dirty:
            for record_id in self._dirty:
                self._replace(record_id, self._build(record_id))
            self._dirty.clear()

    def _replace(self, record_id: int, built: list[Row]) -> None:
        old = self._rows.pop(record_id, [])
        self._count -= len(old)
        for column, index in self._indexes.items():
            for row in old:
                index.remove(row.get(column), record_id)
            for row in built:
                index.add(row.get(column), record_id)
        if built:
            self._rows[record_id] = built
            self._count += len(built)

    def rows(self) -> list[Row]:
        self._refresh()
        if self._flat is None:
            flat: list[Row] = []
            for record_id in sorted(self._rows):
                flat.extend(self._rows[record_id])
            self._flat = flat
        return self._flat

    def __len__(self) -> int:
        self._refresh()
        return self._count

    def _index(self, column: str) -> ColumnIndex | None:
        self._refresh()
        return lazy_index(self._indexes, self._kinds, column, self._owned_rows)

    def _owned_rows(self) -> Iterator[tuple[int, Row]]:
        for record_id, rows in self._rows.items():
            for row in rows:
                yield record_id, row

    def sorted_by(self) -> str | None:
        return self._record_id_column

    def warm_indexes(self) -> None:
        for column in self._kinds:
            self._index(column)

    def index_kind(self, column: str) -> IndexKind | None:
        index = self._index(column)
        return None if index is None else index.kind

    def estimate(self, column: str, keys: Collection[Hashable]) -> int:
        index = self._index(column)
        return self._count if index is None else index.count(keys)

    def lookup(self, column: str, keys: Collection[Hashable]) -> list[Mapping[str, Any]]:
        index = self._index(column)
        if index is None:
            return super().lookup(column, keys)
        wanted = keys if isinstance(keys, set | frozenset) else set(keys)
        found: list[Mapping[str, Any]] = []
        for record_id in sorted(index.owners(wanted)):
            found.extend(row for row in self._rows[record_id] if row.get(column) in wanted)
        return found


class SuiteQlTables(Mapping[str, Sequence[Mapping[str, Any]]]):
    """The tables SuiteQL queries read, by lower-case name; stays in step with the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        customers = lambda: list(store.customers)  # noqa: E731
        transactions = lambda: list(store.transactions)  # noqa: E731
        links: dict[str, IndexKind] = {"previousdoc": "number", "nextdoc": "number"}
        self._groups: dict[str, _Group] = {
            "customer": _Group(
                self._customer_rows, customers, {"id": "number", "externalid": "text"}, "id"
            ),
            "customeraddressbook": _Group(self._address_book_rows, customers, {"entity": "number"}),
            "entityaddress": _Group(
                self._entity_address_rows, customers, {"nkey": "number", "recordowner": "number"}
            ),
            "transaction": _Group(
                self._transaction_rows,
                transactions,
                {"id": "number", "entity": "number", "externalid": "text", "type": "text"},
                "id",
            ),
            "transactionline": _Group(
                self._line_rows, transactions, {"transaction": "number", "createdfrom": "number"}
            ),
            "nexttransactionlinelink": _Group(self._line_link_rows, transactions, links),
            "nexttransactionlink": _Group(self._doc_link_rows, transactions, links),
        }
        static_indexes: dict[str, dict[str, IndexKind]] = {"item": {"itemid": "text"}}
        self._static: dict[str, IndexedRows] = {
            name: IndexedRows(rows, {"id": "number", **static_indexes.get(name, {})})
            for name, rows in self._static_tables().items()
        }
        self._overdue_date = store.reference_date()
        store.listeners.append(self._on_change)

    # ------------------------------------------------------------------ Mapping

    def __getitem__(self, name: str) -> Sequence[Mapping[str, Any]]:
        return self.table(name).rows()

    def table(self, name: str) -> Table:
        """The table ``name`` (any case, aliases too) with its indexes, up to date."""
        key = name.lower()
        key = ALIASES.get(key, key)
        if key in self._static:
            return self._static[key]
        if key == "customer":
            today = self.store.reference_date()
            if today != self._overdue_date:
                self._overdue_date = today
                self._groups["customer"].invalidate_all()
        return self._groups[key]

    def __iter__(self) -> Iterator[str]:
        yield from COLUMNS
        yield from ALIASES

    def __len__(self) -> int:
        return len(COLUMNS) + len(ALIASES)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return key in COLUMNS or key in ALIASES

    def warm(self) -> None:
        """Build every table now, so that the first query is as fast as the next ones."""
        for group in self._groups.values():
            group.rows()
            group.warm_indexes()

    def columns(self, name: str) -> tuple[str, ...]:
        key = name.lower()
        return COLUMNS[ALIASES.get(key, key)]

    # ------------------------------------------------------------------ freshness

    def _on_change(self, change: Change) -> None:
        groups = self._groups
        if change.kind == "customer":
            for name in ("customer", "customeraddressbook", "entityaddress"):
                groups[name].invalidate(change.id)
            return
        for name in (
            "transaction",
            "transactionline",
            "nexttransactionlinelink",
            "nexttransactionlink",
        ):
            groups[name].invalidate(change.id)
        for tran in (change.before, change.after):
            if not isinstance(tran, TransactionRec):
                continue
            groups["customer"].invalidate(tran.entity)
            for apply in tran.applies:  # the invoices' amounts paid changed
                groups["transaction"].invalidate(apply.doc)
            if tran.created_from is not None:
                groups["transaction"].invalidate(tran.created_from)

    # ------------------------------------------------------------------ static tables

    def _static_tables(self) -> dict[str, list[Row]]:
        store = self.store
        root = min(store.subsidiaries, default=None)
        return {
            "subsidiary": [
                {
                    "id": s.id,
                    "name": s.name,
                    "fullname": s.name,
                    "country": s.country,
                    "currency": s.currency,
                    "parent": None if s.id == root else root,
                    "isinactive": "F",
                    "iselimination": "F",
                }
                for s in store.subsidiaries.values()
            ],
            "currency": [
                {
                    "id": c.id,
                    "symbol": c.symbol,
                    "name": c.name,
                    "isbasecurrency": _tf(c.id == 1),
                    "currencyprecision": c.precision,
                    "isinactive": "F",
                }
                for c in store.currencies.values()
            ],
            "term": [
                {"id": t.id, "name": t.name, "daysuntilnetdue": t.days, "isinactive": "F"}
                for t in store.terms.values()
            ],
            "item": [
                {
                    "id": i.id,
                    "itemid": i.itemid,
                    "displayname": i.displayname,
                    "fullname": i.itemid,
                    "itemtype": i.itemtype,
                    "description": i.displayname,
                    "isinactive": "F",
                }
                for i in store.items.values()
            ],
        }

    # ------------------------------------------------------------------ row builders

    def _customer_rows(self, customer_id: int) -> list[Row]:
        store = self.store
        customer = store.customers.get(customer_id)
        if customer is None:
            return []
        billing = next((a.id for a in customer.addresses if a.default_billing), None)
        shipping = next((a.id for a in customer.addresses if a.default_shipping), None)
        return [
            {
                "id": customer.id,
                "entityid": customer.entity_id,
                "companyname": customer.company_name,
                "altname": customer.company_name,
                "email": customer.email,
                "phone": customer.phone,
                "externalid": customer.external_id,
                "subsidiary": customer.subsidiary,
                "currency": customer.currency,
                "terms": customer.terms,
                "creditlimit": customer.credit_limit,
                "balancesearch": store.balance(customer.id),
                "overduebalancesearch": store.overdue_balance(customer.id),
                "unbilledorderssearch": store.unbilled_orders(customer.id),
                "creditholdoverride": customer.credit_hold,
                "vatregnumber": customer.vat_reg_number,
                "isinactive": _tf(customer.is_inactive),
                "isperson": "F",
                "datecreated": customer.date_created,
                "lastmodifieddate": customer.last_modified,
                "defaultbillingaddress": billing,
                "defaultshippingaddress": shipping,
            }
        ]

    def _address_book_rows(self, customer_id: int) -> list[Row]:
        customer = self.store.customers.get(customer_id)
        if customer is None:
            return []
        return [
            {
                "entity": customer.id,
                "internalid": a.id,
                "addressbookaddress": a.id,
                "defaultbilling": _tf(a.default_billing),
                "defaultshipping": _tf(a.default_shipping),
                "isresidential": "F",
                "label": a.label,
            }
            for a in customer.addresses
        ]

    def _entity_address_rows(self, customer_id: int) -> list[Row]:
        customer = self.store.customers.get(customer_id)
        if customer is None:
            return []
        return [
            {
                "nkey": a.id,
                "addr1": a.addr1,
                "addr2": None,
                "addr3": None,
                "addressee": a.addressee,
                "attention": None,
                "city": a.city,
                "state": a.state,
                "zip": a.zip,
                "country": a.country,
                "addrtext": a.text(),
                "recordowner": customer.id,
            }
            for a in customer.addresses
        ]

    def _transaction_rows(self, tran_id: int) -> list[Row]:
        store = self.store
        tran = store.transactions.get(tran_id)
        if tran is None:
            return []
        row: Row = {
            "id": tran.id,
            "tranid": tran.tran_id,
            "type": tran.type,
            "recordtype": _RECORD_TYPE[tran.type],
            "entity": tran.entity,
            "trandate": tran.tran_date,
            "duedate": tran.due_date,
            "status": store.status_of(tran),
            "currency": tran.currency,
            "exchangerate": Decimal(1),
            "foreigntotal": tran.total,
            "foreignamountpaid": None,
            "foreignamountunpaid": None,
            "foreignpaymentamountused": None,
            "foreignpaymentamountunused": None,
            "externalid": tran.external_id,
            "otherrefnum": tran.other_ref_num,
            "memo": tran.memo,
            "posting": _tf(tran.type != SALES_ORDER),
            "voided": "F",
            "createddate": tran.created,
            "lastmodifieddate": tran.last_modified,
        }
        if tran.type == INVOICE:
            paid = store.amount_paid(tran)
            row["foreignamountpaid"] = paid
            row["foreignamountunpaid"] = tran.total - paid
        elif tran.type == PAYMENT:
            row["foreignpaymentamountused"] = tran.applied
            row["foreignpaymentamountunused"] = tran.total - tran.applied
        return [row]

    def _line_rows(self, tran_id: int) -> list[Row]:
        tran = self.store.transactions.get(tran_id)
        if tran is None:
            return []
        rows: list[Row] = [
            {
                "transaction": tran.id,
                "id": 0,
                "linesequencenumber": 0,
                "mainline": "T",
                "taxline": "F",
                "item": None,
                "quantity": None,
                "rate": None,
                "netamount": tran.total,
                "foreignamount": tran.total,
                "memo": tran.memo,
                "entity": tran.entity,
                "subsidiary": tran.subsidiary,
                "createdfrom": tran.created_from,
            }
        ]
        # Item lines of sales transactions post as credits: quantity and amounts negative.
        for line in tran.lines:
            rows.append(
                {
                    "transaction": tran.id,
                    "id": line.line,
                    "linesequencenumber": line.line,
                    "mainline": "F",
                    "taxline": "F",
                    "item": line.item,
                    "quantity": -line.quantity,
                    "rate": line.rate,
                    "netamount": -line.amount,
                    "foreignamount": -line.amount,
                    "memo": line.description,
                    "entity": tran.entity,
                    "subsidiary": tran.subsidiary,
                    "createdfrom": tran.created_from,
                }
            )
        return rows

    def _line_link_rows(self, tran_id: int) -> list[Row]:
        """Links whose next document is ``tran_id``: order -> invoice, invoice -> payment."""
        store = self.store
        tran = store.transactions.get(tran_id)
        if tran is None:
            return []
        rows: list[Row] = []
        if tran.type == INVOICE and tran.created_from is not None:
            for line in tran.lines:
                rows.append(
                    {
                        "previousdoc": tran.created_from,
                        "previousline": line.line,
                        "previoustype": SALES_ORDER,
                        "nextdoc": tran.id,
                        "nextline": line.line,
                        "nexttype": INVOICE,
                        "linktype": "OrdBill",
                        "foreignamount": line.amount,
                        "amount": line.amount,
                        "linkeddate": tran.tran_date,
                    }
                )
        if tran.type == PAYMENT:
            for apply in tran.applies:
                rows.append(
                    {
                        "previousdoc": apply.doc,
                        "previousline": 0,
                        "previoustype": INVOICE,
                        "nextdoc": tran.id,
                        "nextline": apply.line,
                        "nexttype": PAYMENT,
                        "linktype": "Payment",
                        "foreignamount": apply.amount,
                        "amount": apply.amount,
                        "linkeddate": tran.tran_date,
                    }
                )
        return rows

    def _doc_link_rows(self, tran_id: int) -> list[Row]:
        totals: dict[tuple[int, str, str, str], Row] = {}
        for row in self._line_link_rows(tran_id):
            key = (row["previousdoc"], row["previoustype"], row["nexttype"], row["linktype"])
            found = totals.get(key)
            if found is None:
                totals[key] = {
                    "previousdoc": row["previousdoc"],
                    "nextdoc": row["nextdoc"],
                    "previoustype": row["previoustype"],
                    "nexttype": row["nexttype"],
                    "linktype": row["linktype"],
                    "foreignamount": row["foreignamount"],
                    "amount": row["amount"],
                    "linkeddate": row["linkeddate"],
                }
            else:
                found["foreignamount"] += row["foreignamount"]
                found["amount"] += row["amount"]
        return list(totals.values())
