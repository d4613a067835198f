"""Which Tryton is installed, and the modules the sandbox activates in its database.

Tryton is an optional extra (``pip install -e '.[tryton]'``). Nothing here imports it: the
installed distributions are read from their metadata, and the server and its admin tool are
run as programs (`command`).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
from pathlib import Path

from sandbox.tryton.errors import TrytonNotInstalled

__all__ = ["MODULES", "command", "installed_versions"]

MODULES = (
    "party",
    "company",
    "currency",
    "country",
    "product",
    "account",
    "account_product",
    "account_invoice",
    "account_statement",
    "account_credit_limit",
    "bank",
    "stock",
    "account_invoice_stock",
    "sale",
    "sale_credit_limit",
)
"""Activated in every sandbox database. ``trytond-admin`` wants a module's dependencies named
too, so this lists them all: bank (for statements), stock and account_invoice_stock (for
sales)."""

INSTALL_HINT = "install it with: pip install -e '.[tryton]'"


def installed_versions() -> dict[str, str]:
    """``{"trytond": "8.2.1", "trytond_party": "8.2.0", …}`` for every Tryton distribution."""
    versions: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("-", "_")
        if name == "trytond" or name.startswith("trytond_"):
            versions[name] = dist.version
    missing = [m for m in ("trytond", *(f"trytond_{m}" for m in MODULES)) if m not in versions]
    if missing:
        raise TrytonNotInstalled(f"Tryton is not installed ({', '.join(missing)}); {INSTALL_HINT}")
    return dict(sorted(versions.items()))


def command(name: str) -> Path:
    """The path of a Tryton program (``trytond``, ``trytond-admin``): beside this Python, as a
    virtual environment installs it, or on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found is None:
        raise TrytonNotInstalled(f"the {name} program is not installed; {INSTALL_HINT}")
    return Path(found)
