"""SOQL parser: the subset of Salesforce's query language the sandbox emulator answers.

Grammar (keywords case-insensitive)::

    query      := SELECT items FROM name [WHERE cond] [ORDER BY order (, order)*]
                  [LIMIT int] [OFFSET int]
    items      := COUNT() | item (, item)*
    item       := path | COUNT(path) [alias]
    cond       := [NOT] term (AND term)*  |  [NOT] term (OR term)*
    term       := ( cond ) | path op value | path [NOT] IN ( value, ... ) | path LIKE string
    value      := string | number | date | datetime | NULL | TRUE | FALSE | date literal
    order      := path [ASC|DESC] [NULLS FIRST|LAST]

SOQL rules kept on purpose: AND and OR never mix at one level without parentheses, NOT only
opens a condition (``a AND NOT b`` is malformed, ``a AND (NOT b)`` is not), and only
Salesforce's reserved words are barred as names, so ``SELECT Type FROM Order ORDER BY Type``
parses. Errors are `SoqlSyntaxError`s worded and laid out like Salesforce's MALFORMED_QUERY
answers (caret excerpt, ``ERROR at Row:r:Column:c``, ``unexpected token: 'X'``).
"""

from __future__ import annotations

from sandbox.querylang.ast import (
    And,
    Comparison,
    Condition,
    CountAll,
    DateLiteral,
    FieldRef,
    InList,
    Like,
    Not,
    Operand,
    Or,
    OrderItem,
    QuerySyntaxError,
    SoqlQuery,
)
from sandbox.querylang.dates import DATE_LITERALS
from sandbox.querylang.lexer import LexError, Token, TokenKind, tokenize
from sandbox.querylang.parser import MAX_NESTING, TokenParser, combine, row_column

MAX_SOQL_LENGTH = 100_000
"""Salesforce's limit on the length of a SOQL statement, in characters."""
MAX_SOQL_OFFSET = 2_000
"""Salesforce's largest OFFSET. The parser records any OFFSET; the emulator enforces this."""

# Salesforce's reserved words: never an object or field name. Other keywords (ORDER, BY,
# OFFSET, COUNT, TRUE, TODAY ...) can be names where the grammar expects one.
RESERVED = frozenset(
    {
        "AND", "ASC", "DESC", "EXCLUDES", "FIRST", "FROM", "GROUP", "HAVING", "IN", "INCLUDES",
        "LAST", "LIKE", "LIMIT", "NOT", "NULL", "NULLS", "OR", "SELECT", "WHERE", "WITH",
    }
)  # fmt: skip

_EXCERPT_RADIUS = 40


class SoqlSyntaxError(QuerySyntaxError):
    """A query Salesforce would refuse before running it.

    ``message`` is the short text (``unexpected token: 'FROMM'``), ``error_code`` the REST
    ``errorCode`` (MALFORMED_QUERY, or QUERY_TOO_COMPLICATED for nesting past `MAX_NESTING`),
    ``row``/``column`` are 1-based (None when the error has no place), and
    ``salesforce_message`` is the REST ``message`` with Salesforce's excerpt-and-caret layout.
    """

    def __init__(
        self,
        message: str,
        position: int | None,
        *,
        text: str,
        error_code: str = "MALFORMED_QUERY",
    ) -> None:
        super().__init__(message, position)
        self.error_code = error_code
        self.row: int | None = None
        self.column: int | None = None
        self.salesforce_message = message
        if position is not None:
            self.row, self.column = row_column(text, position)
            self.salesforce_message = format_soql_error(text, position, message)


def format_soql_error(text: str, position: int, message: str) -> str:
    """Salesforce's layout for a query error at ``position``.

    ``"\\n<excerpt of the line>\\n<spaces>^\\nERROR at Row:r:Column:c\\n<message>"``; also
    right for the emulator's INVALID_FIELD / INVALID_TYPE messages.
    """
    row, column = row_column(text, position)
    line_start = position - column + 1
    line_end = text.find("\n", position)
    line = text[line_start : len(text) if line_end < 0 else line_end].rstrip("\r")
    offset = position - line_start
    start = 0
    if offset > _EXCERPT_RADIUS:
        start = line.rfind(" ", 0, offset - _EXCERPT_RADIUS) + 1
    end = len(line)
    if end - offset > _EXCERPT_RADIUS:
        cut = line.find(" ", offset + _EXCERPT_RADIUS)
        end = end if cut < 0 else cut
    excerpt = line[start:end]
    caret = " " * (offset - start) + "^"
    return f"\n{excerpt}\n{caret}\nERROR at Row:{row}:Column:{column}\n{message}"


def parse_soql(text: str) -> SoqlQuery:
    """Parse one SOQL statement; raises `SoqlSyntaxError` (a `QuerySyntaxError`)."""
    try:
        return _Parser(text).parse()
    except RecursionError:  # nesting is capped, but a caller may already be deep in the stack
        raise SoqlSyntaxError(
            "Query is too complicated", None, text=text, error_code="QUERY_TOO_COMPLICATED"
        ) from None


def field_position(text: str, field: FieldRef) -> int | None:
    """Offset of the first place ``text`` spells ``field`` (case-insensitive), if any.

    For emulator errors that point at a field, e.g. INVALID_FIELD's ``ERROR at Row:1:Column:8``.
    """
    try:
        tokens = tokenize(text, "soql")
    except LexError:
        return None
    wanted = [part.upper() for part in field.path]
    width = 2 * len(wanted) - 1
    for i in range(len(tokens) - width + 1):
        window = tokens[i : i + width]
        names = window[0::2]
        dots = window[1::2]
        if (
            all(t.kind is TokenKind.IDENT for t in names)
            and [t.upper for t in names] == wanted
            and all(t.is_punct(".") for t in dots)
            and not (i > 0 and tokens[i - 1].is_punct("."))
        ):
            return window[0].pos
    return None


def _display(char: str) -> str:
    return char if char.isprintable() else f"\\u{ord(char):04x}"


class _Parser(TokenParser):
    reserved = RESERVED

    def error(
        self, message: str, position: int | None, code: str = "MALFORMED_QUERY"
    ) -> SoqlSyntaxError:
        return SoqlSyntaxError(message, position, text=self.text, error_code=code)

    def unexpected(self, token: Token) -> SoqlSyntaxError:
        if token.error is not None:
            return self.lex_error(token.error)
        shown = "<EOF>" if token.kind is TokenKind.EOF else token.text
        return self.error(f"unexpected token: '{shown}'", token.pos)

    # --- statement ---------------------------------------------------------------------------

    def parse(self) -> SoqlQuery:
        if len(self.text) > MAX_SOQL_LENGTH:
            raise self.error(
                f"SOQL statements can not be longer than {MAX_SOQL_LENGTH} characters.", None
            )
        if not self.text.strip():
            raise self.error("SOQL statements cannot be empty or null", None)
        self.tokens = self.tokenize()
        self.expect_word("SELECT")
        fields = self.select_list()
        self.expect_word("FROM")
        sobject = self.name().text
        where = None
        if self.peek().is_word("WHERE"):
            self.advance()
            where = self.condition(0)
        order_by: tuple[OrderItem, ...] = ()
        if self.peek().is_word("ORDER") and self.peek(1).is_word("BY"):
            self.advance()
            self.advance()
            order_by = self.order_items()
        limit = offset = None
        if self.peek().is_word("LIMIT"):
            self.advance()
            limit = self.count_value()
        if self.peek().is_word("OFFSET"):
            self.advance()
            offset = self.count_value()
        if self.peek().kind is not TokenKind.EOF:
            raise self.unexpected(self.peek())
        return SoqlQuery(fields, sobject, where, order_by, limit, offset)

    def tokenize(self) -> list[Token]:
        return tokenize(self.text, "soql", defer_errors=True)

    def lex_error(self, exc: LexError) -> SoqlSyntaxError:
        position = exc.position if exc.position is not None else len(self.text)
        row, column = row_column(self.text, position)
        where = f"line {row}:{column - 1}"
        if exc.kind == "character":
            message = f"{where} unexpected token: '{_display(exc.fragment)}'"
        elif exc.kind == "control_in_string":
            message = f"{where} invalid character in string literal: '{_display(exc.fragment)}'"
        elif exc.kind == "unterminated_string":
            end_row, end_column = row_column(self.text, len(self.text))
            message = f"line {end_row}:{end_column - 1} mismatched character '<EOF>' expecting '''"
        elif exc.kind == "escape":
            message = f"Invalid string literal: illegal escape sequence '{exc.fragment}'"
        else:  # date, datetime: Salesforce's own words
            message = exc.message
        return self.error(message, position)

    def select_list(self) -> tuple[FieldRef | CountAll, ...]:
        items: list[tuple[FieldRef | CountAll, Token]] = []
        while True:
            start = self.peek()
            if start.is_word("COUNT") and self.peek(1).is_punct("("):
                self.advance()
                self.advance()
                if self.peek().is_punct(")"):
                    close = self.advance()
                    if items:
                        raise self.unexpected(close)  # COUNT() stands alone
                    if not self.peek().is_word("FROM"):
                        raise self.unexpected(self.peek())
                    return (CountAll(),)
                field = self.path()
                self.expect_punct(")")
                alias = self.advance().text if self.is_name(self.peek()) else None
                items.append((CountAll(field, alias), start))
            else:
                items.append((self.path(), start))
            if not self.peek().is_punct(","):
                break
            self.advance()
        aggregated = any(isinstance(item, CountAll) for item, _ in items)
        seen: set[tuple[str, ...]] = set()
        for item, token in items:
            if isinstance(item, FieldRef):
                if aggregated:
                    raise self.error(
                        f"Field must be grouped or aggregated: {item.dotted}", token.pos
                    )
                key = tuple(part.upper() for part in item.path)
                if key in seen:
                    raise self.error(f"duplicate field selected: {item.dotted}", token.pos)
                seen.add(key)
        return tuple(item for item, _ in items)

    # --- WHERE -------------------------------------------------------------------------------

    def condition(self, depth: int) -> Condition:
        if self.peek().is_word("NOT"):
            self.advance()
            first: Condition = Not(self.term(depth))
        else:
            first = self.term(depth)
        items = [first]
        joiner: str | None = None
        while self.peek().is_word("AND", "OR"):
            token = self.peek()
            if joiner is None:
                joiner = token.upper
            elif token.upper != joiner:
                raise self.unexpected(token)  # AND and OR mixed without parentheses
            self.advance()
            if self.peek().is_word("NOT"):
                raise self.unexpected(self.peek())  # NOT only opens a condition
            items.append(self.term(depth))
        if joiner is None:
            return first
        return combine(And if joiner == "AND" else Or, items)

    def term(self, depth: int) -> Condition:
        token = self.peek()
        if token.is_punct("("):
            if depth >= MAX_NESTING:
                raise self.error(
                    f"Query is too complicated: more than {MAX_NESTING} levels of nested "
                    "parentheses",
                    token.pos,
                    "QUERY_TOO_COMPLICATED",
                )
            self.advance()
            inner = self.condition(depth + 1)
            self.expect_punct(")")
            return inner
        field = self.path()
        token = self.peek()
        if token.kind is TokenKind.OP:
            self.advance()
            op = "!=" if token.text == "<>" else token.text
            return Comparison(field, op, self.value())
        if token.is_word("IN"):
            self.advance()
            return InList(field, self.value_list())
        if token.is_word("NOT") and self.peek(1).is_word("IN"):
            self.advance()
            self.advance()
            return InList(field, self.value_list(), negated=True)
        if token.is_word("LIKE"):
            self.advance()
            pattern = self.peek()
            if pattern.kind is not TokenKind.STRING or pattern.pattern is None:
                raise self.unexpected(pattern)
            self.advance()
            return Like(field, pattern.pattern)
        if token.is_word("NOT"):
            raise self.unexpected(self.peek(1))
        raise self.unexpected(token)

    def value(self) -> Operand:
        token = self.peek()
        if token.kind in (TokenKind.STRING, TokenKind.NUMBER, TokenKind.DATE, TokenKind.DATETIME):
            self.advance()
            return token.value
        if token.kind is TokenKind.IDENT:
            word = token.upper
            if word == "NULL":
                self.advance()
                return None
            if word in ("TRUE", "FALSE"):
                self.advance()
                return word == "TRUE"
            takes_n = DATE_LITERALS.get(word)
            if takes_n is not None:
                self.advance()
                if not takes_n:
                    return DateLiteral(word)
                self.expect_punct(":")
                return DateLiteral(word, self.count_value())
        raise self.unexpected(token)

    def value_list(self) -> tuple[Operand, ...]:
        self.expect_punct("(")
        if self.peek().is_punct(")"):
            raise self.unexpected(self.peek())
        values = [self.value()]
        while self.peek().is_punct(","):
            self.advance()
            values.append(self.value())
        self.expect_punct(")")
        return tuple(values)

    def count_value(self) -> int:
        """A non-negative integer written as plain digits (LIMIT, OFFSET, LAST_N_DAYS:n)."""
        token = self.peek()
        if token.kind is not TokenKind.NUMBER or not token.text.isdigit():
            raise self.unexpected(token)
        self.advance()
        return int(token.text)
