"""The emulator's data: every record, its indexes, and the one method that changes them.

`Store.commit` is the only way data changes. It swaps in the new version of a record (or
removes it), keeps the indexes and derived figures right, remembers the idempotency key of the
write, and tells every listener about the `Change` (the SuiteQL tables refresh themselves from
these; change events can hook in the same way).

Derived figures are always computed, never stored: an invoice's amount paid is the sum of the
payments applied to it, its status follows (A Open, B Paid In Full), and a customer's balance,
overdue balance and unbilled orders come from its open transactions. "Overdue" means due
before the reference date: the world's ``as_of`` date, or today when that is later.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sandbox.netsuite.model import (
    INVOICE,
    PAYMENT,
    SALES_ORDER,
    UNBILLED_ORDER_STATUSES,
    CurrencyRec,
    CustomerRec,
    ItemRec,
    SubsidiaryRec,
    TermRec,
    TransactionRec,
)

Kind = Literal["customer", "transaction"]
Record = CustomerRec | TransactionRec

_TRAN_PREFIX = {SALES_ORDER: "SO", INVOICE: "INV", PAYMENT: "PYMT"}


@dataclass(frozen=True)
class Change:
    """One committed write: ``before`` is None for a create, ``after`` None for a delete."""

    kind: Kind
    id: int
    before: Record | None
    after: Record | None

    @property
    def action(self) -> str:
        if self.before is None:
            return "create"
        return "delete" if self.after is None else "update"


Listener = Callable[[Change], None]


class Store:
    def __init__(
        self,
        *,
        as_of: dt.date,
        subsidiaries: Iterable[SubsidiaryRec],
        currencies: Iterable[CurrencyRec],
        terms: Iterable[TermRec],
        items: Iterable[ItemRec],
        today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date(),
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.as_of = as_of
        self._today = today
        self.now = now
        self.subsidiaries = {s.id: s for s in subsidiaries}
        self.currencies = {c.id: c for c in currencies}
        self.terms = {t.id: t for t in terms}
        self.items = {i.id: i for i in items}
        self.customers: dict[int, CustomerRec] = {}
        self.transactions: dict[int, TransactionRec] = {}
        self.listeners: list[Listener] = []
        self._customer_eids: dict[str, int] = {}
        self._transaction_eids: dict[tuple[str, str], int] = {}
        self._by_entity: dict[int, set[int]] = defaultdict(set)
        self._paid: dict[int, Decimal] = defaultdict(Decimal)  # invoice -> applied to it
        self._payments_of: dict[int, set[int]] = defaultdict(set)  # invoice -> payments
        self._invoices_of: dict[int, set[int]] = defaultdict(set)  # sales order -> invoices
        self._idempotency: dict[str, tuple[Kind, int]] = {}
        self._next_customer = 1
        self._next_transaction = 1
        self._next_address = 1
        self._next_number: dict[str, int] = defaultdict(int)

    # ------------------------------------------------------------------ the one write

    def commit(
        self, kind: Kind, record_id: int, after: Record | None, idempotency_key: str | None = None
    ) -> Change:
        """Store ``after`` as the record ``kind``/``record_id`` (None deletes it)."""
        if kind == "customer":
            before_c = self.customers.get(record_id)
            if after is not None and not isinstance(after, CustomerRec):
                raise TypeError("a customer write needs a CustomerRec")
            self._unindex_customer(before_c)
            if after is None:
                self.customers.pop(record_id, None)
            else:
                self.customers[record_id] = after
                self._index_customer(after)
            change = Change(kind, record_id, before_c, after)
        else:
            before_t = self.transactions.get(record_id)
            if after is not None and not isinstance(after, TransactionRec):
                raise TypeError("a transaction write needs a TransactionRec")
            self._unindex_transaction(before_t)
            if after is None:
                self.transactions.pop(record_id, None)
            else:
                self.transactions[record_id] = after
                self._index_transaction(after)
            change = Change(kind, record_id, before_t, after)
        if idempotency_key is not None and after is not None:
            self._idempotency[idempotency_key] = (kind, record_id)
        for listener in list(self.listeners):
            listener(change)
        return change

    # ------------------------------------------------------------------ indexes

    def _index_customer(self, customer: CustomerRec) -> None:
        if customer.external_id is not None:
            self._customer_eids[customer.external_id] = customer.id
        self._next_customer = max(self._next_customer, customer.id + 1)
        for address in customer.addresses:
            self._next_address = max(self._next_address, address.id + 1)

    def _unindex_customer(self, customer: CustomerRec | None) -> None:
        if customer is not None and customer.external_id is not None:
            self._customer_eids.pop(customer.external_id, None)

    def _index_transaction(self, tran: TransactionRec) -> None:
        if tran.external_id is not None:
            self._transaction_eids[(tran.type, tran.external_id)] = tran.id
        self._by_entity[tran.entity].add(tran.id)
        for apply in tran.applies:
            self._paid[apply.doc] += apply.amount
            self._payments_of[apply.doc].add(tran.id)
        if tran.created_from is not None:
            self._invoices_of[tran.created_from].add(tran.id)
        self._next_transaction = max(self._next_transaction, tran.id + 1)
        number = re.fullmatch(r"[A-Z]*0*(\d+)", tran.tran_id)
        if number and tran.tran_id.startswith(_TRAN_PREFIX[tran.type]):
            key = tran.type
            self._next_number[key] = max(self._next_number[key], int(number.group(1)) + 1)

    def _unindex_transaction(self, tran: TransactionRec | None) -> None:
        if tran is None:
            return
        if tran.external_id is not None:
            self._transaction_eids.pop((tran.type, tran.external_id), None)
        self._by_entity[tran.entity].discard(tran.id)
        for apply in tran.applies:
            self._paid[apply.doc] -= apply.amount
            self._payments_of[apply.doc].discard(tran.id)
        if tran.created_from is not None:
            self._invoices_of[tran.created_from].discard(tran.id)

    # ------------------------------------------------------------------ id allocation

    def new_customer_id(self) -> int:
        return self._next_customer

    def new_transaction_id(self) -> int:
        return self._next_transaction

    def new_address_ids(self, count: int) -> list[int]:
        start = self._next_address
        self._next_address += count
        return list(range(start, start + count))

    def next_tran_id(self, tran_type: str) -> str:
        number = max(self._next_number[tran_type], 1)
        return f"{_TRAN_PREFIX[tran_type]}{number:06d}"

    # ------------------------------------------------------------------ lookups

    def customer_by_eid(self, external_id: str) -> CustomerRec | None:
        record_id = self._customer_eids.get(external_id)
        return None if record_id is None else self.customers.get(record_id)

    def transaction_by_eid(self, tran_type: str, external_id: str) -> TransactionRec | None:
        record_id = self._transaction_eids.get((tran_type, external_id))
        return None if record_id is None else self.transactions.get(record_id)

    def transactions_of(self, entity: int) -> list[TransactionRec]:
        return [self.transactions[i] for i in sorted(self._by_entity.get(entity, ()))]

    def payments_applied_to(self, invoice: int) -> list[int]:
        return sorted(self._payments_of.get(invoice, ()))

    def invoices_from(self, sales_order: int) -> list[int]:
        return sorted(self._invoices_of.get(sales_order, ()))

    def idempotent_write(self, key: str) -> tuple[Kind, int] | None:
        return self._idempotency.get(key)

    # ------------------------------------------------------------------ derived figures

    def reference_date(self) -> dt.date:
        return max(self.as_of, self._today())

    def precision(self, currency: int) -> int:
        found = self.currencies.get(currency)
        return found.precision if found else 2

    def amount_paid(self, invoice: TransactionRec) -> Decimal:
        return self._paid.get(invoice.id, Decimal(0))

    def amount_remaining(self, invoice: TransactionRec) -> Decimal:
        return invoice.total - self.amount_paid(invoice)

    def status_of(self, tran: TransactionRec) -> str:
        if tran.type == INVOICE:
            return "A" if self.amount_remaining(tran) > 0 else "B"
        return tran.status

    def balance(self, customer: int) -> Decimal:
        return sum(
            (self.amount_remaining(t) for t in self.transactions_of(customer) if t.type == INVOICE),
            Decimal(0),
        )

    def overdue_balance(self, customer: int) -> Decimal:
        today = self.reference_date()
        return sum(
            (
                self.amount_remaining(t)
                for t in self.transactions_of(customer)
                if t.type == INVOICE and t.due_date is not None and t.due_date < today
            ),
            Decimal(0),
        )

    def unbilled_orders(self, customer: int) -> Decimal:
        return sum(
            (
                t.total
                for t in self.transactions_of(customer)
                if t.type == SALES_ORDER
                and t.status in UNBILLED_ORDER_STATUSES
                and not self._invoices_of.get(t.id)
            ),
            Decimal(0),
        )
