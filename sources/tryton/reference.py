"""Tryton's reference data, read once and kept for an hour: companies (Accord's legal
entities), currencies, payment terms, countries and subdivisions, and the party categories
that stand for a credit hold override.

Tryton models a legal entity as a company (``company.company``): its party holds the name
and, through its address, the country; ``currency`` its currency. A payment term with one
``remainder`` line whose deltas count days only is "net N days"; any other shape has no
number of days.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sources.records import LegalEntity, PaymentTerms
from sources.tryton.rpc import TrytonRpc

__all__ = ["HOLD_CATEGORIES", "REFERENCE_TTL", "Reference", "TrytonReference"]

REFERENCE_TTL = 3600.0

# NetSuite's credit hold override has no Tryton field: a party in one of these categories is
# held (ON) or released (OFF) whatever its figures say; in neither, the limit decides (AUTO).
HOLD_CATEGORIES = {"ON": "Credit hold", "OFF": "Credit hold released"}


@dataclass(frozen=True)
class Reference:
    """Everything an adapter call may need to translate ids into canonical values."""

    companies: dict[int, LegalEntity]  # company id -> legal entity
    company_parties: frozenset[int]  # the parties of the companies (not customers)
    currencies: dict[int, str]  # currency id -> ISO code
    terms: dict[int, PaymentTerms]

    def currency_id(self, code: str) -> int | None:
        return next((i for i, c in self.currencies.items() if c == code), None)


def _days(lines: list[dict[str, Any]]) -> int | None:
    """The net days of a payment term's lines, None when it is not one "net N days" line."""
    if len(lines) != 1 or lines[0].get("type") != "remainder":
        return None
    deltas = lines[0].get("relativedeltas.") or []
    days = 0
    for delta in deltas:
        if any(delta.get(part) for part in ("day", "month", "weekday", "months", "weeks")):
            return None
        days += int(delta.get("days") or 0)
    return days


class TrytonReference:
    """Cached reference reads over one `TrytonRpc`."""

    def __init__(self, rpc: TrytonRpc) -> None:
        self.rpc = rpc
        self._values: dict[str, tuple[float, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _cached(self, name: str, load: Callable[[], Awaitable[Any]]) -> Any:
        entry = self._values.get(name)
        if entry is not None and time.monotonic() - entry[0] < REFERENCE_TTL:
            return entry[1]
        async with self._locks.setdefault(name, asyncio.Lock()):
            entry = self._values.get(name)
            if entry is not None and time.monotonic() - entry[0] < REFERENCE_TTL:
                return entry[1]
            value = await load()
            self._values[name] = (time.monotonic(), value)
            return value

    def forget(self, name: str) -> None:
        self._values.pop(name, None)

    async def get(self) -> Reference:
        async def load() -> Reference:
            companies, currencies, terms = await asyncio.gather(
                self.rpc.search_read(
                    "company.company",
                    [],
                    ["party", "party.name", "party.addresses.country.code", "currency"],
                    order=[("id", "ASC")],
                ),
                self.rpc.search_read(
                    "currency.currency", [], ["code"], context={"active_test": False}
                ),
                self.rpc.search_read(
                    "account.invoice.payment_term",
                    [],
                    [
                        "name",
                        "lines.type",
                        *(
                            f"lines.relativedeltas.{part}"
                            for part in ("days", "day", "month", "weekday", "months", "weeks")
                        ),
                    ],
                    order=[("id", "ASC")],
                ),
            )
            codes = {int(row["id"]): str(row["code"]) for row in currencies}
            entities = {}
            for row in companies:
                party = row.get("party.") or {}
                addresses = party.get("addresses.") or []
                country = next(
                    ((a.get("country.") or {}).get("code") for a in addresses if a.get("country.")),
                    None,
                )
                entities[int(row["id"])] = LegalEntity(
                    erp_id=str(row["id"]),
                    name=str(party.get("name") or ""),
                    country=country,
                    currency=codes.get(row.get("currency") or 0),
                )
            return Reference(
                companies=entities,
                company_parties=frozenset(int(row["party"]) for row in companies),
                currencies=codes,
                terms={
                    int(row["id"]): PaymentTerms(
                        erp_id=str(row["id"]),
                        name=str(row.get("name") or ""),
                        days=_days(row.get("lines.") or []),
                    )
                    for row in terms
                },
            )

        found: Reference = await self._cached("reference", load)
        return found

    async def hold_categories(self, *, create: bool = False) -> dict[str, int]:
        """``{"ON": category id, "OFF": …}``; with ``create``, a missing one is made."""

        async def load() -> dict[str, int]:
            rows = await self.rpc.search_read(
                "party.category", [["name", "in", list(HOLD_CATEGORIES.values())]], ["name"]
            )
            by_name = {str(row["name"]): int(row["id"]) for row in rows}
            return {
                hold: by_name[name] for hold, name in HOLD_CATEGORIES.items() if name in by_name
            }

        found: dict[str, int] = await self._cached("holds", load)
        missing = [hold for hold in HOLD_CATEGORIES if hold not in found]
        if create and missing:
            ids = await self.rpc.create(
                "party.category", [{"name": HOLD_CATEGORIES[hold]} for hold in missing]
            )
            self.forget("holds")
            found = {**found, **dict(zip(missing, ids, strict=True))}
        return found

    async def countries(self) -> dict[str, int]:
        async def load() -> dict[str, int]:
            rows = await self.rpc.search_read("country.country", [], ["code"])
            return {str(row["code"]): int(row["id"]) for row in rows if row.get("code")}

        found: dict[str, int] = await self._cached("countries", load)
        return found

    async def subdivision(self, country: str, code: str) -> int | None:
        """A subdivision's id from its ISO 3166-2 parts (``US``, ``IL``), if Tryton has it."""

        async def load() -> dict[str, int]:
            rows = await self.rpc.search_read("country.subdivision", [], ["code"])
            return {str(row["code"]): int(row["id"]) for row in rows if row.get("code")}

        found: dict[str, int] = await self._cached("subdivisions", load)
        return found.get(f"{country}-{code}")
