"""Why a sandbox Tryton could not start: one base class, told to the user in one line."""

from __future__ import annotations

__all__ = ["TrytonNotInstalled", "TrytonSandboxError", "TrytonStartError"]


class TrytonSandboxError(RuntimeError):
    """The sandbox's Tryton could not be prepared or started."""


class TrytonNotInstalled(TrytonSandboxError):
    """Tryton or one of the sandbox's modules is missing from this Python environment."""


class TrytonStartError(TrytonSandboxError):
    """trytond, trytond-admin, the seed or the database server failed; the message says how
    (quoting the end of the server's log where there is one)."""
