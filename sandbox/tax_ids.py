"""Tax registration numbers for the seed: each country's form, with valid check digits.

Real registration numbers carry check digits, and a real ERP checks them (Tryton refuses a
VAT number whose checksum fails). `tax_id_for` draws the digits of a number from the seed's
random generator and then sets its check digits by the country's published rule, so every
seeded tax id is one an ERP accepts:

====  =================================  ===============================================
US    EIN ``12-3456789``                 the first two digits are an IRS campus prefix
GB    VAT ``GB123456789``                weights 8…2 on 7 digits + the last two ≡ 0 (mod 97)
DE    USt-IdNr ``DE123456789``           ISO 7064 MOD 11,10 on nine digits, first not 0
FR    TVA ``FR`` + key + SIREN           SIREN passes Luhn; key = (SIREN·100 + 12) mod 97
CA    BN + program ``123456789RT0001``   the nine digits pass Luhn
JP    invoice issuer ``T`` + 13 digits   the corporate number's first digit is its check
AU    ABN, 11 digits                     weights 10,1,3…19 (first digit − 1) ≡ 0 (mod 89),
                                         check digits 11…99
====  =================================  ===============================================
"""

from __future__ import annotations

import random

__all__ = ["tax_id_for"]

# Prefixes the IRS assigns to its campuses (numbers outside these are not issued).
EIN_PREFIXES = tuple(
    f"{n:02d}"
    for n in [
        *range(1, 7),
        *range(10, 17),
        *range(20, 28),
        *range(30, 49),
        *range(50, 69),
        *range(71, 78),
        *range(80, 89),
        *range(90, 96),
        98,
        99,
    ]
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _luhn_complete(body: str) -> str:
    """``body`` with the last digit replaced so the whole passes Luhn."""
    return next(body[:-1] + d for d in "0123456789" if _luhn_ok(body[:-1] + d))


def _mod_11_10_check(body: str) -> str:
    product = 10
    for char in body:
        total = (int(char) + product) % 10 or 10
        product = (2 * total) % 11
    return str((11 - product) % 10)


def _gb_check(body: str) -> str:
    weighted = sum(w * int(d) for w, d in zip(range(8, 1, -1), body, strict=True))
    return f"{(-weighted) % 97:02d}"


def _jp_check(body: str) -> str:
    weighted = sum((2 if i % 2 else 1) * int(d) for i, d in enumerate(reversed(body)))
    return str(9 - weighted % 9)


_ABN_WEIGHTS = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)


def _abn_ok(number: str) -> bool:
    digits = [int(d) for d in number]
    digits[0] -= 1
    return sum(w * d for w, d in zip(_ABN_WEIGHTS, digits, strict=True)) % 89 == 0


def _abn(body: str) -> str:
    return next(f"{c}{body}" for c in range(11, 100) if _abn_ok(f"{c}{body}"))


def tax_id_for(country: str, rng: random.Random) -> str:
    """A valid tax registration number in the country's usual shape.

    Draws the same random digits whatever the country's rule, so the rest of a seeded world
    does not depend on how check digits are computed."""
    digits = "".join(rng.choice("0123456789") for _ in range(12))
    if country == "US":
        prefix = digits[:2] if digits[:2] in EIN_PREFIXES else EIN_PREFIXES[int(digits[:2]) % 50]
        return f"{prefix}-{digits[2:9]}"
    if country == "GB":
        body = digits[:7]
        return f"GB{body}{_gb_check(body)}"
    if country == "DE":
        body = str(int(digits[0]) or 1) + digits[1:8]
        return f"DE{body}{_mod_11_10_check(body)}"
    if country == "FR":
        siren = _luhn_complete(digits[2:11])
        return f"FR{(int(siren) * 100 + 12) % 97:02d}{siren}"
    if country == "CA":
        return f"{_luhn_complete(digits[:9])}RT0001"
    if country == "JP":
        body = digits[1:12] + rng.choice("0123456789")
        return f"T{_jp_check(body)}{body}"
    if country == "AU":
        return _abn(digits[2:11])
    raise ValueError(f"no tax id format for {country}")
