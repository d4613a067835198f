"""Tax registration numbers as Tryton identifiers (``party.identifier``), and back.

Tryton types an identifier by country and kind and checks its check digits. It stores the
number in its display form (``code``) and without separators (``code_compact``); for some
kinds the compact form drops the country prefix. The world's tax ids map as follows:

- US ``12-3456789``: type ``us_ein``, compact ``123456789``
- GB ``GB123456789``: type ``gb_vat``, compact ``123456789`` (no prefix)
- DE ``DE123456789`` and FR ``FR12345678901``: type ``eu_vat``, compact as given
- CA ``123456789RT0001``: type ``ca_vat``, compact as given
- JP ``T1234567890123``: type ``jp_vat``, the corporate number ``1234567890123`` (the
  qualified invoice issuer number is ``T`` + it)
- AU ``51824753556``: type ``au_vat``, compact as given
"""

from __future__ import annotations

__all__ = ["IDENTIFIER_TYPES", "accord_tax_id", "tryton_identifier"]

IDENTIFIER_TYPES = {
    "US": "us_ein",
    "GB": "gb_vat",
    "DE": "eu_vat",
    "FR": "eu_vat",
    "CA": "ca_vat",
    "JP": "jp_vat",
    "AU": "au_vat",
}


def tryton_identifier(country: str, tax_id: str) -> dict[str, str]:
    """The ``party.identifier`` values for a tax id registered in ``country``."""
    kind = IDENTIFIER_TYPES.get(country)
    if kind is None:
        return {"type": "", "code": tax_id}
    code = tax_id[1:] if kind == "jp_vat" and tax_id.startswith("T") else tax_id
    return {"type": kind, "code": code}


def accord_tax_id(kind: str | None, code_compact: str) -> str:
    """The tax id in the form Accord's policies know, from a Tryton identifier."""
    if kind == "us_ein" and len(code_compact) == 9:
        return f"{code_compact[:2]}-{code_compact[2:]}"
    if kind == "gb_vat" and not code_compact.startswith("GB"):
        return "GB" + code_compact
    if kind == "jp_vat":
        return "T" + code_compact
    return code_compact
