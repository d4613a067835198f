"""The shared condition evaluator, date literals and ORDER BY helpers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from sandbox.querylang.ast import (
    ColumnComparison,
    Condition,
    DateLiteral,
    FieldRef,
    IsNull,
    OrderItem,
)
from sandbox.querylang.dates import DATE_LITERALS, date_literal_range
from sandbox.querylang.evaluate import (
    QueryTypeError,
    compile_condition,
    like_regex,
    matches,
    order_rows,
    sort_key,
)
from sandbox.querylang.soql import parse_soql
from sandbox.querylang.suiteql import parse_suiteql

TODAY = dt.date(2024, 5, 15)  # a Wednesday in Q2
UTC = dt.UTC


def soql_where(text: str) -> Condition:
    condition = parse_soql(f"SELECT Id FROM Account WHERE {text}").where
    assert condition is not None
    return condition


def suiteql_where(text: str) -> Condition:
    condition = parse_suiteql(f"SELECT id FROM t WHERE {text}").where
    assert condition is not None
    return condition


def soql_matches(text: str, **row: Any) -> bool:
    return matches(
        soql_where(text),
        lambda field: row.get(field.dotted),
        today=TODAY,
        text_case_insensitive=True,
    )


def sql_matches(text: str, **row: Any) -> bool:
    return matches(
        suiteql_where(text),
        lambda field: row.get(field.dotted),
        today=TODAY,
        text_case_insensitive=False,
        sql_nulls=True,
        implicit_conversion=True,
    )


# --- text --------------------------------------------------------------------------------------


def test_soql_text_compares_case_insensitively() -> None:
    assert soql_matches("Name = 'ACME corp'", Name="Acme Corp")
    assert soql_matches("Name IN ('x', 'acme CORP')", Name="Acme Corp")
    assert soql_matches("Name > 'acme'", Name="B")
    assert not soql_matches("Name != 'ACME CORP'", Name="acme corp")


def test_suiteql_text_compares_case_sensitively() -> None:
    assert not sql_matches("name = 'ACME'", name="Acme")
    assert sql_matches("name = 'Acme'", name="Acme")
    assert not sql_matches("name LIKE 'acme%'", name="Acme Corp")


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("'Acme%'", "acme corporation", True),
        ("'%corp'", "Acme Corp", True),
        ("'A_me'", "acme", True),
        ("'A_me'", "acmme", False),
        ("'%'", "", True),
        ("'a.c*'", "a.c*", True),  # regex metacharacters are literal
        ("'a.c*'", "abcc", False),
        (r"'100\%'", "100%", True),
        (r"'100\%'", "1000", False),
        (r"'snake\_%'", "snake_case", True),
        (r"'snake\_%'", "snakeXcase", False),
        (r"'back\\slash'", "back\\slash", True),
        ("'line%'", "line1\nline2", True),
    ],
)
def test_soql_like(pattern: str, value: str, expected: bool) -> None:
    assert soql_matches(f"Name LIKE {pattern}", Name=value) is expected


def test_suiteql_like_treats_backslash_as_an_ordinary_character() -> None:
    assert sql_matches(r"name LIKE 'a\%'", name="a\\xyz")
    assert not sql_matches(r"name LIKE 'a\%'", name="a%")


def test_like_regex_is_cached_per_pattern() -> None:
    assert like_regex("a%", True) is like_regex("a%", True)


# --- nulls -------------------------------------------------------------------------------------


def test_soql_nulls_are_ordinary_values() -> None:
    assert soql_matches("Email = null", Email=None)
    assert not soql_matches("Email = null", Email="a@b.c")
    assert soql_matches("Email != null", Email="a@b.c")
    assert not soql_matches("Email != null", Email=None)
    assert soql_matches("Email != 'a@b.c'", Email=None)
    assert soql_matches("Email NOT IN ('a@b.c')", Email=None)
    assert soql_matches("Email IN ('a@b.c', null)", Email=None)
    assert not soql_matches("Amount > 5", Amount=None)
    assert not soql_matches("Amount < 5", Amount=None)
    assert not soql_matches("Email LIKE '%'", Email=None)
    assert soql_matches("NOT Email LIKE 'a%'", Email=None)


def test_soql_null_on_a_boolean_field_means_false() -> None:
    assert soql_matches("Flag__c = null", Flag__c=False)
    assert not soql_matches("Flag__c = null", Flag__c=True)
    assert soql_matches("Flag__c != null", Flag__c=True)
    assert not soql_matches("Flag__c != null", Flag__c=False)


def test_suiteql_nulls_are_unknown() -> None:
    assert not sql_matches("email = NULL", email=None)
    assert not sql_matches("email != 'x'", email=None)
    assert not sql_matches("NOT (email = 'x')", email=None)
    assert not sql_matches("NOT (email LIKE 'x%')", email=None)
    assert sql_matches("email IS NULL", email=None)
    assert sql_matches("email IS NOT NULL", email="x")
    assert sql_matches("email IS NULL OR id = 1", email="x", id=1)
    assert sql_matches("email = 'x' OR id = 1", email=None, id=1)
    assert not sql_matches("email = 'x' AND id = 1", email=None, id=1)


def test_suiteql_in_lists_with_null() -> None:
    assert sql_matches("id IN (1, NULL)", id=1)
    assert not sql_matches("id IN (1, NULL)", id=2)
    assert not sql_matches("id NOT IN (1, NULL)", id=2)  # unknown, never true
    assert sql_matches("id NOT IN (1, 3)", id=2)
    assert not sql_matches("id NOT IN (1, 3)", id=None)


# --- numbers and dates -------------------------------------------------------------------------


def test_decimal_and_int_compare_numerically() -> None:
    assert soql_matches("Amount = 100", Amount=Decimal("100.00"))
    assert soql_matches("Amount < 1", Amount=Decimal("0.1"))
    assert soql_matches("Count__c >= 2.5", Count__c=3)
    assert soql_matches("Amount IN (100, 200)", Amount=Decimal("200.0"))


def test_dates_and_datetimes_with_offsets() -> None:
    noon = dt.datetime(2024, 1, 31, 12, tzinfo=UTC)

    assert soql_matches("CloseDate = 2024-01-31", CloseDate=dt.date(2024, 1, 31))
    assert soql_matches("CloseDate < 2024-02-01", CloseDate=dt.date(2024, 1, 31))
    assert soql_matches("CreatedDate = 2024-01-31T13:00:00+01:00", CreatedDate=noon)
    assert soql_matches("CreatedDate > 2024-01-31T11:59:59Z", CreatedDate=noon)
    naive_noon = dt.datetime(2024, 1, 31, 12)
    assert soql_matches("CreatedDate = 2024-01-31T12:00:00Z", CreatedDate=naive_noon)


def test_soql_refuses_values_of_another_type_naming_the_field() -> None:
    with pytest.raises(QueryTypeError) as caught:
        soql_matches("Opportunity.CloseDate = '2024-01-31'", **{"Opportunity.CloseDate": TODAY})

    error = caught.value
    assert error.field == FieldRef(("Opportunity", "CloseDate"))
    assert error.field_path == "Opportunity.CloseDate"
    assert error.expected == "date"
    assert str(error) == (
        "value of filter criterion for field 'Opportunity.CloseDate' must be of type date "
        "and should not be enclosed in quotes"
    )


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ("Name = 5", "Acme", "must be of type string and should be enclosed in quotes"),
        ("Employees = '5'", 5, "must be of type integer and should not be enclosed"),
        ("Amount = 'x'", Decimal(1), "must be of type double"),
        ("Active = 'true'", True, "must be of type boolean"),
        ("CloseDate = 2024-01-31T00:00:00Z", TODAY, "must be of type date"),
        ("Stamp = 2024-01-31", dt.datetime(2024, 1, 1, tzinfo=UTC), "must be of type dateTime"),
        ("Name = TODAY", "Acme", "must be of type string"),
        ("Name IN (1, 2)", "Acme", "must be of type string"),
        ("Amount LIKE '1%'", Decimal(1), "invalid operator on field 'Amount'"),
    ],
)
def test_soql_type_mismatches(condition: str, value: Any, expected: str) -> None:
    field = condition.split()[0]

    with pytest.raises(QueryTypeError, match=expected):
        soql_matches(condition, **{field: value})


def test_type_errors_wait_for_a_non_null_value() -> None:
    assert not soql_matches("Name = 5", Name=None)


def test_suiteql_converts_implicitly_where_oracle_does() -> None:
    assert sql_matches("id = '5'", id=5)
    assert sql_matches("code = 5", code="5")
    assert sql_matches("id IN ('5', '6')", id=6)
    assert sql_matches("isinactive = 'F'", isinactive=False)
    assert sql_matches(
        "trandate = TO_DATE('2024-01-31', 'YYYY-MM-DD')", trandate=dt.date(2024, 1, 31)
    )
    midnight = dt.datetime(2024, 1, 31, tzinfo=UTC)
    assert sql_matches("created = TO_DATE('2024-01-31', 'YYYY-MM-DD')", created=midnight)
    assert sql_matches("amount LIKE '12%'", amount=Decimal("12.50"))
    with pytest.raises(QueryTypeError):
        sql_matches("id = 'abc'", id=5)


# --- date literals -----------------------------------------------------------------------------


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.mark.parametrize(
    ("literal", "start", "end"),
    [
        ("TODAY", "2024-05-15", "2024-05-16"),
        ("YESTERDAY", "2024-05-14", "2024-05-15"),
        ("TOMORROW", "2024-05-16", "2024-05-17"),
        ("THIS_WEEK", "2024-05-12", "2024-05-19"),  # Sunday to Sunday
        ("LAST_WEEK", "2024-05-05", "2024-05-12"),
        ("NEXT_WEEK", "2024-05-19", "2024-05-26"),
        ("THIS_MONTH", "2024-05-01", "2024-06-01"),
        ("LAST_MONTH", "2024-04-01", "2024-05-01"),
        ("NEXT_MONTH", "2024-06-01", "2024-07-01"),
        ("LAST_90_DAYS", "2024-02-15", "2024-05-16"),  # 91 days including today
        ("NEXT_90_DAYS", "2024-05-16", "2024-08-14"),
        ("LAST_N_DAYS:1", "2024-05-14", "2024-05-16"),  # yesterday and today
        ("NEXT_N_DAYS:1", "2024-05-16", "2024-05-17"),  # tomorrow only
        ("N_DAYS_AGO:3", "2024-05-12", "2024-05-13"),
        ("LAST_N_WEEKS:2", "2024-04-28", "2024-05-12"),
        ("NEXT_N_WEEKS:1", "2024-05-19", "2024-05-26"),
        ("N_WEEKS_AGO:1", "2024-05-05", "2024-05-12"),
        ("LAST_N_MONTHS:5", "2023-12-01", "2024-05-01"),
        ("NEXT_N_MONTHS:8", "2024-06-01", "2025-02-01"),
        ("N_MONTHS_AGO:5", "2023-12-01", "2024-01-01"),
        ("THIS_QUARTER", "2024-04-01", "2024-07-01"),
        ("LAST_QUARTER", "2024-01-01", "2024-04-01"),
        ("NEXT_N_QUARTERS:2", "2024-07-01", "2025-01-01"),
        ("N_QUARTERS_AGO:2", "2023-10-01", "2024-01-01"),
        ("THIS_YEAR", "2024-01-01", "2025-01-01"),
        ("LAST_N_YEARS:2", "2022-01-01", "2024-01-01"),
        ("N_YEARS_AGO:1", "2023-01-01", "2024-01-01"),
        ("THIS_FISCAL_YEAR", "2024-01-01", "2025-01-01"),
        ("LAST_FISCAL_QUARTER", "2024-01-01", "2024-04-01"),
    ],
)
def test_date_literal_ranges(literal: str, start: str, end: str) -> None:
    name, _, n = literal.partition(":")
    value = DateLiteral(name, int(n) if n else None)

    assert date_literal_range(value, TODAY) == (day(start), day(end))


def test_every_known_date_literal_has_a_range() -> None:
    for name, takes_n in DATE_LITERALS.items():
        start, end = date_literal_range(DateLiteral(name, 2 if takes_n else None), TODAY)
        assert start < end, name


def test_date_literal_errors_and_clamping() -> None:
    with pytest.raises(ValueError, match="not a date literal"):
        date_literal_range(DateLiteral("LAST_N_DAYS"), TODAY)
    with pytest.raises(ValueError, match="not a date literal"):
        date_literal_range(DateLiteral("SOMEDAY"), TODAY)

    assert date_literal_range(DateLiteral("LAST_N_DAYS", 10**12), TODAY) == (
        dt.date.min,
        day("2024-05-16"),
    )
    assert date_literal_range(DateLiteral("NEXT_N_YEARS", 10**6), TODAY)[1] == dt.date.max


def test_today_covers_the_whole_day_of_a_datetime_field() -> None:
    start = dt.datetime(2024, 5, 15, 0, 0, tzinfo=UTC)
    end = dt.datetime(2024, 5, 15, 23, 59, 59, tzinfo=UTC)
    after = dt.datetime(2024, 5, 16, 0, 0, tzinfo=UTC)
    # 01:30 in Paris on the 16th is still the 15th in UTC
    paris = dt.datetime(2024, 5, 16, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))

    for value in (start, end, paris):
        assert soql_matches("CreatedDate = TODAY", CreatedDate=value)
    assert not soql_matches("CreatedDate = TODAY", CreatedDate=after)
    assert soql_matches("CreatedDate > TODAY", CreatedDate=after)


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("=", "2024-05-01", True),
        ("=", "2024-04-30", False),
        ("!=", "2024-04-30", True),
        ("<", "2024-04-30", True),
        ("<", "2024-05-01", False),
        ("<=", "2024-05-31", True),
        ("<=", "2024-06-01", False),
        (">", "2024-06-01", True),
        (">", "2024-05-31", False),
        (">=", "2024-05-01", True),
        (">=", "2024-04-30", False),
    ],
)
def test_comparisons_against_a_date_literal_range(op: str, value: str, expected: bool) -> None:
    assert soql_matches(f"CloseDate {op} THIS_MONTH", CloseDate=day(value)) is expected


def test_date_literals_in_an_in_list() -> None:
    assert soql_matches("CloseDate IN (YESTERDAY, TOMORROW)", CloseDate=day("2024-05-16"))
    assert not soql_matches("CloseDate IN (YESTERDAY, TOMORROW)", CloseDate=TODAY)


def test_date_literal_on_a_text_field_is_a_type_error() -> None:
    with pytest.raises(QueryTypeError, match="must be of type string"):
        soql_matches("Name = LAST_N_DAYS:3", Name="x")


# --- compilation -------------------------------------------------------------------------------


def test_compile_binds_fields_once_and_rejects_unknown_ones_before_any_row() -> None:
    asked: list[str] = []

    def accessor(field: FieldRef) -> Any:
        asked.append(field.dotted)
        if field.dotted == "Nope":
            raise KeyError(field.dotted)
        return lambda row: row[field.dotted]

    test = compile_condition(
        soql_where("A = 1 AND (B = 2 OR A = 3)"),
        accessor,
        today=TODAY,
        text_case_insensitive=True,
    )
    rows = [{"A": 1, "B": 2}, {"A": 1, "B": 5}, {"A": 3, "B": 2}]

    assert [test(row) for row in rows] == [True, False, False]
    assert sorted(asked) == ["A", "A", "B"]
    with pytest.raises(KeyError):
        compile_condition(soql_where("Nope = 1"), accessor, today=TODAY, text_case_insensitive=True)


def test_column_comparison_resolves_both_sides() -> None:
    condition = ColumnComparison(FieldRef(("t", "entity")), "=", FieldRef(("c", "id")))
    row = {"t.entity": 5, "c.id": Decimal(5)}

    assert matches(condition, lambda f: row[f.dotted], today=TODAY, text_case_insensitive=False)
    row["c.id"] = 6
    assert not matches(condition, lambda f: row[f.dotted], today=TODAY, text_case_insensitive=False)
    row["c.id"] = None
    assert not matches(
        condition, lambda f: row[f.dotted], today=TODAY, text_case_insensitive=False, sql_nulls=True
    )


def test_is_null_never_unknown() -> None:
    condition = IsNull(FieldRef(("x",)), negated=True)

    assert not matches(condition, lambda f: None, today=TODAY, text_case_insensitive=False)


# --- ordering ----------------------------------------------------------------------------------


def names(rows: list[dict[str, Any]]) -> list[Any]:
    return [row["n"] for row in rows]


ROWS: list[dict[str, Any]] = [{"n": "b"}, {"n": None}, {"n": "A"}, {"n": "c"}, {"n": None}]


def by(field: str, descending: bool = False, nulls_last: bool | None = None) -> OrderItem:
    return OrderItem(FieldRef((field,)), descending, nulls_last)


def resolve_row(row: dict[str, Any], field: FieldRef) -> Any:
    return row.get(field.dotted)


def test_soql_ordering_puts_nulls_first_both_ways_and_ignores_case() -> None:
    asc = order_rows(
        ROWS, [by("n")], resolve_row, nulls_first_for_asc=True, nulls_first_for_desc=True,
        text_case_insensitive=True,
    )  # fmt: skip
    desc = order_rows(
        ROWS, [by("n", True)], resolve_row, nulls_first_for_asc=True, nulls_first_for_desc=True,
        text_case_insensitive=True,
    )  # fmt: skip

    assert names(asc) == [None, None, "A", "b", "c"]
    assert names(desc) == [None, None, "c", "b", "A"]


def test_oracle_ordering_defaults_and_binary_text() -> None:
    asc = order_rows(ROWS, [by("n")], resolve_row, nulls_first_for_asc=False)
    desc = order_rows(ROWS, [by("n", True)], resolve_row, nulls_first_for_asc=False)

    assert names(asc) == ["A", "b", "c", None, None]
    assert names(desc) == [None, None, "c", "b", "A"]


def test_explicit_nulls_placement_wins() -> None:
    first = order_rows(ROWS, [by("n", False, False)], resolve_row, nulls_first_for_asc=False)
    last = order_rows(ROWS, [by("n", True, True)], resolve_row, nulls_first_for_asc=False)

    assert names(first)[:2] == [None, None]
    assert names(last)[-2:] == [None, None]


def test_multi_key_ordering_is_stable() -> None:
    rows: list[dict[str, Any]] = [
        {"n": 1, "k": "x", "i": 0},
        {"n": 2, "k": "x", "i": 1},
        {"n": 1, "k": "y", "i": 2},
        {"n": 1, "k": "x", "i": 3},
    ]

    ordered = order_rows(rows, [by("k", True), by("n")], resolve_row, nulls_first_for_asc=False)

    assert [row["i"] for row in ordered] == [2, 0, 3, 1]


def test_sort_key_orders_mixed_values_without_crashing() -> None:
    values: list[Any] = [
        "b",
        Decimal("1.5"),
        dt.datetime(2024, 1, 1, 12, tzinfo=UTC),
        1,
        dt.date(2024, 1, 1),
        True,
    ]

    ordered = sorted(values, key=lambda v: sort_key(v, text_case_insensitive=False))

    assert ordered == [True, 1, Decimal("1.5"), "b", dt.date(2024, 1, 1), values[2]]
