"""SOQL relative date literals (``TODAY``, ``LAST_N_DAYS:30`` ...) as half-open date ranges.

Semantics follow Salesforce's documentation for an org in the default en_US locale: weeks start
on Sunday, and the fiscal year is the calendar year (the default fiscal-year setting), so the
``FISCAL`` literals equal their calendar twins. ``LAST_N_*`` ranges end before the current
period except for days: ``LAST_N_DAYS:n`` and ``LAST_90_DAYS`` include today;
``NEXT_N_DAYS:n`` and ``NEXT_90_DAYS`` start tomorrow.
"""

from __future__ import annotations

import datetime as dt

from sandbox.querylang.ast import DateLiteral

# name -> whether it takes ":n"
DATE_LITERALS: dict[str, bool] = {
    "YESTERDAY": False,
    "TODAY": False,
    "TOMORROW": False,
    "LAST_90_DAYS": False,
    "NEXT_90_DAYS": False,
    "LAST_N_DAYS": True,
    "NEXT_N_DAYS": True,
    "N_DAYS_AGO": True,
}
_UNITS = ("WEEK", "MONTH", "QUARTER", "YEAR", "FISCAL_QUARTER", "FISCAL_YEAR")
for _unit in _UNITS:
    DATE_LITERALS.update(
        {
            f"THIS_{_unit}": False,
            f"LAST_{_unit}": False,
            f"NEXT_{_unit}": False,
            f"LAST_N_{_unit}S": True,
            f"NEXT_N_{_unit}S": True,
            f"N_{_unit}S_AGO": True,
        }
    )

_DAY = dt.timedelta(days=1)


def date_literal_range(literal: DateLiteral, today: dt.date) -> tuple[dt.date, dt.date]:
    """The days ``[start, end)`` the literal covers, relative to ``today``.

    Raises ValueError for an unknown name or a missing/extra ``n``; dates past the calendar's
    ends are clamped rather than overflowing.
    """
    takes_n = DATE_LITERALS.get(literal.name)
    if takes_n is None or takes_n != (literal.n is not None):
        raise ValueError(f"not a date literal: {literal}")
    n = literal.n or 0
    try:
        return _range(literal.name, n, today)
    except OverflowError:
        # LAST_N_DAYS:999999999 reaches before year 1: the range is "everything until ...".
        return _clamped(literal.name, today)


def _range(name: str, n: int, today: dt.date) -> tuple[dt.date, dt.date]:
    match name:
        case "TODAY":
            return today, today + _DAY
        case "YESTERDAY":
            return today - _DAY, today
        case "TOMORROW":
            return today + _DAY, today + 2 * _DAY
        case "LAST_90_DAYS":
            return today - 90 * _DAY, today + _DAY
        case "NEXT_90_DAYS":
            return today + _DAY, today + 91 * _DAY
        case "LAST_N_DAYS":
            return today - n * _DAY, today + _DAY
        case "NEXT_N_DAYS":
            return today + _DAY, today + (n + 1) * _DAY
        case "N_DAYS_AGO":
            return today - n * _DAY, today - (n - 1) * _DAY
    head, _, unit = name.partition("_")
    if head == "N":  # N_<UNIT>S_AGO
        unit = unit.removesuffix("S_AGO")
    elif unit.startswith("N_"):  # LAST_N_<UNIT>S / NEXT_N_<UNIT>S
        unit = unit[2:].removesuffix("S")
    start = _period_start(unit, today)
    if head == "THIS":
        return start, _shift(unit, start, 1)
    if head == "N":
        return _shift(unit, start, -n), _shift(unit, start, 1 - n)
    if head == "LAST":
        count = n if name.startswith("LAST_N_") else 1
        return _shift(unit, start, -count), start
    # NEXT
    count = n if name.startswith("NEXT_N_") else 1
    return _shift(unit, start, 1), _shift(unit, start, 1 + count)


def _clamped(name: str, today: dt.date) -> tuple[dt.date, dt.date]:
    if name.startswith("NEXT"):
        return today + _DAY, dt.date.max
    if name.startswith("LAST"):
        return dt.date.min, today + _DAY if name == "LAST_N_DAYS" else today
    return dt.date.min, dt.date.min  # N_..._AGO before year 1: nothing


def _period_start(unit: str, day: dt.date) -> dt.date:
    if unit == "WEEK":
        return day - dt.timedelta(days=(day.weekday() + 1) % 7)  # back to Sunday
    if unit == "MONTH":
        return day.replace(day=1)
    if unit.endswith("QUARTER"):
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return day.replace(month=1, day=1)  # YEAR, FISCAL_YEAR


def _shift(unit: str, start: dt.date, count: int) -> dt.date:
    if unit == "WEEK":
        return start + dt.timedelta(weeks=count)
    months = count * {"MONTH": 1, "QUARTER": 3, "FISCAL_QUARTER": 3}.get(unit, 12)
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise OverflowError(f"year {year} out of range")
    return dt.date(year, month + 1, 1)
