"""Customers: one canonical customer assembled from a CRM account and an ERP customer.

A customer may be known by its cross-reference key, its Salesforce id or its ERP id
(`domain.ids.CustomerRef`). Each side is loaded only when a field it owns is asked for, and
through the request's DataLoaders, so a page of customers costs one call per system.

Lists are driven by the system that owns the filter: with no CRM filter the ERP pages its
customers by internal id; with a name or country filter the CRM pages its accounts by
cross-reference key, and an ERP filter (credit status) is then applied to each batch. A
page's orders, invoices and payments are read beside the other system's records, not after
them: by ERP id as soon as the ERP's page is in; for a page found in the CRM, by
cross-reference key beside the ERP customers when the ERP reads them so and the request has
no read cache, else by ERP id once those customers are in (`load_customers`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from graphql import GraphQLError

from domain.ids import CustomerRef
from domain.ownership import REGISTRY, System
from resolvers.context import AccordContext
from resolvers.errors import BadInputError, SourceFieldError
from resolvers.paging import cursor_scope, decode_cursor, encode_cursor, page_size
from sources.errors import SourceError
from sources.ports import (
    CustomerDocuments,
    CustomerDocumentsReader,
    CustomerQuery,
    DocumentKind,
)
from sources.records import CreditStatus, CrmAccount, ErpCustomer

T = TypeVar("T")


async def crm_account(ctx: AccordContext, ref: CustomerRef) -> CrmAccount | None:
    loaders = ctx.loaders
    if ref.salesforce_id:
        return await loaders.account_by_id.load(ref.salesforce_id)
    if ref.key:
        return await loaders.account_by_key.load(ref.key)
    if ref.erp_id:
        customer = await loaders.erp_customer_by_id.load(ref.erp_id)
        if customer is not None and customer.erp_key:
            return await loaders.account_by_key.load(customer.erp_key)
    return None


async def erp_customer(ctx: AccordContext, ref: CustomerRef) -> ErpCustomer | None:
    loaders = ctx.loaders
    if ref.erp_id:
        return await loaders.erp_customer_by_id.load(ref.erp_id)
    if ref.key:
        return await loaders.erp_customer_by_key.load(ref.key)
    if ref.salesforce_id:
        account = await loaders.account_by_id.load(ref.salesforce_id)
        if account is not None and account.erp_key:
            return await loaders.erp_customer_by_key.load(account.erp_key)
    return None


class _Unloaded:
    """The marker of a side that was not asked for, so not loaded."""

    def __repr__(self) -> str:
        return "UNLOADED"


UNLOADED = _Unloaded()
Side: TypeAlias = T | BaseException | _Unloaded | None


@dataclass
class CustomerData:
    """A customer with the sides its query asked for already loaded (or failed)."""

    ref: CustomerRef
    account: Side[CrmAccount] = UNLOADED
    erp: Side[ErpCustomer] = UNLOADED

    def crm_side(self) -> CrmAccount | None:
        return _side(self.account, "CRM")

    def erp_side(self) -> ErpCustomer | None:
        return _side(self.erp, "ERP")

    def side(self, system: System) -> CrmAccount | ErpCustomer | None:
        """The record of the system that owns a field (raises what loading it raised)."""
        if system is System.CRM:
            return self.crm_side()
        if system is System.ERP:
            return self.erp_side()
        raise ValueError(f"no customer record is held by {system.value}")

    @property
    def key(self) -> str | None:
        if self.ref.key:
            return self.ref.key
        for side in (self.account, self.erp):
            if isinstance(side, CrmAccount | ErpCustomer) and side.erp_key:
                return side.erp_key
        return None


def _side(value: Side[T], name: str) -> T | None:
    if isinstance(value, BaseException):
        raise value
    if isinstance(value, _Unloaded):
        raise RuntimeError(f"the {name} side of a customer was read without being loaded")
    return value


def needs(fields: set[str], ref: CustomerRef) -> tuple[bool, bool]:
    """(CRM, ERP): which systems own the customer fields a query selected."""
    crm = erp = False
    for name in fields:
        path = f"Customer.{name}"
        if path not in REGISTRY:
            continue
        owner = REGISTRY[path].owner
        crm = crm or owner is System.CRM
        erp = erp or owner is System.ERP
    if "systems" in fields:
        crm = erp = True
    if "id" in fields and not ref.key:
        crm = crm or bool(ref.salesforce_id)
        erp = erp or not ref.salesforce_id
    return crm, erp


def _prefetch_children(
    ctx: AccordContext, side: object, fields: set[str], started: list[Any] | None = None
) -> None:
    """Start loading the customer's selected lists as soon as its record is known, so they
    join the same batch as every other customer's instead of waiting for the other system;
    their futures go to ``started`` when given."""
    loaders = ctx.loaders
    futures: list[Any] = []
    if isinstance(side, ErpCustomer):
        if "orders" in fields:
            futures.append(loaders.orders_by_customer.prefetch(side.erp_id))
        if "invoices" in fields:
            futures.append(loaders.invoices_by_customer.prefetch(side.erp_id))
        if "payments" in fields:
            futures.append(loaders.payments_by_customer.prefetch(side.erp_id))
    elif isinstance(side, CrmAccount) and "opportunities" in fields:
        futures.append(loaders.opportunities_by_account.prefetch(side.salesforce_id))
    if started is not None:
        started.extend(futures)


def _crm_side(ctx: AccordContext, ref: CustomerRef) -> asyncio.Future[CrmAccount | None]:
    """The customer's account as a future: the loader's own for a key it is read by, else a
    task that reaches it through the ERP (two hops)."""
    loaders = ctx.loaders
    if ref.salesforce_id:
        return loaders.account_by_id.future(ref.salesforce_id)
    if ref.key:
        return loaders.account_by_key.future(ref.key)
    return asyncio.ensure_future(crm_account(ctx, ref))


def _erp_side(ctx: AccordContext, ref: CustomerRef) -> asyncio.Future[ErpCustomer | None]:
    """The customer's ERP record as a future, as `_crm_side` gives the account."""
    loaders = ctx.loaders
    if ref.erp_id:
        return loaders.erp_customer_by_id.future(ref.erp_id)
    if ref.key:
        return loaders.erp_customer_by_key.future(ref.key)
    return asyncio.ensure_future(erp_customer(ctx, ref))


async def load_customer(
    ctx: AccordContext, ref: CustomerRef, fields: set[str], *, both: bool = False
) -> CustomerData:
    """``ref`` with the sides ``fields`` need loaded, concurrently and through the loaders
    (no task for a side a loader reads by the key given); the selected lists of each side
    start loading as soon as that side is known."""
    want_crm, want_erp = (True, True) if both else needs(fields, ref)
    sides = [
        _crm_side(ctx, ref) if want_crm else None,
        _erp_side(ctx, ref) if want_erp else None,
    ]
    waits = [side for side in sides if side is not None]
    for wait in waits:
        wait.add_done_callback(lambda done: _prefetch_children(ctx, _result(done), fields))
    found = iter(await asyncio.gather(*waits, return_exceptions=True))
    account, erp = (_loaded(next(found)) if side is not None else UNLOADED for side in sides)
    return CustomerData(ref, account, erp)


def _loaded(value: Any) -> Any:
    """A side as loaded: its record, None, or the `GraphQLError` its source failed with
    (anything else raised is a bug or a cancellation, and goes on)."""
    if isinstance(value, BaseException) and not isinstance(value, GraphQLError):
        raise value
    return value


async def load_customers(
    ctx: AccordContext, refs: list[CustomerRef], fields: set[str]
) -> list[CustomerData]:
    """Many customers at once: one batched call per system for all of them.

    A page's customers are known by a key of each system's loader, so each side is the
    loader's future for that key and the whole page waits on them together: no task per
    customer. A side reached through the other system (two hops) runs as `load_customer`
    does. The selected lists of a side the page already holds start loading at once, beside
    the other side's read; those of the rest start in one batch once the sides are known.
    ERP customers read by cross-reference key have their documents read by the same keys
    beside them, when the ERP can (`_documents_by_keys`)."""
    waits: list[Awaitable[Any]] = []
    plan: list[tuple[int | None, int | None]] = []
    by_key: list[str] = []
    for ref in refs:
        want_crm, want_erp = needs(fields, ref)
        crm_at = erp_at = None
        if want_crm:
            crm_at = len(waits)
            waits.append(_crm_side(ctx, ref))
        if want_erp:
            erp_at = len(waits)
            future = _erp_side(ctx, ref)
            if ref.key and not ref.erp_id and not future.done():
                by_key.append(ref.key)
            waits.append(future)
        plan.append((crm_at, erp_at))
    documents = _documents_by_keys(ctx, by_key, fields)
    children: list[Any] = []
    known = {at for at, wait in enumerate(waits) if _done(wait)}
    for at in sorted(known):
        _prefetch_children(ctx, _result(waits[at]), fields, children)
    try:
        found = [_loaded(value) for value in await asyncio.gather(*waits, return_exceptions=True)]
    except BaseException:
        if documents is not None:
            documents[0].cancel()
        raise
    if documents is not None:
        read, kinds = documents
        keyed = set(by_key)
        customers = {
            ref.key: found[erp_at]
            for ref, (_, erp_at) in zip(refs, plan, strict=True)
            if erp_at is not None and ref.key in keyed
        }
        _prime_documents(ctx, await read, kinds, customers)
    loaded = []
    for ref, (crm_at, erp_at) in zip(refs, plan, strict=True):
        account = found[crm_at] if crm_at is not None else UNLOADED
        erp = found[erp_at] if erp_at is not None else UNLOADED
        if crm_at not in known:
            _prefetch_children(ctx, account, fields, children)
        if erp_at not in known:
            _prefetch_children(ctx, erp, fields, children)
        loaded.append(CustomerData(ref, account, erp))
    # The page's lists are in before its fields resolve, so each list field answers at once
    # (`BatchLoader.loaded`) instead of awaiting in a coroutine per customer.
    await asyncio.gather(*children, return_exceptions=True)
    return loaded


def _done(wait: Awaitable[Any]) -> bool:
    return isinstance(wait, asyncio.Future) and wait.done()


def _result(wait: Awaitable[Any]) -> object:
    """The record of a done future, or None when loading it failed."""
    assert isinstance(wait, asyncio.Future)
    if wait.cancelled() or wait.exception() is not None:
        return None
    return wait.result()


_DOCUMENT_LOADERS: dict[DocumentKind, str] = {
    "orders": "orders_by_customer",
    "invoices": "invoices_by_customer",
    "payments": "payments_by_customer",
}

_Documents: TypeAlias = "asyncio.Future[CustomerDocuments | SourceError]"


def _documents_by_keys(
    ctx: AccordContext, keys: list[str], fields: set[str]
) -> tuple[_Documents, list[DocumentKind]] | None:
    """The documents the selection has of the customers with these keys, read now, beside
    the customers, when the ERP reads them by key (`CustomerDocumentsReader`), with the kinds
    asked for; None otherwise, and the documents wait for the customers' ERP ids as usual.

    With a read cache the lists are read through it, by ERP id (fresh ones cost nothing, and
    a failed read is answered with the copies it keeps), so this read is for requests
    without one."""
    kinds: list[DocumentKind] = [kind for kind in _DOCUMENT_LOADERS if kind in fields]
    erp = ctx.sources.erp
    if not keys or not kinds or ctx.loaders.cache is not None:
        return None
    if not isinstance(erp, CustomerDocumentsReader):
        return None

    async def read() -> CustomerDocuments | SourceError:
        try:
            return await erp.documents_by_customer_keys(keys, kinds)
        except SourceError as exc:
            return exc

    return asyncio.ensure_future(read()), kinds


def _prime_documents(
    ctx: AccordContext,
    documents: CustomerDocuments | SourceError,
    kinds: list[DocumentKind],
    customers: dict[str, Any],
) -> None:
    """Give the document loaders (by ERP id) the lists of ``kinds`` read by key, for each
    ERP customer found by its key in ``customers``: a field finds there what reading by ERP
    id would have answered, and the same error when the read failed."""
    error = (
        SourceFieldError.from_source_error(documents)
        if isinstance(documents, SourceError)
        else None
    )
    for kind in kinds:
        loader = getattr(ctx.loaders, _DOCUMENT_LOADERS[kind])
        for key, side in customers.items():
            if not isinstance(side, ErpCustomer):
                continue
            if isinstance(documents, CustomerDocuments):
                loader.prime(side.erp_id, list(getattr(documents, kind).get(key, [])))
            else:
                loader.prime(side.erp_id, error)


async def resolve_root(
    ctx: AccordContext, ref: CustomerRef, fields: set[str]
) -> CustomerData | None:
    """A looked-up customer with its needed sides loaded; None when no system knows it.

    When the system that would tell whether it exists fails, the failure is raised (the
    customer is null with that error); when only one of two systems fails, the customer is
    returned and the failing system's fields carry the error.
    """
    if ref.salesforce_id:
        account = await crm_account(ctx, ref)
        if account is None:
            return None
        resolved = CustomerRef(key=account.erp_key, salesforce_id=account.salesforce_id)
        return await load_customer(ctx, resolved, fields)
    if ref.erp_id:
        customer = await erp_customer(ctx, ref)
        if customer is None:
            return None
        return await load_customer(
            ctx, CustomerRef(key=customer.erp_key, erp_id=customer.erp_id), fields
        )
    data = await load_customer(ctx, ref, fields, both=True)
    found = [
        side for side in (data.account, data.erp) if isinstance(side, CrmAccount | ErpCustomer)
    ]
    if not found:
        errors = [side for side in (data.account, data.erp) if isinstance(side, BaseException)]
        if errors:
            raise errors[0]
        return None
    return data


@dataclass(frozen=True)
class CustomerFilter:
    name_contains: str | None = None
    country: str | None = None
    credit_status: CreditStatus | None = None


@dataclass(frozen=True)
class CustomerPage:
    edges: list[tuple[str, CustomerData]]
    has_next: bool
    has_previous: bool
    total: int | None


def _ref_of_erp(ctx: AccordContext, customer: ErpCustomer) -> CustomerRef:
    ctx.loaders.erp_customer_by_id.prime(customer.erp_id, customer)
    if customer.erp_key:
        ctx.loaders.erp_customer_by_key.prime(customer.erp_key, customer)
    return CustomerRef(key=customer.erp_key, erp_id=customer.erp_id)


async def list_customers(
    ctx: AccordContext,
    filters: CustomerFilter,
    first: int | None,
    after: str | None,
    fields: set[str],
) -> CustomerPage:
    """A page of customers whose ``fields`` are loaded from their owners."""
    size = page_size(first)
    cursors = cursor_scope(
        "customers", filters.name_contains, filters.country, filters.credit_status
    )
    if filters.name_contains is None and filters.country is None:
        edges, has_next, total = await _erp_driven(ctx, filters, size, after, cursors)
    else:
        edges, has_next, total = await _crm_driven(ctx, filters, size, after, cursors)
    loaded = await load_customers(ctx, [ref for _, ref in edges], fields)
    return CustomerPage(
        [(cursor, data) for (cursor, _), data in zip(edges, loaded, strict=True)],
        has_next,
        after is not None,
        total,
    )


_Edges = tuple[list[tuple[str, CustomerRef]], bool, int | None]


async def _erp_driven(
    ctx: AccordContext, filters: CustomerFilter, size: int, after: str | None, cursors: str
) -> _Edges:
    cursor = decode_cursor(after, "e", cursors)
    after_id = cursor[1] if cursor else None
    if after_id is not None and not ctx.sources.erp.accepts_id(after_id):
        raise BadInputError(f"{after!r} is not a cursor of this list", argument="after")
    try:
        page = await ctx.sources.erp.customer_page(
            CustomerQuery(credit_status=filters.credit_status, after_id=after_id, limit=size)
        )
    except SourceError as exc:
        raise SourceFieldError.from_source_error(exc) from exc
    edges = [
        (encode_cursor("e", customer.erp_id, cursors), _ref_of_erp(ctx, customer))
        for customer in page.items
    ]
    return edges, page.has_more, page.total


async def _crm_driven(
    ctx: AccordContext, filters: CustomerFilter, size: int, after: str | None, cursors: str
) -> _Edges:
    cursor = decode_cursor(after, "k", cursors)
    after_key = cursor[1] if cursor else None
    edges: list[tuple[str, CustomerRef]] = []
    batch = size + 1 if filters.credit_status is None else max(2 * size, 50)
    while True:
        try:
            accounts = await ctx.sources.crm.search_accounts(
                name_contains=filters.name_contains,
                country=filters.country,
                after_key=after_key,
                limit=batch,
            )
        except SourceError as exc:
            raise SourceFieldError.from_source_error(exc) from exc
        for account in accounts:
            ctx.loaders.account_by_id.prime(account.salesforce_id, account)
            if account.erp_key:
                ctx.loaders.account_by_key.prime(account.erp_key, account)
        keyed = [account for account in accounts if account.erp_key]
        if filters.credit_status is not None:
            customers = await ctx.loaders.erp_customer_by_key.load_many(
                [account.erp_key or "" for account in keyed]
            )
            keyed = [
                account
                for account, customer in zip(keyed, customers, strict=True)
                if customer is not None and customer.credit_status is filters.credit_status
            ]
        for account in keyed:
            key = account.erp_key or ""
            edges.append(
                (
                    encode_cursor("k", key, cursors),
                    CustomerRef(key=key, salesforce_id=account.salesforce_id),
                )
            )
        exhausted = len(accounts) < batch
        if len(edges) > size or exhausted:
            break
        after_key = accounts[-1].erp_key
    return edges[:size], len(edges) > size, None
