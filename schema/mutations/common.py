"""What every mutation of the schema shares: its error types, its customer in the payload,
the services it runs on, and the parsing of the ids it is given.

A mutation's error-code enum is made from the codes its logic declares (``CODES`` in its
module under ``mutations/``), with the descriptions of `mutations.errors.DESCRIPTIONS`; a
problem whose code the mutation did not declare is a bug and fails loudly (`errors_of`),
never turned into some other code.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import strawberry

from domain import ids
from mutations.common import WriteServices
from mutations.errors import DESCRIPTIONS, ErrorCode, Problem
from mutations.results import CustomerResult
from resolvers import lookahead
from resolvers.customers import load_customer
from resolvers.errors import BadInputError
from schema.enums import describe_values
from schema.types import Customer, Info


class UndeclaredCode(RuntimeError):
    """A mutation answered with a code it does not declare: a bug in Accord."""


def error_types(name: str, declared: Sequence[ErrorCode]) -> tuple[Any, Any]:
    """The GraphQL error-code enum ``<name>ErrorCode`` and error type ``<name>Error`` of one
    mutation, from the codes it declares."""
    members = enum.Enum(  # type: ignore[misc]
        f"{name}ErrorCode", [(code.name, code.value) for code in declared]
    )
    code_enum = strawberry.enum(members, description=f"Why {_lower(name)} refused or failed.")
    describe_values(code_enum, {code.name: DESCRIPTIONS[code] for code in declared})

    @strawberry.type(name=f"{name}Error", description=f"A business error of {_lower(name)}.")
    class MutationError:
        field: str | None = strawberry.field(description="The input field at fault, if one is.")
        message: str = strawberry.field(description="What went wrong, in words.")
        code: Any = strawberry.field(graphql_type=code_enum, description="What went wrong.")

    return code_enum, MutationError


def _lower(name: str) -> str:
    return name[:1].lower() + name[1:]


def errors_of(error_type: Any, code_enum: Any, problems: Sequence[Problem]) -> list[Any]:
    """The payload's errors; a code the mutation does not declare raises `UndeclaredCode`."""
    found = []
    for problem in problems:
        member = code_enum.__members__.get(problem.code.name)
        if member is None:
            raise UndeclaredCode(f"{error_type.__name__} has no code {problem.code}")
        found.append(error_type(field=problem.field, message=problem.message, code=member))
    return found


def services_of(info: Info) -> WriteServices:
    services = info.context.services
    if services is None:
        raise RuntimeError("the write path is not configured")
    return services


async def customer_of(info: Info, result: CustomerResult | None) -> Customer | None:
    """The customer a write changed, loaded with the fields the payload selected."""
    ref = result.ref if result is not None else None
    if ref is None:
        return None
    loaded = await load_customer(info.context, ref, lookahead.selected(info))
    return Customer(data=loaded)


def customer_ref(value: str, argument: str) -> ids.CustomerRef:
    try:
        return ids.parse_customer_id(value)
    except ids.InvalidId as exc:
        raise BadInputError(str(exc), argument=argument) from None
