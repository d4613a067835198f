"""Tokenizer shared by the SOQL and SuiteQL parsers.

One pass over the text, left to right, each token matched at its position (linear time, no
backtracking across tokens). The two dialects differ only in string literals (SOQL: backslash
escapes; SuiteQL: a doubled quote), unquoted date literals (SOQL only) and comments (SuiteQL
only). Identifiers and keywords are both `IDENT` tokens: which words are reserved is the
parser's business, because SOQL lets some keywords (``Order``, ``Type``) name objects and fields.

Lexical errors are `LexError`s carrying a ``kind`` so each parser can word them the way its
vendor does.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Literal

from sandbox.querylang.ast import QuerySyntaxError, Value

Dialect = Literal["soql", "suiteql"]

LexErrorKind = Literal[
    "character",  # a character no token starts with (includes control characters)
    "unterminated_string",
    "control_in_string",  # a control character other than tab, CR, LF inside a string
    "escape",  # an unknown backslash escape in a SOQL string
    "date",  # a SOQL date literal that is not a real date
    "datetime",  # a SOQL datetime literal that is malformed or not a real instant
    "unterminated_comment",
]


class TokenKind(Enum):
    IDENT = "identifier"
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    OP = "operator"  # = != <> < <= > >=
    PUNCT = "punctuation"  # ( ) , . * :
    ERROR = "lexical error"  # only with defer_errors: the last token before EOF
    EOF = "end of input"


@dataclass(frozen=True, slots=True)
class Token:
    """One token. ``text`` is the source slice; ``value`` the decoded literal.

    For STRING tokens ``pattern`` is the same literal in LIKE-pattern form: ``%`` and ``_``
    are wildcards and a backslash escapes the next character (see `ast.Like`).
    """

    kind: TokenKind
    text: str
    pos: int
    value: Value = None
    pattern: str | None = None
    error: LexError | None = None

    @property
    def upper(self) -> str:
        return self.text.upper()

    def is_word(self, *words: str) -> bool:
        """True for an identifier spelling one of ``words`` (given in upper case)."""
        return self.kind is TokenKind.IDENT and self.text.upper() in words

    def is_punct(self, char: str) -> bool:
        return self.kind is TokenKind.PUNCT and self.text == char


class LexError(QuerySyntaxError):
    """A lexical error. ``fragment`` is the offending text (a character, an escape, a date)."""

    def __init__(self, kind: LexErrorKind, position: int, fragment: str) -> None:
        super().__init__(_LEX_MESSAGES[kind].format(fragment=fragment), position)
        self.kind: LexErrorKind = kind
        self.fragment = fragment


_LEX_MESSAGES: dict[LexErrorKind, str] = {
    "character": "unexpected character: {fragment!r}",
    "unterminated_string": "unterminated string literal",
    "control_in_string": "control character {fragment!r} in string literal",
    "escape": "invalid escape sequence {fragment!r} in string literal",
    "date": "Invalid date: {fragment}",
    "datetime": "Invalid datetime: {fragment}",
    "unterminated_comment": "unterminated comment",
}

_WHITESPACE = re.compile(r"[ \t\r\n]++")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*+")
_NUMBER = re.compile(r"[+-]?+[0-9]++(?:\.[0-9]++)?+")
_OPERATOR = re.compile(r"<=|>=|<>|!=|=|<|>")
_PUNCT = frozenset("(),.*:")
# A SOQL date or datetime: the loose shape takes the whole literal so a bad one is reported
# whole ("Invalid datetime: 2020-12-12T12:12:00-25:00"); the strict shapes then validate it.
_DATE_LOOSE = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt][0-9:.]*+(?:[Zz]|[+-][0-9:]*+)?+)?+"
)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))"
)
# Strings: possessive loops keep an unterminated literal linear.
_SOQL_STRING = re.compile(r"'((?:[^'\\]|\\.)*+)'", re.DOTALL)
_SUITEQL_STRING = re.compile(r"'((?:[^']|'')*+)'", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_COMMENT = re.compile(r"--[^\n]*+")

# SOQL escape -> (value text, LIKE-pattern text)
_SOQL_ESCAPES: dict[str, tuple[str, str]] = {
    "'": ("'", "'"),
    '"': ('"', '"'),
    "\\": ("\\", "\\\\"),
    "n": ("\n", "\n"),
    "N": ("\n", "\n"),
    "r": ("\r", "\r"),
    "R": ("\r", "\r"),
    "t": ("\t", "\t"),
    "T": ("\t", "\t"),
    "b": ("\b", "\b"),
    "B": ("\b", "\b"),
    "f": ("\f", "\f"),
    "F": ("\f", "\f"),
    "_": ("_", "\\_"),
    "%": ("%", "\\%"),
}


def tokenize(text: str, dialect: Dialect, *, defer_errors: bool = False) -> list[Token]:
    """Split ``text`` into tokens, ending with one EOF token at ``len(text)``.

    Raises `LexError` at the first character that starts no token; with ``defer_errors`` the
    error becomes an ERROR token (followed by EOF) instead, so a parser can first report an
    earlier token that does not fit, as Salesforce does (``'O'Brien'`` fails at ``Brien``).
    """
    tokens: list[Token] = []
    try:
        _scan(text, dialect, tokens)
    except LexError as exc:
        if not defer_errors:
            raise
        position = exc.position if exc.position is not None else len(text)
        tokens.append(Token(TokenKind.ERROR, text[position : position + 1], position, error=exc))
    tokens.append(Token(TokenKind.EOF, "", len(text)))
    return tokens


def _scan(text: str, dialect: Dialect, tokens: list[Token]) -> None:
    append = tokens.append
    pos = 0
    end = len(text)
    soql = dialect == "soql"
    while pos < end:
        char = text[pos]
        if char in " \t\r\n":
            match = _WHITESPACE.match(text, pos)
            assert match is not None
            pos = match.end()
            continue
        if char == "'":
            token = _soql_string(text, pos) if soql else _suiteql_string(text, pos)
            append(token)
            pos += len(token.text)
            continue
        if char.isascii() and (char.isalpha() or char == "_"):
            match = _IDENT.match(text, pos)
            assert match is not None
            append(Token(TokenKind.IDENT, match.group(), pos, match.group()))
            pos = match.end()
            continue
        if not soql and char == "-" and text.startswith("--", pos):
            match = _LINE_COMMENT.match(text, pos)
            assert match is not None
            pos = match.end()
            continue
        if not soql and char == "/" and text.startswith("/*", pos):
            close = text.find("*/", pos + 2)
            if close < 0:
                raise LexError("unterminated_comment", pos, "/*")
            pos = close + 2
            continue
        if char.isascii() and (char.isdigit() or char in "+-"):
            date = _DATE_LOOSE.match(text, pos) if soql and char.isdigit() else None
            if date is not None:
                token = _soql_date(date.group(), pos)
            else:
                match = _NUMBER.match(text, pos)
                if match is None:
                    raise LexError("character", pos, char)
                token = Token(TokenKind.NUMBER, match.group(), pos, _number(match.group()))
            append(token)
            pos += len(token.text)
            continue
        if char in "<>=!":
            match = _OPERATOR.match(text, pos)
            if match is None:
                raise LexError("character", pos, char)
            append(Token(TokenKind.OP, match.group(), pos, match.group()))
            pos = match.end()
            continue
        if char in _PUNCT:
            append(Token(TokenKind.PUNCT, char, pos, char))
            pos += 1
            continue
        raise LexError("character", pos, char)


def _number(text: str) -> int | Decimal:
    return Decimal(text) if "." in text else int(text)


def _soql_string(text: str, pos: int) -> Token:
    match = _SOQL_STRING.match(text, pos)
    if match is None:
        raise LexError("unterminated_string", pos, "'")
    body = match.group(1)
    _reject_controls(body, pos + 1)
    if "\\" not in body:
        return Token(TokenKind.STRING, match.group(), pos, body, body)
    values: list[str] = []
    patterns: list[str] = []
    i = 0
    while i < len(body):
        slash = body.find("\\", i)
        if slash < 0:
            values.append(body[i:])
            patterns.append(body[i:])
            break
        values.append(body[i:slash])
        patterns.append(body[i:slash])
        escaped = body[slash + 1]  # the regex guarantees a character follows
        decoded = _SOQL_ESCAPES.get(escaped)
        if decoded is None:
            raise LexError("escape", pos + 1 + slash, "\\" + escaped)
        values.append(decoded[0])
        patterns.append(decoded[1])
        i = slash + 2
    return Token(TokenKind.STRING, match.group(), pos, "".join(values), "".join(patterns))


def _suiteql_string(text: str, pos: int) -> Token:
    match = _SUITEQL_STRING.match(text, pos)
    if match is None:
        raise LexError("unterminated_string", pos, "'")
    body = match.group(1)
    _reject_controls(body, pos + 1)
    value = body.replace("''", "'")
    # Oracle LIKE has no escape character unless ESCAPE is given: a backslash is literal.
    return Token(TokenKind.STRING, match.group(), pos, value, value.replace("\\", "\\\\"))


def _reject_controls(body: str, offset: int) -> None:
    bad = _CONTROL.search(body)
    if bad is not None:
        raise LexError("control_in_string", offset + bad.start(), bad.group())


def _soql_date(literal: str, pos: int) -> Token:
    if len(literal) > 10:
        return _soql_datetime(literal, pos)
    match = _DATE.fullmatch(literal)
    try:
        if match is None:
            raise ValueError(literal)
        value = dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise LexError("date", pos, literal) from None
    return Token(TokenKind.DATE, literal, pos, value)


def _soql_datetime(literal: str, pos: int) -> Token:
    match = _DATETIME.fullmatch(literal)
    try:
        if match is None:
            raise ValueError(literal)
        year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
        micro = int((match[7] or "0").ljust(6, "0")[:6])
        if match[8]:
            zone = dt.UTC
        else:
            hours, minutes = int(match[10]), int(match[11])
            if minutes > 59:
                raise ValueError(literal)
            offset = dt.timedelta(hours=hours, minutes=minutes)
            zone = dt.timezone(-offset if match[9] == "-" else offset)
        value = dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError:
        raise LexError("datetime", pos, literal) from None
    return Token(TokenKind.DATETIME, literal, pos, value)
