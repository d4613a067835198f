"""What the SOQL and SuiteQL parsers share: a cursor over the token stream and the grammar
rules both languages spell the same way (dotted paths, ORDER BY items).

Each dialect's parser subclasses `TokenParser`, names its reserved words and words its own
``unexpected`` error, as its vendor does.
"""

from __future__ import annotations

from sandbox.querylang.ast import And, Condition, FieldRef, Or, OrderItem, QuerySyntaxError
from sandbox.querylang.lexer import Token, TokenKind

MAX_NESTING = 100
"""Deepest parenthesis nesting either parser accepts; deeper is the vendor's "too complicated"
error, never a crash."""


def row_column(text: str, position: int) -> tuple[int, int]:
    """1-based (row, column) of a character offset, as both vendors count them."""
    row = text.count("\n", 0, position) + 1
    line_start = text.rfind("\n", 0, position) + 1
    return row, position - line_start + 1


def combine(kind: type[And] | type[Or], items: list[Condition]) -> Condition:
    """``kind(items)``, lifting the items of same-kind children into one flat node."""
    flat: list[Condition] = []
    for item in items:
        if isinstance(item, kind):
            flat.extend(item.items)
        else:
            flat.append(item)
    return kind(tuple(flat))


class TokenParser:
    """A recursive-descent cursor: ``tokens`` is set by the subclass's ``parse`` and always
    ends with an EOF token, which `advance` never moves past."""

    reserved: frozenset[str] = frozenset()
    """Words that can never be a name in this dialect."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[Token] = []
        self.index = 0

    def unexpected(self, token: Token) -> QuerySyntaxError:
        """The dialect's error for ``token`` where the grammar wants something else."""
        raise NotImplementedError

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not TokenKind.EOF:
            self.index += 1
        return token

    def accept_word(self, *words: str) -> Token | None:
        return self.advance() if self.peek().is_word(*words) else None

    def expect_word(self, word: str) -> Token:
        token = self.peek()
        if not token.is_word(word):
            raise self.unexpected(token)
        return self.advance()

    def expect_punct(self, char: str) -> Token:
        token = self.peek()
        if not token.is_punct(char):
            raise self.unexpected(token)
        return self.advance()

    def is_name(self, token: Token) -> bool:
        return token.kind is TokenKind.IDENT and token.upper not in self.reserved

    def name(self) -> Token:
        token = self.peek()
        if not self.is_name(token):
            raise self.unexpected(token)
        return self.advance()

    def path(self) -> FieldRef:
        parts = [self.name().text]
        while self.peek().is_punct("."):
            self.advance()
            parts.append(self.name().text)
        return FieldRef(tuple(parts))

    def order_items(self) -> tuple[OrderItem, ...]:
        """``order (, order)*`` with ``order := path [ASC|DESC] [NULLS FIRST|LAST]``."""
        items = [self.order_item()]
        while self.peek().is_punct(","):
            self.advance()
            items.append(self.order_item())
        return tuple(items)

    def order_item(self) -> OrderItem:
        field = self.path()
        direction = self.accept_word("ASC", "DESC")
        descending = direction is not None and direction.upper == "DESC"
        nulls_last = None
        if self.accept_word("NULLS"):
            token = self.peek()
            if not token.is_word("FIRST", "LAST"):
                raise self.unexpected(token)
            nulls_last = self.advance().upper == "LAST"
        return OrderItem(field, descending, nulls_last)
