"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from resolvers.loaders import Loaders
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
    today: dt.date = field(default_factory=dt.date.today)

    @classmethod
    def for_request(cls, sources: Sources) -> AccordContext:
        """A context with fresh loaders: nothing is shared between requests."""
        return cls(sources=sources, loaders=Loaders(sources.crm, sources.erp))
