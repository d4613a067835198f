"""Who may read what: a rule per data classification and role, next to the ownership registry
that classifies every canonical field.

`READ_RULES` is the table (docs/security.md prints it, `python -m schema --access`):

- ``ALLOW``: the value as the owner holds it;
- ``MASK``: text shows only its last four characters (a tax id ``•••••6789``); a value that is
  not text is withheld as under DENY;
- ``DENY``: null, with a FORBIDDEN_FIELD error at the field's path. A non-null field's null
  spreads to its parent, as GraphQL says.

The rule is applied where a field is resolved (`guard_fields` wraps the resolvers of the fields
some caller may not read), so it holds on every way in and after every cache: the read cache
keeps source records, never an answer shaped for one caller, and the answers kept for
persisted queries (`api.response_cache`) are keyed by the caller's row of `READ_RULES`, so
only callers who see the same fields share one.

Upstream query text (the systems' SQL-like queries), which a vendor's error message may
quote, is shown to the ops role only (`UPSTREAM_TEXT_READERS`); for everyone else
`redact_query_text` replaces it.
"""

from __future__ import annotations

import enum
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    default_field_resolver,
    get_named_type,
)

from domain.ownership import REGISTRY, Classification, Role
from schema.walk import object_fields


class Access(enum.Enum):
    ALLOW = "allow"
    MASK = "mask"
    DENY = "deny"


_A, _M, _D = Access.ALLOW, Access.MASK, Access.DENY
NO_ROLE = None  # an anonymous caller's

READ_RULES: dict[Classification, dict[Role | None, Access]] = {
    # Names, industries, websites, canonical ids: anyone Accord serves.
    Classification.PUBLIC: {
        NO_ROLE: _A, Role.SALES: _A, Role.FINANCE: _A, Role.OPS: _A, Role.ANALYTICS: _A
    },
    # Statuses, numbers, dates, cross-references: for use inside the company.
    Classification.INTERNAL: {
        NO_ROLE: _A, Role.SALES: _A, Role.FINANCE: _A, Role.OPS: _A, Role.ANALYTICS: _A
    },
    # Money, credit, tax ids: the roles that act on them; analytics sees masked text only.
    Classification.CONFIDENTIAL: {
        NO_ROLE: _D, Role.SALES: _A, Role.FINANCE: _A, Role.OPS: _A, Role.ANALYTICS: _M
    },
    # Phone numbers, addresses: the roles that contact or correct customers.
    Classification.PII: {
        NO_ROLE: _D, Role.SALES: _A, Role.FINANCE: _A, Role.OPS: _A, Role.ANALYTICS: _D
    },
}  # fmt: skip

# Fields outside the registry that carry classified data.
EXTRA_CLASSIFICATIONS: dict[str, Classification] = {
    # An event's raw data repeats amounts and statuses of the object it is about.
    "EventInfo.data": Classification.CONFIDENTIAL,
}

UPSTREAM_TEXT_READERS = frozenset({Role.OPS})

# Text fields that may quote an upstream system's message (and so its query text): a
# workflow step's error, and the message of every business error, failure and problem.
QUOTING_TYPES = ("Error", "Failure", "Problem")


def quotes_upstream(path: str) -> bool:
    type_name, _, field_name = path.partition(".")
    return path == "WorkflowStep.error" or (
        field_name == "message" and type_name.endswith(QUOTING_TYPES)
    )


def rule(classification: Classification, role: Role | None) -> Access:
    return READ_RULES[classification][role]


def classification_of(path: str) -> Classification | None:
    if path in REGISTRY:
        return REGISTRY[path].classification
    return EXTRA_CLASSIFICATIONS.get(path)


def mask(value: str) -> str:
    """All but the last four characters hidden (all of a value of four or fewer)."""
    shown = value[-4:] if len(value) > 4 else ""
    return "•" * max(len(value) - len(shown), 4) + shown


_QUERY = re.compile(r"\bSELECT\b.*?\bFROM\b[^\n]*", re.IGNORECASE | re.DOTALL)
_CARET = re.compile(r"\n[ \t]*\^[ \t]*(?=\n|$)")
WITHHELD = "[query text withheld]"


def redact_query_text(text: str) -> str:
    """``text`` without the query statements (and Salesforce's caret line under them) that a
    vendor's error message quotes."""
    if "select" not in text.lower():
        return text
    return _CARET.sub("", _QUERY.sub(WITHHELD, text))


def may_read_upstream_text(role: Role | None) -> bool:
    return role in UPSTREAM_TEXT_READERS


class ForbiddenField(GraphQLError):
    def __init__(self, path: str, classification: Classification, role: Role | None) -> None:
        who = f"the {role.value} role" if role else "an anonymous caller"
        super().__init__(
            f"{who} may not read {path} ({classification.value} data)",
            extensions={"code": "FORBIDDEN_FIELD", "classification": classification.name},
        )


Resolver = Callable[..., Any]


def _caller_role(info: GraphQLResolveInfo[Any]) -> Role | None:
    caller = getattr(info.context, "caller", None)
    return getattr(caller, "role", None)


def _guard(path: str, classification: Classification, text: bool, resolve: Resolver) -> Resolver:
    def guarded(source: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        role = _caller_role(info)
        access = READ_RULES[classification][role]
        if access is Access.ALLOW:
            return resolve(source, info, **kwargs)
        if access is Access.MASK and text:
            return _then(resolve(source, info, **kwargs), _mask_text)
        raise ForbiddenField(path, classification, role)

    return guarded


def _redacting(resolve: Resolver) -> Resolver:
    def redacting(source: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        value = resolve(source, info, **kwargs)
        if may_read_upstream_text(_caller_role(info)):
            return value
        return _then(value, _redact_text)

    return redacting


def _mask_text(value: Any) -> Any:
    return mask(value) if isinstance(value, str) else value


def _redact_text(value: Any) -> Any:
    return redact_query_text(value) if isinstance(value, str) else value


def _then(value: Any, change: Callable[[Any], Any]) -> Any:
    if inspect.isawaitable(value):

        async def changed() -> Any:
            return change(await value)

        return changed()
    return change(value)


def guard_fields(
    schema: GraphQLSchema,
    rules: Mapping[Classification, Mapping[Role | None, Access]] = READ_RULES,
) -> list[str]:
    """Wrap the resolvers of ``schema``'s fields that some caller may not read as they are,
    and of the fields that may quote upstream text; the paths of the fields guarded."""
    guarded = []
    for graphql_type, name, graphql_field in object_fields(schema):
        path = f"{graphql_type.name}.{name}"
        resolve = graphql_field.resolve or default_field_resolver
        classification = classification_of(path)
        if classification is not None and any(
            access is not Access.ALLOW for access in rules[classification].values()
        ):
            text = getattr(get_named_type(graphql_field.type), "name", "") == "String"
            graphql_field.resolve = _guard(path, classification, text, resolve)
            guarded.append(path)
        elif quotes_upstream(path):
            graphql_field.resolve = _redacting(resolve)
            guarded.append(path)
    return guarded
