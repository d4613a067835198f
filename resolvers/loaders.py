"""Per-request DataLoaders: one class per entity and key, each one batched upstream call.

Every loader collects the keys its resolvers ask for during one turn of the event loop and
makes one call to its source's batch method (`sources.ports`), which itself splits a long
key list under the vendor's limits. Values are cached for the rest of the request, so a
record fetched for one field is not fetched again for another. A source failure reaches every
field that waited on the batch as a `SourceFieldError` carrying the code and the source.

With the process's `cache.ReadCache`, each batch reads through it: keys fresh in the cache
cost nothing upstream, keys another request is reading wait for that read, and the rest make
the one call. A key the cache answers with a stale copy (its source failed) is noted in the
request's `cache.StaleNotes`; a key with no copy fails as above.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar, overload

from aiodataloader import DataLoader

from cache import entities as E
from cache.entities import Entity
from cache.read_cache import ReadCache
from cache.reads import ReadLog
from cache.stale import StaleNotes
from resolvers.errors import SourceFieldError
from sources.errors import SourceError
from sources.ports import (
    CrmPort,
    CustomerDocuments,
    CustomerDocumentsReader,
    DocumentKind,
    ErpPort,
)
from sources.records import (
    CrmAccount,
    CrmOpportunity,
    ErpCustomer,
    ErpInvoice,
    ErpOrder,
    ErpPayment,
    Line,
)
from telemetry import tracing

K = TypeVar("K")
V = TypeVar("V")


class BatchLoader(Generic[K, V]):
    """A typed DataLoader: ``fetch`` answers a mapping; keys it leaves out get ``missing``,
    and a key it maps to a `SourceError` (its source failed for that key) gets that error."""

    def __init__(
        self,
        fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V | SourceError]]],
        missing: Callable[[], V],
        observe: Callable[[Any], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._missing = missing
        self._observe = observe
        self.batches = 0
        self._loader = DataLoader(self._batch)
        self._prefetched: dict[K, asyncio.Future[V]] = {}

    async def _batch(self, keys: list[K]) -> list[Any]:
        if not tracing.enabled():
            return await self._load_batch(keys)
        name = getattr(self._fetch, "__qualname__", "batch")
        with tracing.span(f"dataloader {name}", {"accord.keys": len(keys)}):
            return await self._load_batch(keys)

    async def _load_batch(self, keys: list[K]) -> list[Any]:
        self.batches += 1
        try:
            found = await self._fetch(keys)
        except SourceError as exc:
            error = SourceFieldError.from_source_error(exc)
            return [error for _ in keys]
        return [self._value(found, key) for key in keys]

    def _value(self, found: Mapping[K, V | SourceError], key: K) -> Any:
        if key not in found:
            return self._missing()
        value = found[key]
        if isinstance(value, SourceError):
            return SourceFieldError.from_source_error(value)
        return value

    async def load(self, key: K) -> V:
        result: V = await self._loader.load(key)
        return result

    def future(self, key: K) -> asyncio.Future[V]:
        """The value of ``key`` as a future of this turn's batch: for a caller loading many
        keys at once, which then waits on the futures together (no task per key)."""
        future: asyncio.Future[V] = self._loader.load(key)
        return future

    async def load_many(self, keys: Sequence[K]) -> list[V]:
        return list(await asyncio.gather(*(self.load(key) for key in keys)))

    def prime(self, key: K, value: V) -> None:
        """Give the request a value read another way (a page); the cache learns its ids."""
        if self._observe is not None:
            self._observe(value)
        self._loader.prime(key, value)

    def prefetch(self, key: K) -> asyncio.Future[V]:
        """Start loading ``key`` now, in this turn's batch, for a resolver that will ask later.

        The later ``load`` gets the same (cached) future; a failure is kept for it and not
        reported as an exception nobody retrieved. The future is returned for a caller that
        waits for many at once, and `loaded` finds it once it is done."""
        future: asyncio.Future[V] = self._loader.load(key)
        future.add_done_callback(_retrieve)
        self._prefetched[key] = future
        return future

    def loaded(self, key: K) -> asyncio.Future[V] | None:
        """The done future of a key prefetched in this request, or None: a resolver with it
        answers at once, without a coroutine (``result()`` raises what loading raised)."""
        future = self._prefetched.get(key)
        return future if future is not None and future.done() else None


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _none() -> None:
    return None


def _empty() -> list[Any]:
    return []


Fetch = Callable[[Sequence[str]], Awaitable[Mapping[str, Any]]]


class _DocumentRound:
    """One request's customer-document reads (orders, invoices, payments by customer) that
    start in the same turns of the event loop, answered by one ERP call for all of them.

    The three loaders dispatch their batches separately; the first to ask opens a round and
    waits a few loop turns (no time) for the others to join, then asks the ERP once for every
    kind and customer asked for. Each loader gets its own kind for its own keys."""

    TURNS = 3  # loop turns a round stays open for the others to join

    def __init__(self, erp: CustomerDocumentsReader) -> None:
        self.erp = erp
        self._kinds: set[DocumentKind] = set()
        self._ids: dict[str, None] = {}
        self._answer: asyncio.Future[CustomerDocuments] | None = None

    async def fetch(self, kind: DocumentKind, ids: Sequence[str]) -> Mapping[str, Any]:
        answer = self._answer
        if answer is None:
            answer = self._answer = asyncio.get_running_loop().create_future()
            self._task = asyncio.ensure_future(self._run(answer))
        self._kinds.add(kind)
        self._ids.update(dict.fromkeys(ids))
        documents = await asyncio.shield(answer)
        found: Mapping[str, Any] = getattr(documents, kind)
        return {key: found[key] for key in ids if key in found}

    async def _run(self, answer: asyncio.Future[CustomerDocuments]) -> None:
        for _ in range(self.TURNS):
            await asyncio.sleep(0)
        kinds, ids = self._kinds, list(self._ids)
        self._kinds, self._ids, self._answer = set(), {}, None
        try:
            answer.set_result(await self.erp.documents_by_customer_ids(ids, kinds))
        except BaseException as exc:
            answer.set_exception(exc)
            answer.exception()  # a waiter that left must not make it "never retrieved"
            if not isinstance(exc, Exception):
                raise


def _documents(kind: DocumentKind, alone: Callable[[ErpPort], Fetch]) -> Callable[[Loaders], Fetch]:
    """The fetch of a customer-document loader: through the request's `_DocumentRound` when
    the ERP reads several kinds at once, else the ERP's own batch method for ``kind``."""

    def fetch_for(loaders: Loaders) -> Fetch:
        erp = loaders.erp
        if not isinstance(erp, CustomerDocumentsReader):
            return alone(erp)
        round_ = loaders.__dict__.get("_document_round")
        if round_ is None:
            round_ = loaders.__dict__["_document_round"] = _DocumentRound(erp)
        return functools.partial(round_.fetch, kind)

    return fetch_for


class _Lazy(Generic[V]):
    """A loader of `Loaders`, built on first use: a request pays only for the loaders its
    query reaches (the credit query uses two of seventeen). The built loader replaces the
    descriptor in the instance's ``__dict__``, so later reads are plain attribute reads."""

    def __init__(
        self, entity: Entity, fetch: Callable[[Loaders], Fetch], missing: Callable[[], V]
    ) -> None:
        self.entity = entity
        self.fetch = fetch
        self.missing = missing
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, loaders: None, owner: type) -> _Lazy[V]: ...

    @overload
    def __get__(self, loaders: Loaders, owner: type) -> BatchLoader[str, V]: ...

    def __get__(self, loaders: Loaders | None, owner: type) -> _Lazy[V] | BatchLoader[str, V]:
        if loaders is None:
            return self
        fetch = self.fetch(loaders)
        if loaders.cache is not None:
            fetch = loaders.cache.fetcher(self.entity, fetch, loaders.stale, loaders.reads)
        loader: BatchLoader[str, V] = BatchLoader(fetch, self.missing, loaders.primed)
        loaders.__dict__[self.name] = loader
        return loader


class Loaders:
    """The loaders of one request. Names read ``<entity>_by_<key>``; each is built on first use.

    With a ``cache``, every loader reads through it as the `cache.entities` entity named
    beside it, stale answers are noted in ``stale``, and every key read in ``reads``; a value
    given to a loader another way (`BatchLoader.prime`, a page) makes ``reads`` untracked."""

    def __init__(
        self,
        crm: CrmPort,
        erp: ErpPort,
        cache: ReadCache | None = None,
        stale: StaleNotes | None = None,
        reads: ReadLog | None = None,
    ) -> None:
        self.crm = crm
        self.erp = erp
        self.cache = cache
        self.stale = stale
        self.reads = reads
        self.observe = cache.observe if cache is not None else None

    def primed(self, value: Any) -> None:
        """A loader was given ``value`` read past the cache (a page): the cache learns its
        cross-references, and the request's reads are no longer known in full."""
        if self.reads is not None:
            self.reads.read_untracked()
        if self.observe is not None:
            self.observe(value)

    # CRM
    account_by_id: _Lazy[CrmAccount | None] = _Lazy(
        E.ACCOUNT, lambda s: s.crm.accounts_by_ids, _none
    )
    account_by_key: _Lazy[CrmAccount | None] = _Lazy(
        E.ACCOUNT_BY_KEY, lambda s: s.crm.accounts_by_erp_keys, _none
    )
    opportunities_by_account: _Lazy[list[CrmOpportunity]] = _Lazy(
        E.OPPORTUNITIES_OF_ACCOUNT, lambda s: s.crm.opportunities_by_account_ids, _empty
    )
    opportunity_by_id: _Lazy[CrmOpportunity | None] = _Lazy(
        E.OPPORTUNITY, lambda s: s.crm.opportunities_by_ids, _none
    )
    opportunity_lines: _Lazy[list[Line]] = _Lazy(
        E.OPPORTUNITY_LINES, lambda s: s.crm.opportunity_lines, _empty
    )
    # ERP
    erp_customer_by_id: _Lazy[ErpCustomer | None] = _Lazy(
        E.CUSTOMER, lambda s: s.erp.customers_by_ids, _none
    )
    erp_customer_by_key: _Lazy[ErpCustomer | None] = _Lazy(
        E.CUSTOMER_BY_KEY, lambda s: s.erp.customers_by_keys, _none
    )
    orders_by_customer: _Lazy[list[ErpOrder]] = _Lazy(
        E.ORDERS_OF_CUSTOMER, _documents("orders", lambda erp: erp.orders_by_customer_ids), _empty
    )
    order_by_id: _Lazy[ErpOrder | None] = _Lazy(E.ORDER, lambda s: s.erp.orders_by_ids, _none)
    order_by_opportunity: _Lazy[ErpOrder | None] = _Lazy(
        E.ORDER_BY_OPPORTUNITY, lambda s: s.erp.orders_by_external_ids, _none
    )
    invoices_by_customer: _Lazy[list[ErpInvoice]] = _Lazy(
        E.INVOICES_OF_CUSTOMER,
        _documents("invoices", lambda erp: erp.invoices_by_customer_ids),
        _empty,
    )
    invoice_by_id: _Lazy[ErpInvoice | None] = _Lazy(
        E.INVOICE, lambda s: s.erp.invoices_by_ids, _none
    )
    invoices_by_order: _Lazy[list[ErpInvoice]] = _Lazy(
        E.INVOICES_OF_ORDER, lambda s: s.erp.invoices_by_order_ids, _empty
    )
    payments_by_customer: _Lazy[list[ErpPayment]] = _Lazy(
        E.PAYMENTS_OF_CUSTOMER,
        _documents("payments", lambda erp: erp.payments_by_customer_ids),
        _empty,
    )
    payment_by_id: _Lazy[ErpPayment | None] = _Lazy(
        E.PAYMENT, lambda s: s.erp.payments_by_ids, _none
    )
    payments_by_invoice: _Lazy[list[ErpPayment]] = _Lazy(
        E.PAYMENTS_OF_INVOICE, lambda s: s.erp.payments_by_invoice_ids, _empty
    )
    transaction_lines: _Lazy[list[Line]] = _Lazy(
        E.TRANSACTION_LINES, lambda s: s.erp.transaction_lines, _empty
    )

    def renew(self, *, live: bool = False) -> None:
        """Forget every loader built so far, so the next read goes out again: a subscription
        reads each event's objects afresh, not as its first event saw them. With ``live``,
        later reads skip the read cache and ask the systems themselves."""
        for name, member in vars(Loaders).items():
            if isinstance(member, _Lazy):
                self.__dict__.pop(name, None)
        self.__dict__.pop("_document_round", None)
        if live:
            self.cache = None
            self.observe = None
            if self.reads is not None:
                self.reads.read_untracked()
