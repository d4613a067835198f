"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cache.read_cache import ReadCache
from cache.stale import StaleNotes
from domain.caller import ANONYMOUS, Caller
from resolvers.loaders import Loaders
from sources.clock import utc_today
from sources.ports import CrmPort, ErpPort


@dataclass(frozen=True)
class Sources:
    """The systems behind Accord, built once at start-up by the composition root."""

    crm: CrmPort
    erp: ErpPort


@dataclass
class AccordContext:
    sources: Sources
    loaders: Loaders
    caller: Caller = ANONYMOUS
    services: Any = None  # the write path's services (mutations.services.WriteServices)
    today: dt.date = field(default_factory=utc_today)
    bus: Any = None  # the event bus (events.bus.Bus), for subscriptions
    reconciler: Any = None  # the reconciliation job (reconcile.Reconciler), for ops
    # A WebSocket connection's state: its connection_init payload, the socket, and how many
    # operations it runs (for the idle limit); None over plain HTTP.
    connection_params: Any = None
    websocket: Any = None
    stale: StaleNotes = field(default_factory=StaleNotes)  # values served stale, for extensions

    @classmethod
    def for_request(
        cls,
        sources: Sources,
        caller: Caller = ANONYMOUS,
        services: Any = None,
        cache: ReadCache | None = None,
    ) -> AccordContext:
        """A context with fresh loaders. Only source records are shared between requests,
        through the process's ``cache``; nothing computed for a caller is."""
        stale = StaleNotes()
        return cls(
            sources=sources,
            loaders=Loaders(sources.crm, sources.erp, cache, stale),
            caller=caller,
            services=services,
            stale=stale,
        )

    def response_extensions(self) -> dict[str, Any] | None:
        """What the response's ``extensions`` say about this request: the stale values."""
        return {"stale": self.stale.to_json()} if self.stale else None
