"""The ERP's records: customers, sales orders, invoices and payments, as canonical events."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.ids import erp_object_id
from events import outbox
from events.model import Event, EventType, event_id
from events.normalize import fields
from events.normalize.snapshots import KEEP, Decision
from events.normalize.standing import (
    Change,
    Standing,
    digest,
    erp_customer_ref,
    money,
    status_decision,
)
from sources.changes import RecordKind, version
from sources.records import CreditHold, CreditStatus, ErpCustomer, ErpInvoice, ErpOrder, ErpPayment


class ErpRecords(Standing):
    """The events of the ERP's records, and the customer fields both systems' records share."""

    async def _customer_of(self, erp_id: str) -> ErpCustomer | None:
        return (await self.erp.customers_by_ids([erp_id])).get(erp_id) if erp_id else None

    async def _erp_customer(self, change: Change) -> list[Event]:
        erp_id = change.record_id
        key = self._erp_key(RecordKind.CUSTOMER, erp_id)
        customer = await self._customer_of(erp_id)
        if customer is None:
            return await self._forget(key)
        subject = erp_customer_ref(customer, erp_id)
        values = fields.erp_customer_fields(customer, self.erp.customer_attributes)
        owner, events = await self._swap_fields(key, change, subject, values)
        before = self._standing_before(customer, change.previous) if owner else None
        return events + await self._credit(customer, change, owner=owner, before=before)

    @staticmethod
    def _standing_before(customer: ErpCustomer, previous: Mapping[str, Any]) -> CreditStatus | None:
        """The credit standing before an edit, from the old values a notification carried."""
        if not previous or not ({"credit_hold", "credit_limit"} & set(previous)):
            return None
        hold = customer.credit_hold
        limit = customer.credit_limit
        try:
            if "credit_hold" in previous:
                hold = CreditHold(str(previous["credit_hold"]).upper())
            if "credit_limit" in previous:
                old = previous["credit_limit"]
                limit = None if old in (None, "") else Decimal(str(old))
        except (ValueError, InvalidOperation):
            return None
        return dataclasses.replace(customer, credit_hold=hold, credit_limit=limit).credit_status

    async def _swap_fields(
        self, key: str, change: Change, subject: str, fields: dict[str, Any]
    ) -> tuple[bool, list[Event]]:
        """Record a customer's (or an account's) ``fields`` at ``key``: CUSTOMER_CREATED for a
        create seen first, else CUSTOMER_UPDATED naming the fields changed since the snapshot
        (None without one). Whether this call moved the snapshot, and its events."""
        now = {"fields": fields}

        def decide(current: Any | None) -> Decision:
            if current is None:
                if change.change_type == "create":
                    return now, [self._customer_event(change, subject, fields, created=True)]
                return now, [self._customer_event(change, subject, fields, changed=None)]
            before = current.get("fields") or {}
            changed = sorted(name for name in fields if before.get(name) != fields[name])
            if not changed:
                return now, []
            return now, [self._customer_event(change, subject, fields, changed=changed)]

        owner, _, events = await self._swap(key, decide)
        return owner, events

    def _customer_event(
        self,
        change: Change,
        subject: str,
        fields: Mapping[str, Any],
        *,
        created: bool = False,
        changed: list[str] | None = None,
    ) -> Event:
        kind = EventType.CUSTOMER_CREATED if created else EventType.CUSTOMER_UPDATED
        name = (self.erp if change.source == self.erp.source else self.crm).record_names[
            change.kind
        ]
        parts: list[object] = [change.source, name, change.record_id, kind.value]
        data: dict[str, Any] = {"fields": dict(fields), "recordId": change.record_id}
        if not created:
            parts += [version(change.modified_at), digest(fields)]
            # None: first sight of the record, so what changed is not known
            data["changedFields"] = changed
            data["sourceFields"] = list(change.changed_fields)
        return Event(
            id=event_id(*parts),
            type=kind,
            source=change.source,
            subject=subject,
            time=change.modified_at,
            customer=subject,
            data=data,
        )

    async def _order(self, change: Change) -> list[Event]:
        erp_id = change.record_id
        key = self._erp_key(RecordKind.ORDER, erp_id)
        order = (await self.erp.orders_by_ids([erp_id])).get(erp_id)
        if order is None:
            return await self._forget(key)
        customer = erp_customer_ref(
            await self._customer_of(order.customer_erp_id), order.customer_erp_id
        )
        decide = status_decision(
            change,
            {"status": order.status.value, "customer": order.customer_erp_id},
            created=lambda: self._order_event(order, change, customer, None),
            moved=lambda previous: self._order_event(order, change, customer, previous),
        )
        _, _, events = await self._swap(key, decide)
        return events

    def _order_event(
        self, order: ErpOrder, change: Change, customer: str, previous: str | None
    ) -> Event:
        data: dict[str, Any] = {
            "status": order.status.value,
            "number": order.number,
            "total": money(order.total, order.currency),
            "currency": order.currency,
            "orderDate": order.order_date.isoformat() if order.order_date else None,
            "opportunityId": order.external_id,
            "customerErpId": order.customer_erp_id,
        }
        if previous is None:
            kind = EventType.ORDER_BOOKED
            versions: tuple[object, ...] = ()
        else:
            kind = EventType.ORDER_STATUS_CHANGED
            versions = (version(change.modified_at), order.status.value)
            data.update({"from": previous, "to": order.status.value})
        return self._erp_event(
            RecordKind.ORDER,
            order.erp_id,
            kind,
            change,
            subject=erp_object_id("Order", order.erp_id),
            customer=customer,
            data=data,
            versions=versions,
        )

    async def _invoice(self, change: Change) -> list[Event]:
        erp_id = change.record_id
        key = self._invoice_key(erp_id)
        invoice = (await self.erp.invoices_by_ids([erp_id])).get(erp_id)
        if invoice is None:
            return await self._invoice_gone(change, key)
        customer = await self._customer_of(invoice.customer_erp_id)
        ref = erp_customer_ref(customer, invoice.customer_erp_id)
        decide = status_decision(
            change,
            self._invoice_snapshot(invoice),
            created=lambda: self._posted_event(invoice, change, ref),
            moved=lambda previous: self._invoice_status_event(invoice, change, previous, ref),
        )
        owner, replaced, events = await self._swap(key, decide)
        if customer is None:
            return events
        before = None
        if owner and replaced is None and change.change_type == "create":
            # posting the invoice added what is due on it to the balance
            balance = customer.balance - invoice.amount_due
            before = self._standing_with_balance(customer, balance)
        elif owner and replaced is not None:
            old_due = Decimal(str(replaced.get("amountDue") or 0))
            balance = customer.balance - invoice.amount_due + old_due
            before = self._standing_with_balance(customer, balance)
        return events + await self._credit(customer, change, owner=owner, before=before)

    async def _invoice_gone(self, change: Change, key: str) -> list[Event]:
        moved, current, leftovers = await self._swap(
            key, lambda snapshot: (None, []) if snapshot is not None else (KEEP, [])
        )
        if not moved or current is None:
            return leftovers
        customer = await self._customer_of(str(current.get("customer") or ""))
        if customer is None:
            return leftovers
        balance = customer.balance + Decimal(str(current.get("amountDue") or 0))
        before = self._standing_with_balance(customer, balance)
        return leftovers + await self._credit(customer, change, owner=True, before=before)

    def _posted_event(self, invoice: ErpInvoice, change: Change, customer: str) -> Event:
        return self._erp_event(
            RecordKind.INVOICE,
            invoice.erp_id,
            EventType.INVOICE_POSTED,
            change,
            subject=erp_object_id("Invoice", invoice.erp_id),
            customer=customer,
            data={
                "status": invoice.status.value,
                "number": invoice.number,
                "total": money(invoice.total, invoice.currency),
                "amountDue": money(invoice.amount_due, invoice.currency),
                "currency": invoice.currency,
                "issueDate": invoice.issue_date.isoformat() if invoice.issue_date else None,
                "dueDate": invoice.due_date.isoformat() if invoice.due_date else None,
                "orderId": erp_object_id("Order", invoice.order_erp_id)
                if invoice.order_erp_id
                else None,
                "customerErpId": invoice.customer_erp_id,
            },
        )

    async def _payment(self, change: Change) -> list[Event]:
        erp_id = change.record_id
        key = self._erp_key(RecordKind.PAYMENT, erp_id)
        payment = (await self.erp.payments_by_ids([erp_id])).get(erp_id)
        earlier, _ = outbox.split(await self.backend.get(key))
        if payment is None:
            if earlier is None:
                return []
            customer_erp_id = str(earlier.get("customer") or "")
            applications: dict[str, str] = {}
        else:
            customer_erp_id = payment.customer_erp_id
            applications = {
                app.invoice_erp_id: money(app.amount, payment.currency) or "0"
                for app in payment.applications
            }
        touched = set(applications) | set((earlier or {}).get("applications") or {})
        invoices = await self.erp.invoices_by_ids(sorted(touched)) if touched else {}
        customer = await self._customer_of(customer_erp_id)
        ref = erp_customer_ref(customer, customer_erp_id)
        now = {"customer": customer_erp_id, "applications": applications}

        def decide(current: Any | None) -> Decision:
            if payment is None:
                return (None if current is not None else KEEP), []
            if current is None and change.change_type == "create":
                return now, [self._received_event(payment, change, ref, customer)]
            return now, []

        owner, replaced, events = await self._swap(key, decide)
        # What this change applied to each invoice, when known: the difference between the
        # applications now and those the snapshot held (none before a new payment).
        deltas: dict[str, Decimal] | None = None
        if owner and (replaced is not None or change.change_type == "create"):
            held = (replaced or {}).get("applications") or {}
            old = {k: Decimal(str(v)) for k, v in held.items()}
            new = {k: Decimal(v) for k, v in applications.items()}
            deltas = {k: new.get(k, Decimal(0)) - old.get(k, Decimal(0)) for k in {*old, *new}}
            missing = sorted(set(deltas) - set(invoices))
            if missing:
                invoices.update(await self.erp.invoices_by_ids(missing))
        for invoice_id in sorted(invoices, key=lambda value: (len(value), value)):
            invoice = invoices[invoice_id]
            delta = deltas.get(invoice_id) if deltas is not None else None
            paid_before = None if delta is None else invoice.amount_paid - delta
            events += await self._invoice_status(
                invoice, change, ref, owner=owner, paid_before=paid_before
            )
        if customer is not None:
            before = None
            if deltas is not None:
                balance = customer.balance + sum(deltas.values(), Decimal(0))
                before = self._standing_with_balance(customer, balance)
            events += await self._credit(customer, change, owner=owner, before=before)
        return events

    def _received_event(
        self, payment: ErpPayment, change: Change, ref: str, customer: ErpCustomer | None
    ) -> Event:
        currency = payment.currency
        return self._erp_event(
            RecordKind.PAYMENT,
            payment.erp_id,
            EventType.PAYMENT_RECEIVED,
            change,
            subject=erp_object_id("Payment", payment.erp_id),
            customer=ref,
            data={
                "number": payment.number,
                "amount": money(payment.amount, currency),
                "currency": currency,
                "paymentDate": payment.payment_date.isoformat() if payment.payment_date else None,
                "unapplied": money(payment.unapplied, currency),
                "applications": [
                    {
                        "invoiceId": erp_object_id("Invoice", app.invoice_erp_id),
                        "amount": money(app.amount, currency),
                    }
                    for app in payment.applications
                ],
                "balanceAfter": money(customer.balance, customer.currency) if customer else None,
                "customerErpId": payment.customer_erp_id,
            },
        )
