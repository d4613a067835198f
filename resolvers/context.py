"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from resolvers.loaders import Loaders
from schema.ownership import Role
from sources.ports import CrmPort, ErpPort


@dataclass(frozen=True)
class Sources:
    """The systems behind Accord, built once at start-up by the composition root."""

    crm: CrmPort
    erp: ErpPort


@dataclass(frozen=True)
class Caller:
    """Who is asking: a name for the audit trail and the role the registry authorises."""

    name: str
    role: Role | None  # None: anonymous

    @property
    def anonymous(self) -> bool:
        return self.role is None


ANONYMOUS = Caller("anonymous", None)


@dataclass
class AccordContext:
    sources: Sources
    loaders: Loaders
    caller: Caller = ANONYMOUS
    services: Any = None  # the write path's services (mutations.services.WriteServices)
    today: dt.date = field(default_factory=dt.date.today)

    @classmethod
    def for_request(
        cls, sources: Sources, caller: Caller = ANONYMOUS, services: Any = None
    ) -> AccordContext:
        """A context with fresh loaders: nothing is shared between requests."""
        return cls(
            sources=sources,
            loaders=Loaders(sources.crm, sources.erp),
            caller=caller,
            services=services,
        )
