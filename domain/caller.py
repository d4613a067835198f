"""Who is asking: the caller every request, mutation, workflow step and audit entry names."""

from __future__ import annotations

from dataclasses import dataclass

from domain.ownership import Role


@dataclass(frozen=True)
class Caller:
    """A name for the audit trail and the role the registry authorises."""

    name: str
    role: Role | None  # None: anonymous
    expires_at: float | None = None  # when its credentials end (a token's exp), epoch seconds

    @property
    def anonymous(self) -> bool:
        return self.role is None


ANONYMOUS = Caller("anonymous", None)
