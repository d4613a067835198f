"""The two ports Accord's read and write paths use: a CRM and an ERP, in canonical terms.

`sources.salesforce.SalesforceCrm` fills the CRM port and `sources.netsuite.NetSuiteErp` the
ERP port; another ERP (Dynamics 365, SAP, ...) is one more class with these methods. Batch
methods take many keys and answer a mapping, so that a DataLoader can turn a page of
customers into one upstream call per source; a key with nothing behind it is simply absent
(or maps to an empty list). Failures raise `sources.errors.SourceError`.

The change feed (`ChangeFeed`) is part of each port: the adapter says how its system reports
changes (notifications it pushes, scans Accord runs) in canonical change records
(`sources.changes`), so that webhook intake, pollers and the normaliser know no vendor's
record types, field names or query language.

Sweeps (``account_sweep``, ``customer_sweep``, ...) read every record of a kind, in id order,
a page per upstream call, for jobs that compare the systems whole (`reconcile`): ``after_id``
is the last id of the previous page, and ``limit`` None asks for the largest page the system
gives in one answer.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar, runtime_checkable

from sources.changes import ChangeScan, Notification, RecordKind
from sources.records import (
    AccountFields,
    CreditStatus,
    CrmAccount,
    CrmOpportunity,
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
from sources.resilience import ResilienceSnapshot


@dataclass(frozen=True, slots=True)
class CustomerQuery:
    """Filters and keyset paging over ERP customers, ordered by internal id."""

    credit_status: CreditStatus | None = None
    legal_entity_id: str | None = None
    keys: Sequence[str] | None = None  # restrict to these cross-reference keys
    after_id: str | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class InvoiceQuery:
    """Filters and keyset paging over ERP invoices, ordered by internal id."""

    status: InvoiceStatus | None = None
    customer_erp_ids: Sequence[str] | None = None
    due_before: dt.date | None = None
    due_after: dt.date | None = None
    after_id: str | None = None
    limit: int = 50


class ErpCapability(enum.Enum):
    """What one ERP can do and another cannot. An adapter lists those it has in
    ``capabilities``; asked for one it lacks, it raises `sources.errors.SourceNotSupported`
    (docs/erps.md has the table)."""

    DELETE_PROCESSED_ORDER = "DELETE_PROCESSED_ORDER"  # undo an order the ERP has processed
    CHANGE_WEBHOOKS = "CHANGE_WEBHOOKS"  # the ERP pushes its changes (else they are polled)
    CREDIT_CHECK_APPROVAL = "CREDIT_CHECK_APPROVAL"  # an order over the limit waits for approval


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool
    total: int | None = None


class SourceHealth(Protocol):
    source: str  # the adapter's name, as the audit trail and events name the system

    async def ping(self) -> None:
        """One cheap authenticated call; raises `SourceError` when the source is not usable."""

    def health(self) -> ResilienceSnapshot: ...


class CustomerMapping(Protocol):
    """The customer attributes an adapter maps (`sources.records.CustomerAttributes`)."""

    customer_attributes: frozenset[str]  # read into its customer records
    writable_attributes: frozenset[str]  # written from `AttributeChanges`


CANONICAL_RECORD_NAMES: Mapping[RecordKind, str] = {kind: kind.value for kind in RecordKind}
"""The ``record_names`` of an adapter with no earlier event ids to keep."""


class ChangeFeed(Protocol):
    """How a system reports its changes, in canonical terms (`sources.changes`).

    The contract an adapter fills:

    - ``source``: the system's name in events, snapshots, watermarks and the audit trail.
    - ``record_names``: the name each `RecordKind` has in the ids of its events and the keys
      of its snapshots, per kind; they must stay the same from one version to the next (an
      event's id is how consumers tell a repeat), so a new adapter uses
      `CANONICAL_RECORD_NAMES`.
    - ``change_scans()``: the scans a poller runs to find what notifications missed (every
      reported kind covered), with the guarantees `sources.changes` states: inclusive
      whole-second watermarks, a first run that does not replay history, the source's own
      present. Each scan's ``name`` keys its durable watermark. Exactly once is the
      normaliser's part (snapshots), so a scan may report a record more than once.
    - ``webhooks``: whether the system pushes notifications; when it does not,
      ``parse_notification`` raises `NotImplementedError` and no intake route exists.
    - ``parse_notification(headers, body)``: one pushed notification (its signature already
      checked) as its event id and changes; `sources.changes.MalformedNotification` (or
      another `ValueError`, e.g. for a body that is not JSON) when the body is not one.
      Records of kinds Accord does not follow are left out, not refused.
    """

    source: str
    record_names: Mapping[RecordKind, str]
    webhooks: bool

    def change_scans(self) -> Sequence[ChangeScan]: ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification: ...


class CrmPort(SourceHealth, CustomerMapping, ChangeFeed, Protocol):
    async def accounts_by_ids(self, ids: Sequence[str]) -> dict[str, CrmAccount]: ...

    async def accounts_by_erp_keys(self, keys: Sequence[str]) -> dict[str, CrmAccount]: ...

    async def search_accounts(
        self,
        *,
        name_contains: str | None = None,
        country: str | None = None,
        keys: Sequence[str] | None = None,
        after_key: str | None = None,
        limit: int | None = None,
    ) -> list[CrmAccount]: ...

    async def opportunities_by_account_ids(
        self, account_ids: Sequence[str]
    ) -> dict[str, list[CrmOpportunity]]: ...

    async def opportunities_by_ids(self, ids: Sequence[str]) -> dict[str, CrmOpportunity]: ...

    async def opportunity_lines(self, opportunity_ids: Sequence[str]) -> dict[str, list[Line]]: ...

    async def account_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[CrmAccount]:
        """Every account, cross-referenced to the ERP or not."""

    async def won_opportunity_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[CrmOpportunity]:
        """Every won opportunity (Closed Won), without its lines."""

    # writes: each carries an idempotency key; updates are safe to repeat
    async def update_account(
        self, account_id: str, fields: AccountFields, *, idempotency_key: str
    ) -> None: ...

    async def write_back_booking(
        self,
        *,
        opportunity_id: str,
        order_number: str | None,
        order_status: str | None,
        account_id: str,
        erp_key: str | None,
        idempotency_key: str,
    ) -> None:
        """Record a booking on the CRM side, all or nothing: the ERP order number and status
        on the opportunity, the ERP customer key on the account. Each value is written as
        given; None empties the field (how a compensation puts back what was there)."""


class ErpPort(SourceHealth, CustomerMapping, ChangeFeed, Protocol):
    """The ERP whole: reads, writes, the change feed, its id format and its system name."""

    id_shape: str  # what the ERP's ids look like, for error messages
    capabilities: frozenset[ErpCapability]

    def accepts_id(self, value: str) -> bool:
        """Whether ``value`` can be one of the ERP's ids (its ids are opaque elsewhere)."""

    def today(self) -> dt.date:
        """The ERP's own date: an invoice is overdue once its due date lies before it."""

    async def customers_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpCustomer]: ...

    async def customers_by_keys(self, keys: Sequence[str]) -> dict[str, ErpCustomer]: ...

    async def customer_page(self, query: CustomerQuery) -> Page[ErpCustomer]: ...

    async def legal_entities(self) -> dict[str, LegalEntity]: ...

    async def payment_terms(self) -> dict[str, PaymentTerms]: ...

    async def orders_by_customer_ids(
        self, customer_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpOrder]]: ...

    async def orders_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpOrder]: ...

    async def orders_by_external_ids(self, external_ids: Sequence[str]) -> dict[str, ErpOrder]: ...

    async def invoices_by_customer_ids(
        self, customer_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpInvoice]]: ...

    async def invoices_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpInvoice]: ...

    async def invoices_by_order_ids(
        self, order_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpInvoice]]: ...

    async def invoice_page(self, query: InvoiceQuery) -> Page[ErpInvoice]: ...

    async def payments_by_customer_ids(
        self, customer_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpPayment]]: ...

    async def payments_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpPayment]: ...

    async def payments_by_external_ids(
        self, external_ids: Sequence[str]
    ) -> dict[str, ErpPayment]: ...

    async def payments_by_invoice_ids(
        self, invoice_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpPayment]]: ...

    async def transaction_lines(
        self, transaction_erp_ids: Sequence[str]
    ) -> dict[str, list[Line]]: ...

    async def customer_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[ErpCustomer]:
        """Every customer, inactive ones too, with its default billing address."""

    async def order_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[ErpOrder]:
        """Every sales order, whatever its status, without its lines."""

    # writes: creates are keyed by an external id, so a repeat finds what the first made
    async def update_customer(
        self, erp_id: str, fields: CustomerFields, *, idempotency_key: str
    ) -> None: ...

    async def upsert_customer(
        self, key: str, fields: CustomerFields, *, idempotency_key: str
    ) -> str: ...

    async def delete_customer(self, erp_id: str) -> None: ...

    async def create_sales_order(self, order: NewSalesOrder, *, idempotency_key: str) -> str: ...

    async def delete_sales_order(self, erp_id: str) -> None: ...

    async def create_payment(self, payment: NewPayment, *, idempotency_key: str) -> str: ...


DocumentKind = Literal["orders", "invoices", "payments"]


@dataclass(frozen=True, slots=True)
class CustomerDocuments:
    """Customers' orders, invoices and payments read together, grouped by customer ERP id or
    cross-reference key, as they were asked for (newest first); a kind that was not asked for
    is empty, and so is a customer with no documents of a kind."""

    orders: Mapping[str, list[ErpOrder]]
    invoices: Mapping[str, list[ErpInvoice]]
    payments: Mapping[str, list[ErpPayment]]


@runtime_checkable
class CustomerDocumentsReader(Protocol):
    """An ERP whose query language reads several kinds of customer documents in one call.

    The read path uses it, when the ERP offers it, so that a page of customers with their
    orders, invoices and payments costs one ERP call for the three lists, not three; an ERP
    without it is asked with ``orders_by_customer_ids`` and its siblings.

    ``documents_by_customer_keys`` reads the same by the customers' cross-reference keys, so
    that a page found in the CRM (which knows the keys, not the ERP ids) reads its customers'
    documents beside the customers themselves instead of after them."""

    async def documents_by_customer_ids(
        self, customer_erp_ids: Sequence[str], kinds: Collection[DocumentKind]
    ) -> CustomerDocuments: ...

    async def documents_by_customer_keys(
        self, keys: Sequence[str], kinds: Collection[DocumentKind]
    ) -> CustomerDocuments:
        """The documents of the customers with these cross-reference keys, grouped by key; a
        key no customer has is absent."""


ErpFeedPort = ErpPort
"""The ERP port, which includes its change feed."""


class Startable(Protocol):
    async def start(self) -> None:
        """Open what the adapter keeps (sessions, tokens, reference data)."""

    async def close(self) -> None:
        """Release it; the adapter is not used after."""


class StartableErp(ErpPort, Startable, Protocol):
    """An ERP adapter as the composition root holds it: the port, and its lifecycle."""
