"""SOQL parser: the grammar the Salesforce emulator answers, and Salesforce's refusals."""

from __future__ import annotations

import datetime as dt
import random
import sys
from decimal import Decimal

import pytest

from sandbox.querylang.ast import (
    And,
    Comparison,
    CountAll,
    DateLiteral,
    FieldRef,
    InList,
    Like,
    Not,
    Or,
    OrderItem,
    QuerySyntaxError,
    SoqlQuery,
)
from sandbox.querylang.evaluate import matches
from sandbox.querylang.lexer import LexError, TokenKind, tokenize
from sandbox.querylang.parser import MAX_NESTING
from sandbox.querylang.soql import (
    MAX_SOQL_LENGTH,
    SoqlSyntaxError,
    field_position,
    format_soql_error,
    parse_soql,
)


def ref(dotted: str) -> FieldRef:
    return FieldRef(tuple(dotted.split(".")))


def where_of(text: str) -> object:
    return parse_soql(f"SELECT Id FROM Account WHERE {text}").where


def refused(text: str) -> SoqlSyntaxError:
    with pytest.raises(SoqlSyntaxError) as caught:
        parse_soql(text)
    return caught.value


# --- the grammar -------------------------------------------------------------------------------


def test_select_list_keeps_relationship_paths_and_written_case() -> None:
    query = parse_soql("select Id, account.Name, Owner.Name from Contact")

    assert query == SoqlQuery(
        fields=(ref("Id"), ref("account.Name"), ref("Owner.Name")), sobject="Contact"
    )


def test_count_forms() -> None:
    assert parse_soql("SELECT COUNT() FROM Account").fields == (CountAll(),)
    assert parse_soql("SELECT COUNT(Id) n FROM Account").fields == (CountAll(ref("Id"), "n"),)
    assert parse_soql("SELECT count(Id), COUNT(Name) FROM Account").fields == (
        CountAll(ref("Id")),
        CountAll(ref("Name")),
    )


def test_full_statement_with_every_clause() -> None:
    query = parse_soql(
        "SELECT Name FROM Opportunity WHERE Amount >= 100.50 AND StageName IN ('A', 'B') "
        "ORDER BY CloseDate DESC NULLS LAST, Name LIMIT 20 OFFSET 40"
    )

    assert query.where == And(
        (
            Comparison(ref("Amount"), ">=", Decimal("100.50")),
            InList(ref("StageName"), ("A", "B")),
        )
    )
    assert query.order_by == (
        OrderItem(ref("CloseDate"), descending=True, nulls_last=True),
        OrderItem(ref("Name")),
    )
    assert (query.limit, query.offset) == (20, 40)


def test_offset_beyond_salesforce_cap_is_recorded_for_the_emulator_to_refuse() -> None:
    assert parse_soql("SELECT Id FROM Account OFFSET 2001").offset == 2001


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("null", None),
        ("NULL", None),
        ("true", True),
        ("FALSE", False),
        ("42", 42),
        ("-7", -7),
        ("+3.25", Decimal("3.25")),
        ("2024-01-31", dt.date(2024, 1, 31)),
        ("2024-01-31T10:00:00Z", dt.datetime(2024, 1, 31, 10, tzinfo=dt.UTC)),
        (
            "2024-01-31T10:00:00+01:00",
            dt.datetime(2024, 1, 31, 10, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        ),
        (
            "2024-01-31T10:00:00.250-0800",
            dt.datetime(2024, 1, 31, 10, 0, 0, 250000, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
        ),
        ("TODAY", DateLiteral("TODAY")),
        ("last_n_days:30", DateLiteral("LAST_N_DAYS", 30)),
        ("THIS_MONTH", DateLiteral("THIS_MONTH")),
        ("N_FISCAL_YEARS_AGO:2", DateLiteral("N_FISCAL_YEARS_AGO", 2)),
    ],
)
def test_literals(text: str, value: object) -> None:
    assert where_of(f"X = {text}") == Comparison(ref("X"), "=", value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("written", "value", "pattern"),
    [
        (r"'O\'Brien'", "O'Brien", "O'Brien"),
        (r"'say \"hi\"'", 'say "hi"', 'say "hi"'),
        (r"'a\\b'", "a\\b", "a\\\\b"),
        (r"'l1\nl2\r\t\b\f'", "l1\nl2\r\t\b\f", "l1\nl2\r\t\b\f"),
        (r"'100\%'", "100%", "100\\%"),
        (r"'snake\_case'", "snake_case", "snake\\_case"),
        ("'Zürich 東京 🚀'", "Zürich 東京 🚀", "Zürich 東京 🚀"),
    ],
)
def test_string_escapes(written: str, value: str, pattern: str) -> None:
    assert where_of(f"Name = {written}") == Comparison(ref("Name"), "=", value)
    assert where_of(f"Name LIKE {written}") == Like(ref("Name"), pattern)


def test_operators_and_not_equal_spellings() -> None:
    for op in ("=", "!=", "<", "<=", ">", ">="):
        assert where_of(f"A {op} 1") == Comparison(ref("A"), op, 1)
    assert where_of("A <> 1") == Comparison(ref("A"), "!=", 1)


def test_in_not_in_like_not_and_parentheses() -> None:
    assert where_of("A NOT IN (1, 2)") == InList(ref("A"), (1, 2), negated=True)
    assert where_of("NOT A = 1") == Not(Comparison(ref("A"), "=", 1))
    assert where_of("A = 1 AND (B = 2 OR (NOT C LIKE 'x%'))") == And(
        (
            Comparison(ref("A"), "=", 1),
            Or((Comparison(ref("B"), "=", 2), Not(Like(ref("C"), "x%")))),
        )
    )


def test_same_connective_chains_are_flat() -> None:
    condition = where_of("A = 1 OR (B = 2 OR C = 3) OR D = 4")

    assert isinstance(condition, Or)
    assert len(condition.items) == 4


def test_keywords_are_case_insensitive_and_non_reserved_words_are_names() -> None:
    query = parse_soql(
        "select Type, Order.Name, Count, Offset__c from Order "
        "where Type = 'x' and Limit__c > 1 order by Type asc nulls first limit 5"
    )

    assert query.sobject == "Order"
    assert query.fields == (ref("Type"), ref("Order.Name"), ref("Count"), ref("Offset__c"))
    assert query.order_by == (OrderItem(ref("Type"), nulls_last=False),)
    assert query.limit == 5


def test_date_literal_names_are_field_names_on_the_left() -> None:
    assert where_of("Today__c = TODAY") == Comparison(ref("Today__c"), "=", DateLiteral("TODAY"))


# --- Salesforce's refusals ---------------------------------------------------------------------


def test_unexpected_token_reads_like_salesforce() -> None:
    error = refused("SELECT Id FROMM Account")

    assert error.error_code == "MALFORMED_QUERY"
    assert error.message == "unexpected token: 'FROMM'"
    assert (error.row, error.column, error.position) == (1, 11, 10)
    assert error.salesforce_message == (
        "\nSELECT Id FROMM Account\n          ^\nERROR at Row:1:Column:11\n"
        "unexpected token: 'FROMM'"
    )
    assert isinstance(error, QuerySyntaxError)


def test_end_of_input_is_eof_token_at_the_end() -> None:
    error = refused("SELECT Id FROM Account WHERE")

    assert error.message == "unexpected token: '<EOF>'"
    assert error.column == 29


def test_rows_and_columns_count_lines() -> None:
    error = refused("SELECT Id\nFROM Account\nWHERE Name = 'x' Bogus")

    assert (error.row, error.column) == (3, 18)
    assert error.salesforce_message.startswith("\nWHERE Name = 'x' Bogus\n                 ^\n")


def test_mixing_and_with_or_needs_parentheses() -> None:
    error = refused("SELECT Id FROM Account WHERE a = 1 AND b = 2 OR c = 3")

    assert error.message == "unexpected token: 'OR'"
    assert error.column == 46
    assert refused("SELECT Id FROM A WHERE a = 1 OR b = 2 AND c = 3").message == (
        "unexpected token: 'AND'"
    )
    assert isinstance(where_of("(a = 1 AND b = 2) OR c = 3"), Or)


def test_not_must_open_a_condition() -> None:
    assert refused("SELECT Id FROM A WHERE a = 1 AND NOT b = 2").message == (
        "unexpected token: 'NOT'"
    )
    assert isinstance(where_of("a = 1 AND (NOT b = 2)"), And)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT FROM Account", "unexpected token: 'FROM'"),
        ("SELECT Id, FROM Account", "unexpected token: 'FROM'"),
        ("SELECT Id FROM", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Account WHERE Name = ", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Account WHERE Name", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Account WHERE Name IN ()", "unexpected token: ')'"),
        ("SELECT Id FROM Account WHERE Name IN ('a',)", "unexpected token: ')'"),
        ("SELECT Id FROM Account WHERE Name LIKE null", "unexpected token: 'null'"),
        ("SELECT Id FROM Account WHERE Name NOT LIKE 'a'", "unexpected token: 'LIKE'"),
        ("SELECT Id FROM Account WHERE Name = Other", "unexpected token: 'Other'"),
        ("SELECT Id FROM Account WHERE (Name = 'a'", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Account WHERE Name = 'a')", "unexpected token: ')'"),
        ("SELECT Id FROM Account WHERE ((Name = 'a')", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Account LIMIT 5 ORDER BY Name", "unexpected token: 'ORDER'"),
        ("SELECT Id FROM Account LIMIT -1", "unexpected token: '-1'"),
        ("SELECT Id FROM Account LIMIT 1.5", "unexpected token: '1.5'"),
        ("SELECT Id FROM Account ORDER Name", "unexpected token: 'ORDER'"),
        ("SELECT Id FROM Account ORDER BY Name NULLS", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Account WHERE CloseDate = LAST_N_DAYS", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Account WHERE CloseDate = TODAY:3", "unexpected token: ':'"),
        ("SELECT Id FROM Account WHERE CloseDate = LAST_N_DAYS:-1", "unexpected token: '-1'"),
        ("SELECT Id FROM Account GROUP BY Name", "unexpected token: 'GROUP'"),
        ("SELECT Id FROM Account WHERE Id IN (SELECT Id FROM A)", "unexpected token: 'SELECT'"),
        ("SELECT Id FROM Account; DELETE", "line 1:22 unexpected token: ';'"),
        ("SELECT COUNT(), Id FROM Account", "unexpected token: ','"),
        ("SELECT Id, COUNT() FROM Account", "unexpected token: ')'"),
        ("SELECT Name, COUNT(Id) FROM Account", "Field must be grouped or aggregated: Name"),
        ("SELECT Id, Name, id FROM Account", "duplicate field selected: id"),
        ("SELECT Id FROM Account WHERE D = 2024-13-01", "Invalid date: 2024-13-01"),
        (
            "SELECT Id FROM Account WHERE D > 2020-12-12t12:12:00-25:00",
            "Invalid datetime: 2020-12-12t12:12:00-25:00",
        ),
        (
            "SELECT Id FROM Account WHERE D > 2024-01-31T10:00:00",
            "Invalid datetime: 2024-01-31T10:00:00",
        ),
        ('SELECT Id FROM Account WHERE Name = "x"', "line 1:36 unexpected token: '\"'"),
        ("SELECT Id FROM Account WHERE Name = 'a\\qb'", "illegal escape sequence '\\q'"),
    ],
)
def test_malformed_queries(text: str, message: str) -> None:
    error = refused(text)

    assert error.error_code == "MALFORMED_QUERY"
    assert message in error.message
    assert error.message in error.salesforce_message


def test_empty_query() -> None:
    for text in ("", "   \n\t "):
        error = refused(text)
        assert error.message == "SOQL statements cannot be empty or null"
        assert error.position is None
        assert error.salesforce_message == error.message


def test_longer_than_salesforce_limit() -> None:
    text = "SELECT Id FROM Account WHERE Name = '" + "x" * MAX_SOQL_LENGTH + "'"

    error = refused(text)

    assert error.error_code == "MALFORMED_QUERY"
    assert error.message == "SOQL statements can not be longer than 100000 characters."


def test_exactly_at_the_limit_still_parses() -> None:
    head = "SELECT Id FROM Account WHERE Name = '"
    text = head + "x" * (MAX_SOQL_LENGTH - len(head) - 1) + "'"

    assert len(text) == MAX_SOQL_LENGTH
    assert parse_soql(text).where is not None


# --- hostile input -----------------------------------------------------------------------------


def test_escaped_injection_stays_one_literal() -> None:
    condition = where_of(r"Name = 'x\' OR Name LIKE \'%'")

    assert condition == Comparison(ref("Name"), "=", "x' OR Name LIKE '%")


def test_doubled_quote_is_not_an_escape_in_soql() -> None:
    error = refused("SELECT Id FROM Account WHERE Name = 'it''s'")

    assert error.message == "unexpected token: ''s''"


def test_unescaped_quote_is_reported_where_salesforce_reports_it() -> None:
    error = refused("SELECT Id, Name FROM Account WHERE Name = 'O'Brien'")

    assert error.message == "unexpected token: 'Brien'"
    assert error.column == 46


def test_unescaped_injection_parses_exactly_as_the_text_reads() -> None:
    value = "x' OR Name LIKE '%"

    condition = where_of(f"Name = '{value}'")

    # Splicing the raw value in yields the text's own meaning, which the emulator then runs
    # faithfully; escaping it (above) keeps it one literal. Nothing in between.
    assert condition == Or((Comparison(ref("Name"), "=", "x"), Like(ref("Name"), "%")))


def test_unescaped_injection_with_trailing_quote_is_refused() -> None:
    error = refused("SELECT Id FROM Account WHERE Name = 'x' OR Name LIKE '%''")

    assert error.message == "line 1:57 mismatched character '<EOF>' expecting '''"


@pytest.mark.parametrize(
    "text",
    [
        "SELECT Id FROM Account WHERE Name = 'abc",
        "SELECT Id FROM Account WHERE Name = '",
        "SELECT Id FROM Account WHERE Name = 'abc\\'",
        "SELECT Id FROM Account WHERE Name = '''",
    ],
)
def test_unterminated_strings(text: str) -> None:
    error = refused(text)

    assert "mismatched character '<EOF>'" in error.message or "unexpected token" in error.message


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f"])
def test_control_characters_are_refused_inside_and_outside_strings(char: str) -> None:
    outside = refused(f"SELECT Id FROM Account{char} WHERE Name = 'a'")
    inside = refused(f"SELECT Id FROM Account WHERE Name = 'a{char}b'")

    assert outside.position == 22
    assert "unexpected token" in outside.message
    assert inside.position == 38
    assert "invalid character in string literal" in inside.message
    assert "\\u00" in inside.message  # shown escaped, not raw


def test_tabs_and_newlines_are_fine_in_and_around_strings() -> None:
    condition = where_of("Name\t=\r\n'a\tb\nc'")

    assert condition == Comparison(ref("Name"), "=", "a\tb\nc")


def test_non_ascii_outside_strings_is_refused() -> None:
    assert "unexpected token: 'é'" in refused("SELECT Id FROM Accounté").message
    assert "unexpected token" in refused("SELECT Id FROM Account\u00a0WHERE").message


def test_too_deep_parentheses_are_too_complicated_not_a_crash() -> None:
    depth = 5_000
    text = "SELECT Id FROM Account WHERE " + "(" * depth + "Name = 'a'" + ")" * depth

    error = refused(text)

    assert error.error_code == "QUERY_TOO_COMPLICATED"
    assert error.column == len("SELECT Id FROM Account WHERE ") + MAX_NESTING + 1


def test_nesting_up_to_the_limit_parses() -> None:
    depth = MAX_NESTING
    text = "SELECT Id FROM Account WHERE " + "(" * depth + "Name = 'a'" + ")" * depth

    assert where_of("(" * depth + "Name = 'a'" + ")" * depth) == parse_soql(text).where
    assert parse_soql(text).where == Comparison(ref("Name"), "=", "a")


def test_ten_thousand_ors_make_one_flat_node_that_evaluates() -> None:
    text = "SELECT Id FROM Account WHERE " + " OR ".join(f"x={i % 10}" for i in range(10_000))

    condition = parse_soql(text).where

    assert isinstance(condition, Or)
    assert len(condition.items) == 10_000
    assert matches(
        condition, lambda field: 9, today=dt.date(2024, 1, 1), text_case_insensitive=True
    )


def test_ten_thousand_value_in_list() -> None:
    values = ", ".join(f"'{i:05d}'" for i in range(10_000))

    condition = where_of(f"Id IN ({values})")

    assert isinstance(condition, InList)
    assert len(condition.values) == 10_000
    assert condition.values[-1] == "09999"


# --- lexer and helpers -------------------------------------------------------------------------


def test_lexer_token_kinds_and_positions() -> None:
    tokens = tokenize("SELECT a.b, COUNT() FROM X WHERE d >= 2024-01-31 AND n<>-1.5", "soql")

    assert [t.kind for t in tokens][:6] == [
        TokenKind.IDENT,
        TokenKind.IDENT,
        TokenKind.PUNCT,
        TokenKind.IDENT,
        TokenKind.PUNCT,
        TokenKind.IDENT,
    ]
    date = next(t for t in tokens if t.kind is TokenKind.DATE)
    assert (date.pos, date.value) == (38, dt.date(2024, 1, 31))
    assert [t.text for t in tokens if t.kind is TokenKind.OP] == [">=", "<>"]
    assert tokens[-2].value == Decimal("-1.5")
    assert tokens[-1].kind is TokenKind.EOF


def test_lexer_raises_with_position_unless_deferred() -> None:
    with pytest.raises(LexError) as caught:
        tokenize("a = 'open", "soql")
    assert (caught.value.kind, caught.value.position) == ("unterminated_string", 4)

    deferred = tokenize("a = 'open", "soql", defer_errors=True)
    assert [t.kind for t in deferred] == [
        TokenKind.IDENT,
        TokenKind.OP,
        TokenKind.ERROR,
        TokenKind.EOF,
    ]


def test_field_position_finds_a_path_for_invalid_field_errors() -> None:
    text = "SELECT Id, Account.Nmae FROM Contact WHERE Nmae = 'x'"

    assert field_position(text, ref("Account.Nmae")) == 11
    assert field_position(text, ref("nmae")) == 43
    assert field_position(text, ref("Missing")) is None


def test_format_soql_error_windows_a_long_line() -> None:
    fields = ", ".join(f"Field{i}__c" for i in range(40))
    text = f"SELECT {fields}, Bad FROM Account"
    position = text.index("Bad")

    message = format_soql_error(text, position, "No such column 'Bad' on entity 'Account'.")

    excerpt, caret, where, what = message[1:].split("\n")
    assert len(excerpt) < len(text)
    assert excerpt[len(caret) - 1 :].startswith("Bad")
    assert where == f"ERROR at Row:1:Column:{position + 1}"
    assert what == "No such column 'Bad' on entity 'Account'."


_FRAGMENTS = [*"()',.*:=<>!-+ \n\\\x00é", "AND", "OR", "NOT", "IN", "LIKE", "null", "TODAY"]


def _mutations(seed: str, count: int, rng: random.Random) -> list[str]:
    """``count`` copies of ``seed`` each damaged in one to four random places."""
    texts = []
    for _ in range(count):
        chars = list(seed)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(chars))
            roll = rng.random()
            if roll < 0.4:
                chars.insert(at, rng.choice(_FRAGMENTS))
            elif roll < 0.8:
                del chars[at]
            else:
                chars[at] = rng.choice(_FRAGMENTS)
        texts.append("".join(chars))
    return texts


def test_damaged_queries_parse_or_raise_soql_errors_only() -> None:
    seed = (
        "SELECT Id, Account.Name FROM Contact WHERE (Name = 'O\\'B' OR Amount > 5.5) AND "
        "CloseDate = LAST_N_DAYS:3 AND Id NOT IN ('a', 'b') ORDER BY Name DESC NULLS LAST LIMIT 5"
    )
    parsed = 0
    refusals: list[tuple[str, SoqlSyntaxError]] = []

    for text in _mutations(seed, 2_000, random.Random(20240131)):
        try:
            parse_soql(text)
        except SoqlSyntaxError as error:  # anything else fails the test
            refusals.append((text, error))
        else:
            parsed += 1

    assert parsed > 0
    assert refusals
    for text, refusal in refusals:
        assert refusal.error_code in ("MALFORMED_QUERY", "QUERY_TOO_COMPLICATED")
        assert refusal.position is None or 0 <= refusal.position <= len(text)


def test_a_caller_deep_in_the_stack_gets_a_clean_error_not_a_recursion_error() -> None:
    text = "SELECT Id FROM A WHERE " + "(" * MAX_NESTING + "x = 1" + ")" * MAX_NESTING

    def deep(levels: int) -> SoqlSyntaxError | None:
        if levels:
            return deep(levels - 1)
        try:
            parse_soql(text)
        except SoqlSyntaxError as error:
            return error
        return None

    error = deep(sys.getrecursionlimit() - 150)

    assert error is not None
    assert error.error_code == "QUERY_TOO_COMPLICATED"
