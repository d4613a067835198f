"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cache.read_cache import ReadCache
from cache.reads import ReadLog
from cache.stale import StaleNotes
from domain.caller import ANONYMOUS, Caller
from events.bus import Bus
from mutations.common import WriteServices
from reconcile import Reconciler
from resolvers.loaders import Loaders
from sources.clock import utc_today
from sources.ports import CrmPort, ErpPort


@dataclass(frozen=True)
class Sources:
    """The systems behind Accord, built once at start-up by the composition root."""

    crm: CrmPort
    erp: ErpPort


@dataclass(frozen=True)
class Services:
    """What the composition root built once for every request: the systems, the write path,
    the event bus and the reconciliation job (None where this process runs without them)."""

    sources: Sources
    write: WriteServices | None = None
    bus: Bus | None = None
    reconciler: Reconciler | None = None
    cache: ReadCache | None = None


@dataclass(frozen=True)
class AccordContext:
    """One operation's context, built whole when the operation starts and never changed."""

    sources: Sources
    loaders: Loaders
    caller: Caller = ANONYMOUS
    services: WriteServices | None = None  # the write path
    bus: Bus | None = None  # the event bus, for subscriptions
    reconciler: Reconciler | None = None  # the reconciliation job, for ops
    today: dt.date = field(default_factory=utc_today)
    stale: StaleNotes = field(default_factory=StaleNotes)  # values served stale, for extensions
    reads: ReadLog | None = None  # what the answer was read from (None: no read cache)

    @classmethod
    def for_request(cls, built: Services, caller: Caller = ANONYMOUS) -> AccordContext:
        """A context with fresh loaders. Only source records are shared between requests,
        through the process's read cache; nothing computed for a caller is."""
        stale = StaleNotes()
        sources = built.sources
        reads = ReadLog(built.cache.epoch) if built.cache is not None else None
        return cls(
            sources=sources,
            loaders=Loaders(sources.crm, sources.erp, built.cache, stale, reads),
            caller=caller,
            services=built.write,
            bus=built.bus,
            reconciler=built.reconciler,
            stale=stale,
            reads=reads,
        )

    def response_extensions(self) -> dict[str, Any] | None:
        """What the response's ``extensions`` say about this request: the stale values."""
        return {"stale": self.stale.to_json()} if self.stale else None
