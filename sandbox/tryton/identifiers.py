"""Tax registration numbers as Tryton identifiers: the seed writes them with the mapping the
Tryton adapter reads them back with (`sources.tryton.identifiers`)."""

from __future__ import annotations

from sources.tryton.identifiers import IDENTIFIER_TYPES, accord_tax_id, tryton_identifier

__all__ = ["IDENTIFIER_TYPES", "accord_tax_id", "tryton_identifier"]
