"""Checks on what a request carries as input, before anything runs: the strings written in the
document and the variables' values.

- Free text refuses control characters (other than tab, line feed and carriage return) and
  the Unicode bidirectional controls (embeddings, overrides, isolates and marks), which can
  make a value read differently from what it is (in an audit trail, a memo, a name). Every
  string input is free text to this rule: ids, filters, memos, reasons.
- Variables are a JSON object nested at most `MAX_VARIABLE_DEPTH` levels and holding at most
  `MAX_VARIABLE_VALUES` values; nothing in the schema takes more, and a larger value is
  refused before graphql-core walks it.

Each problem is a `GraphQLError` with code BAD_USER_INPUT naming where it is, so that every
transport reports it the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, Node, StringValueNode

MAX_VARIABLE_DEPTH = 16
MAX_VARIABLE_VALUES = 5_000  # values in all variables together; keeps the walk to a few ms

# C0 and C1 controls but tab, line feed and carriage return; DEL; the bidi controls
# (ALM, LRM, RLM, LRE..RLO, LRI..PDI).
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable free text, or None."""
    found = _FORBIDDEN.search(value)
    if found is None:
        return None
    return f"contains the control character U+{ord(found.group()):04X}"


def _bad_input(message: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", **extensions})


def _literal_strings(node: Node) -> Iterator[StringValueNode]:
    """Every string literal in ``node``, without recursion."""
    stack: list[Any] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, StringValueNode):
            yield current
        elif isinstance(current, Node):
            for key in current.keys:
                if key != "loc":
                    stack.append(getattr(current, key, None))
        elif isinstance(current, tuple | list):
            stack.extend(current)


def document_problems(document: DocumentNode) -> list[GraphQLError]:
    """The string literals of ``document`` that are not acceptable free text."""
    errors = []
    for literal in _literal_strings(document):
        problem = text_problem(literal.value)
        if problem is not None:
            errors.append(
                GraphQLError(
                    f"a string argument {problem}",
                    nodes=[literal],
                    extensions={"code": "BAD_USER_INPUT"},
                )
            )
    return errors


def variables_problem(variables: Any) -> GraphQLError | None:
    """The first problem of a request's ``variables`` (a JSON object, or None), or None."""
    if variables is None:
        return None
    if not isinstance(variables, dict):
        return _bad_input("variables must be a JSON object")
    stack: list[tuple[str, Any, int]] = [(name, value, 1) for name, value in variables.items()]
    seen = 0
    while stack:
        path, value, depth = stack.pop()
        seen += 1
        if seen > MAX_VARIABLE_VALUES:
            return _bad_input(f"variables hold more than {MAX_VARIABLE_VALUES} values")
        if depth > MAX_VARIABLE_DEPTH:
            return _bad_input(
                f"variables are nested more than {MAX_VARIABLE_DEPTH} levels deep", variable=path
            )
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                return _bad_input(f"the variable {path} {problem}", variable=path)
        elif isinstance(value, dict):
            stack.extend((f"{path}.{key}", item, depth + 1) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}.{index}", item, depth + 1) for index, item in enumerate(value))
    return None
