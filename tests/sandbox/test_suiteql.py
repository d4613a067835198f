"""SuiteQL: parser, in-memory executor, and NetSuite's refusals."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest

from sandbox.querylang.ast import (
    And,
    ColumnComparison,
    Comparison,
    CountAll,
    FieldRef,
    InList,
    IsNull,
    Join,
    Like,
    Not,
    Or,
    OrderItem,
    QuerySyntaxError,
    SelectColumn,
    SuiteQlQuery,
    TableRef,
)
from sandbox.querylang.lexer import TokenKind, tokenize
from sandbox.querylang.suiteql import (
    SuiteQlError,
    SuiteQlSyntaxError,
    execute_suiteql,
    parse_suiteql,
    run_suiteql,
    to_date,
)

PREFIX = "Invalid search query. Detailed unprocessed description follows. "


def ref(dotted: str) -> FieldRef:
    return FieldRef(tuple(dotted.split(".")))


def where_of(text: str) -> object:
    return parse_suiteql(f"SELECT id FROM customer WHERE {text}").where


def refused(text: str) -> SuiteQlSyntaxError:
    with pytest.raises(SuiteQlSyntaxError) as caught:
        parse_suiteql(text)
    return caught.value


# --- parser ------------------------------------------------------------------------------------


def test_full_statement() -> None:
    query = parse_suiteql(
        "SELECT DISTINCT c.id, c.companyName AS Name, t.tranid tran "
        "FROM Customer c INNER JOIN transaction t ON t.entity = c.id AND t.type = 'CustInvc' "
        "LEFT OUTER JOIN employee AS e ON e.id = c.salesrep "
        "WHERE c.isinactive = 'F' ORDER BY Name DESC NULLS LAST, c.id"
    )

    assert query == SuiteQlQuery(
        columns=(
            SelectColumn(ref("c.id")),
            SelectColumn(ref("c.companyName"), "Name"),
            SelectColumn(ref("t.tranid"), "tran"),
        ),
        source=TableRef("Customer", "c"),
        joins=(
            Join(
                TableRef("transaction", "t"),
                And(
                    (
                        ColumnComparison(ref("t.entity"), "=", ref("c.id")),
                        Comparison(ref("t.type"), "=", "CustInvc"),
                    )
                ),
            ),
            Join(
                TableRef("employee", "e"),
                ColumnComparison(ref("e.id"), "=", ref("c.salesrep")),
                "LEFT",
            ),
        ),
        where=Comparison(ref("c.isinactive"), "=", "F"),
        order_by=(OrderItem(ref("Name"), True, True), OrderItem(ref("c.id"))),
        distinct=True,
    )


def test_star_forms_and_count() -> None:
    assert parse_suiteql("select * from customer").columns == (SelectColumn(ref("*")),)
    assert parse_suiteql("SELECT c.*, t.id FROM customer c JOIN t ON t.x = c.id").columns == (
        SelectColumn(FieldRef(("c", "*"))),
        SelectColumn(ref("t.id")),
    )
    assert parse_suiteql("SELECT COUNT(*) AS total FROM customer").columns == (
        SelectColumn(CountAll(None, "total"), "total"),
    )
    assert parse_suiteql("SELECT count(email) FROM customer").columns == (
        SelectColumn(CountAll(ref("email"))),
    )


def test_and_binds_tighter_than_or() -> None:
    assert where_of("a = 1 OR b = 2 AND c = 3") == Or(
        (
            Comparison(ref("a"), "=", 1),
            And((Comparison(ref("b"), "=", 2), Comparison(ref("c"), "=", 3))),
        )
    )
    assert where_of("(a = 1 OR b = 2) AND c = 3") == And(
        (
            Or((Comparison(ref("a"), "=", 1), Comparison(ref("b"), "=", 2))),
            Comparison(ref("c"), "=", 3),
        )
    )


def test_predicates() -> None:
    assert where_of("email IS NULL") == IsNull(ref("email"))
    assert where_of("email IS NOT NULL") == IsNull(ref("email"), negated=True)
    assert where_of("id NOT IN (1, 2)") == InList(ref("id"), (1, 2), negated=True)
    assert where_of("name NOT LIKE 'A%'") == Like(ref("name"), "A%", negated=True)
    assert where_of("NOT name LIKE 'A%'") == Not(Like(ref("name"), "A%"))
    assert where_of("a = 1 AND NOT b = 1") == And(
        (Comparison(ref("a"), "=", 1), Not(Comparison(ref("b"), "=", 1)))
    )
    assert where_of("5 < balance") == Comparison(ref("balance"), ">", 5)
    assert where_of("balance <> 5") == Comparison(ref("balance"), "!=", 5)
    assert where_of("x = NULL") == Comparison(ref("x"), "=", None)


def test_to_date_literal() -> None:
    assert where_of("trandate >= TO_DATE('2024-01-31', 'YYYY-MM-DD')") == Comparison(
        ref("trandate"), ">=", dt.date(2024, 1, 31)
    )
    assert where_of("trandate IN (TO_DATE('01/31/2024', 'MM/DD/YYYY'))") == InList(
        ref("trandate"), (dt.date(2024, 1, 31),)
    )
    assert to_date("2024-01-31 13:05:09", "YYYY-MM-DD HH24:MI:SS") == dt.datetime(
        2024, 1, 31, 13, 5, 9
    )


@pytest.mark.parametrize(
    ("value", "form"),
    [("2024-02-30", "YYYY-MM-DD"), ("31/01/2024", "YYYY-MM-DD"), ("2024", "YYYY"), ("x", "Q")],
)
def test_to_date_refusals(value: str, form: str) -> None:
    with pytest.raises(SuiteQlSyntaxError):
        where_of(f"d = TO_DATE('{value}', '{form}')")


def test_strings_comments_and_case() -> None:
    query = parse_suiteql(
        "select ID /* the key */ from CUSTOMER -- trailing comment\nwhere COMPANYNAME = 'O''Brien'"
    )

    assert query.where == Comparison(ref("COMPANYNAME"), "=", "O'Brien")
    assert where_of(r"name LIKE 'a\b%'") == Like(ref("name"), "a\\\\b%")


def test_not_chains_are_parsed_without_recursion() -> None:
    assert where_of("NOT " * 10_000 + "a = 1") == Comparison(ref("a"), "=", 1)
    assert where_of("NOT " * 10_001 + "a = 1") == Not(Comparison(ref("a"), "=", 1))


# --- parser refusals ---------------------------------------------------------------------------


def test_syntax_errors_read_like_netsuite_and_keep_the_detail() -> None:
    error = refused("SELECT id FROMM customer")

    assert isinstance(error, SuiteQlError)
    assert isinstance(error, QuerySyntaxError)
    assert error.detail == PREFIX + "Search error occurred: Invalid or unsupported search."
    assert str(error) == error.detail
    assert error.error_code == "INVALID_PARAMETER"
    assert error.reason == "unexpected token 'customer' at line 1, column 17"
    assert error.position == 16


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty query"),
        ("  -- nothing\n", "empty query"),
        ("SELECT id FROM customer WHERE (id = 1", "unexpected end of query"),
        ("SELECT id FROM customer WHERE id = 1)", "unexpected token ')'"),
        ("SELECT id FROM customer WHERE name = 'abc", "unterminated string literal"),
        ("SELECT id FROM customer WHERE name = 'it's'", "unexpected token 's'"),
        ("SELECT id FROM customer /* open", "unterminated comment"),
        ("SELECT id FROM customer WHERE id IN ()", "unexpected token ')'"),
        ("SELECT *, id FROM customer", "unexpected token ','"),
        ("SELECT id, * FROM customer", "unexpected token '*'"),
        ("SELECT id FROM customer c JOIN t", "unexpected end of query"),
        ("SELECT id FROM customer RIGHT JOIN t ON t.a = id", "unexpected token 'RIGHT'"),
        ("SELECT id FROM customer WHERE 1 = 1", "comparing two constants is not supported"),
        ("SELECT id FROM customer WHERE id = 1;", "unexpected character: ';'"),
        ('SELECT "ID" FROM customer', "unexpected character: '\"'"),
        ("SELECT id FROM customer WHERE name = 'a\x00'", "control character '\\x00'"),
        ("SELECT id FROM customer\x00", "unexpected character: '\\x00'"),
        ("SELECT id FROM customer WHERE name LIKE 5", "unexpected token '5'"),
        ("SELECT id FROM customer ORDER BY", "unexpected end of query"),
        ("SELECT id FROM customér", "unexpected character: 'é'"),
    ],
)
def test_malformed_queries(text: str, reason: str) -> None:
    error = refused(text)

    assert reason in error.reason
    assert error.detail.startswith(PREFIX)


def test_deep_parentheses_are_a_clean_error() -> None:
    text = "SELECT id FROM customer WHERE " + "(" * 5_000 + "id = 1" + ")" * 5_000

    assert "query too complex" in refused(text).reason


def test_ten_thousand_ors_and_a_thousand_in_values() -> None:
    ors = " OR ".join(f"id = {i}" for i in range(10_000))
    values = ", ".join(f"'{i}'" for i in range(1_000))

    wide = where_of(ors)
    listed = where_of(f"id IN ({values})")

    assert isinstance(wide, Or)
    assert len(wide.items) == 10_000
    assert isinstance(listed, InList)
    assert len(listed.values) == 1_000


@pytest.mark.parametrize("negated", ["", "NOT "])
def test_an_in_list_of_more_than_a_thousand_is_oracles_error(negated: str) -> None:
    values = ", ".join(str(i) for i in range(1_001))

    with pytest.raises(SuiteQlError) as caught:
        parse_suiteql(f"SELECT id FROM customer WHERE id {negated}IN ({values})")

    assert caught.value.error_code == "INVALID_PARAMETER"
    assert caught.value.detail == PREFIX + (
        "Search error occurred: ORA-01795: maximum number of expressions in a list is 1000"
    )
    assert "1001 expressions" in caught.value.reason


def test_escaped_injection_stays_one_literal_and_matches_nothing() -> None:
    value = "x' OR companyname LIKE '%"
    escaped = value.replace("'", "''")

    query = parse_suiteql(f"SELECT id FROM customer WHERE companyname = '{escaped}'")

    assert query.where == Comparison(ref("companyname"), "=", value)
    assert execute_suiteql(query, TABLES) == []


def test_unescaped_injection_is_a_different_parse_not_a_silent_one() -> None:
    value = "x' OR companyname LIKE '%"

    query = parse_suiteql(f"SELECT id FROM customer WHERE companyname = '{value}'")

    assert isinstance(query.where, Or)


# --- executor ----------------------------------------------------------------------------------

CUSTOMERS: list[dict[str, Any]] = [
    {"id": 1, "companyname": "Acme", "email": "ops@acme.test", "balance": Decimal("10.00")},
    {"id": 2, "companyname": "Globex", "email": None, "balance": Decimal("0.00")},
    {"id": 3, "companyname": "acme labs", "email": "hi@labs.test", "balance": None},
]
TRANSACTIONS: list[dict[str, Any]] = [
    {
        "id": 10,
        "entity": 1,
        "type": "CustInvc",
        "tranid": "INV-10",
        "trandate": dt.date(2024, 1, 5),
    },
    {"id": 11, "entity": 1, "type": "SalesOrd", "tranid": "SO-11", "trandate": dt.date(2024, 2, 1)},
    {
        "id": 12,
        "entity": 2,
        "type": "CustInvc",
        "tranid": "INV-12",
        "trandate": dt.date(2024, 3, 9),
    },
    {"id": 13, "entity": 99, "type": "CustInvc", "tranid": "INV-13", "trandate": None},
]
TABLES = {"Customer": CUSTOMERS, "transaction": TRANSACTIONS}


def run(text: str) -> list[dict[str, Any]]:
    return run_suiteql(text, TABLES)


def test_columns_come_back_lower_case_with_lower_case_aliases() -> None:
    rows = run("SELECT ID, CompanyName AS Name FROM CUSTOMER WHERE id = 1")

    assert rows == [{"id": 1, "name": "Acme"}]


def test_where_is_case_sensitive_with_oracle_nulls() -> None:
    assert run("SELECT id FROM customer WHERE companyname LIKE 'Acme%'") == [{"id": 1}]
    assert run("SELECT id FROM customer WHERE email != 'x'") == [{"id": 1}, {"id": 3}]
    assert run("SELECT id FROM customer WHERE email IS NULL") == [{"id": 2}]


def test_inner_join_with_filter_on_each_side() -> None:
    rows = run(
        "SELECT c.companyname, t.tranid FROM customer c "
        "JOIN transaction t ON t.entity = c.id "
        "WHERE t.type = 'CustInvc' AND c.balance >= 0 ORDER BY t.tranid"
    )

    assert rows == [
        {"companyname": "Acme", "tranid": "INV-10"},
        {"companyname": "Globex", "tranid": "INV-12"},
    ]


def test_left_join_keeps_unmatched_rows_and_filters_after_joining() -> None:
    joined = run(
        "SELECT c.id, t.tranid FROM customer c LEFT JOIN transaction t "
        "ON t.entity = c.id AND t.type = 'CustInvc' ORDER BY c.id"
    )
    without = run(
        "SELECT c.id FROM customer c LEFT OUTER JOIN transaction t ON t.entity = c.id "
        "WHERE t.id IS NULL"
    )

    assert joined == [
        {"id": 1, "tranid": "INV-10"},
        {"id": 2, "tranid": "INV-12"},
        {"id": 3, "tranid": None},
    ]
    assert without == [{"id": 3}]


def test_join_residual_condition_across_tables() -> None:
    rows = run(
        "SELECT t.id FROM transaction t JOIN customer c ON c.id = t.entity "
        "AND c.companyname = 'Acme' AND t.id > c.id"
    )

    assert rows == [{"id": 10}, {"id": 11}]


def test_join_without_equality_is_a_nested_loop() -> None:
    rows = run("SELECT c.id, t.id AS tid FROM customer c JOIN transaction t ON t.entity > c.id")

    assert {(row["id"], row["tid"]) for row in rows} == {
        (1, 12),
        (1, 13),
        (2, 13),
        (3, 13),
    }


def test_star_expansion() -> None:
    assert run("SELECT * FROM customer WHERE id = 2") == [CUSTOMERS[1]]
    rows = run("SELECT t.*, c.companyname FROM transaction t JOIN customer c ON c.id = t.entity")
    assert rows[0] == {**TRANSACTIONS[0], "companyname": "Acme"}


def test_count_and_distinct() -> None:
    assert run("SELECT COUNT(*) FROM transaction") == [{"expr1": 4}]
    assert run("SELECT COUNT(*) AS N, COUNT(trandate) FROM transaction") == [{"n": 4, "expr1": 3}]
    assert run("SELECT COUNT(*) FROM transaction WHERE type = 'none'") == [{"expr1": 0}]
    assert run("SELECT DISTINCT type FROM transaction ORDER BY type") == [
        {"type": "CustInvc"},
        {"type": "SalesOrd"},
    ]


def test_order_by_uses_oracle_null_placement_and_aliases() -> None:
    asc = run("SELECT id, balance FROM customer ORDER BY balance")
    desc = run("SELECT id, balance AS b FROM customer ORDER BY b DESC")
    forced = run("SELECT id FROM customer ORDER BY balance NULLS FIRST")

    assert [row["id"] for row in asc] == [2, 1, 3]
    assert [row["id"] for row in desc] == [3, 1, 2]
    assert [row["id"] for row in forced] == [3, 2, 1]


def test_dates_compare_with_to_date() -> None:
    rows = run(
        "SELECT tranid FROM transaction WHERE trandate >= TO_DATE('2024-02-01', 'YYYY-MM-DD')"
    )

    assert rows == [{"tranid": "SO-11"}, {"tranid": "INV-12"}]


def test_schema_names_the_columns_of_an_empty_table() -> None:
    tables = {"customer": [], "transaction": TRANSACTIONS}

    assert run_suiteql("SELECT id FROM customer", tables) == []
    assert run_suiteql("SELECT anything FROM customer", tables) == []
    with pytest.raises(SuiteQlError, match="Field 'anything' for record 'customer'"):
        run_suiteql("SELECT c.anything FROM customer c", tables, schemas={"Customer": ["id"]})


# --- executor refusals -------------------------------------------------------------------------


def test_unknown_table() -> None:
    with pytest.raises(SuiteQlError) as caught:
        run("SELECT id FROM Customers")

    assert caught.value.detail == PREFIX + "Invalid search type: Customers."
    assert caught.value.error_code == "INVALID_PARAMETER"


def test_unknown_columns() -> None:
    with pytest.raises(SuiteQlError) as unqualified:
        run("SELECT xyz FROM customer")
    with pytest.raises(SuiteQlError) as qualified:
        run("SELECT c.xyz FROM customer c")
    with pytest.raises(SuiteQlError) as bad_alias:
        run("SELECT q.id FROM customer c JOIN transaction t ON t.entity = c.id")

    assert unqualified.value.detail == PREFIX + (
        "Search error occurred: Unknown identifier 'xyz'. "
        "Available identifiers are: {customer=customer}."
    )
    assert qualified.value.detail == PREFIX + (
        "Search error occurred: Field 'xyz' for record 'customer' was not found."
    )
    assert "Unknown identifier 'q.id'" in bad_alias.value.detail
    assert "{c=customer, t=transaction}" in bad_alias.value.detail


def test_unknown_column_fails_even_without_rows() -> None:
    with pytest.raises(SuiteQlError, match="Unknown identifier 'nope'"):
        run("SELECT id FROM customer WHERE id = 42 AND nope = 1")


def test_ambiguous_unqualified_column() -> None:
    with pytest.raises(SuiteQlError) as caught:
        run("SELECT id FROM customer c JOIN transaction t ON t.entity = c.id")

    assert "'id' is ambiguously defined" in caught.value.detail
    assert run("SELECT tranid FROM customer c JOIN transaction t ON t.entity = c.id")[0] == {
        "tranid": "INV-10"
    }


def test_on_clause_cannot_see_tables_joined_later() -> None:
    with pytest.raises(SuiteQlError, match=r"Unknown identifier 'e\.id'"):
        run(
            "SELECT c.id FROM customer c JOIN transaction t ON t.entity = e.id "
            "JOIN customer e ON e.id = c.id"
        )


def test_duplicate_alias_and_count_with_columns_are_refused() -> None:
    with pytest.raises(SuiteQlError, match="unsupported") as duplicate:
        run("SELECT c.id FROM customer c JOIN transaction c ON c.entity = c.id")
    with pytest.raises(SuiteQlError) as mixed:
        run("SELECT id, COUNT(*) FROM customer")

    assert "used twice" in duplicate.value.reason
    assert "GROUP BY" in mixed.value.reason


def test_type_errors_become_suiteql_errors() -> None:
    with pytest.raises(SuiteQlError) as caught:
        run("SELECT id FROM customer WHERE id = 'abc'")

    assert caught.value.detail == PREFIX + "Search error occurred: Invalid or unsupported search."
    assert "field 'id'" in caught.value.reason


# --- scale -------------------------------------------------------------------------------------


def test_ten_thousand_customers_by_hundred_thousand_transactions() -> None:
    customers = [{"id": i, "companyname": f"Co {i}"} for i in range(1, 10_001)]
    transactions = [
        {"id": j, "entity": j % 10_000 + 1, "type": "CustInvc" if j % 2 else "SalesOrd"}
        for j in range(100_000)
    ]
    tables: dict[str, list[dict[str, Any]]] = {"customer": customers, "transaction": transactions}
    ids = ", ".join(str(i) for i in range(1, 501))
    text = (
        "SELECT c.id, c.companyname, t.id AS tid FROM customer c "
        f"JOIN transaction t ON t.entity = c.id WHERE c.id IN ({ids}) AND t.type = 'CustInvc'"
    )

    rows = run_suiteql(text, tables)

    assert len(rows) == 2_500
    assert all(row["id"] <= 500 and row["tid"] % 2 == 1 for row in rows)


def test_lexer_suiteql_dialect_has_no_dates_and_doubles_quotes() -> None:
    tokens = tokenize("x = 2024-01-31 AND y = 'a''b'", "suiteql")

    assert [t.kind for t in tokens[2:5]] == [TokenKind.NUMBER] * 3
    assert tokens[-2].value == "a'b"


def test_damaged_queries_run_or_raise_suiteql_errors_only() -> None:
    seed = (
        "SELECT DISTINCT c.id, c.companyname AS n, t.* FROM customer c LEFT JOIN transaction t "
        "ON t.entity = c.id AND t.type = 'CustInvc' WHERE c.id IN (1, 2) OR NOT (c.email IS NULL) "
        "AND t.trandate >= TO_DATE('2024-01-31', 'YYYY-MM-DD') ORDER BY n DESC NULLS FIRST"
    )
    fragments = [*"()',.*=<>!-+ \n\\\x00é", "AND", "OR", "NOT", "IN", "IS", "NULL", "JOIN", "c."]
    rng = random.Random(20240131)
    ran = 0
    refusals: list[SuiteQlError] = []

    for _ in range(1_500):
        chars = list(seed)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(chars))
            if rng.random() < 0.5:
                chars.insert(at, rng.choice(fragments))
            else:
                del chars[at]
        try:
            run("".join(chars))
        except SuiteQlError as error:  # anything else fails the test
            refusals.append(error)
        else:
            ran += 1

    assert ran > 0
    assert refusals
    assert all(error.detail.startswith(PREFIX) for error in refusals)
