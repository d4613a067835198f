"""What every mutation shares: the services it uses, role checks, typed problems, and the
idempotent runner that stores the first result and replays it.

A mutation's logic returns a `Outcome`: plain JSON (ids, snapshots, problems) that the schema
turns into its payload. The runner stores that JSON under the mutation's name and the
client's idempotency key for 24 hours: a retry with the same key and input gets the same
outcome without running again (and concurrent duplicates wait for the one run); the same key
with a different input is refused.

A key names one request of one caller: the caller is part of the request's fingerprint, and
the key that the mutation's upstream writes carry (`upstream_key`) is derived from the
mutation's name, the client's key and that fingerprint. So the same client key on two
mutations, or on two different requests after the first was abandoned or forgotten, never
makes NetSuite take a new write for a repeat of an old one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, cast

from graphql import GraphQLError

from domain.audit import AuditEntry, plain
from domain.caller import Caller
from domain.ids import CustomerRef
from domain.ownership import OPERATIONS
from mutations.change_feed import ChangeFeed
from mutations.errors import ErrorCode, Problem, code_of
from mutations.policies import Violation
from mutations.results import R, result_from_json, result_to_json
from mutations.workflow import WorkflowEngine, WorkflowStore
from sources.clock import utc_today
from sources.errors import SourceError
from sources.outage import OutageLog
from sources.ports import CrmPort, ErpPort
from sources.records import ErpCustomer
from state.audit import AuditTrail
from state.backend import StateBackend
from state.errors import StateError
from state.idempotency import (
    IdempotencyStore,
    IdempotencyTimeout,
    Mismatch,
    Started,
    Stored,
    fingerprint,
)

logger = logging.getLogger("accord.mutations")

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class WritePorts:
    """What writes go through: the systems, shared state, the audit trail, the clock and the
    change feed. A workflow's steps get these; they cannot start workflows themselves."""

    crm: CrmPort
    erp: ErpPort
    backend: StateBackend
    audit: AuditTrail
    idempotency: IdempotencyStore
    workflows: WorkflowStore
    today: Callable[[], dt.date] = utc_today
    changes: ChangeFeed | None = None  # where writes report their records (the normaliser)


@dataclass(frozen=True)
class WriteServices(WritePorts):
    """Everything a mutation needs, built once by the composition root: the ports, and the
    workflow engine that runs the multi-step writes (built on those same ports)."""

    engine: WorkflowEngine | None = None

    @classmethod
    def of(cls, ports: WritePorts, engine: WorkflowEngine | None) -> WriteServices:
        return cls(
            **{f.name: getattr(ports, f.name) for f in dataclasses.fields(WritePorts)},
            engine=engine,
        )


@dataclass
class Outcome(Generic[R]):
    """What a mutation did: the typed result its payload shows (`mutations.results`; None when
    it refused), and its problems."""

    result: R | None = None
    problems: list[Problem] = field(default_factory=list)
    transient: bool = False  # an upstream failure: not stored, so a retry runs again

    def to_json(self) -> dict[str, Any]:
        return {
            "result": result_to_json(self.result),
            "problems": [plain(problem) for problem in self.problems],
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Outcome[Any]:
        return Outcome(
            result_from_json(value.get("result")),
            [Problem(code_of(p["code"]), p["message"], p.get("field")) for p in value["problems"]],
        )


def refused(*problems: Problem) -> Outcome[Any]:
    return Outcome(problems=list(problems))


class AccessDenied(GraphQLError):
    """A top-level error: the caller is not allowed to run the operation at all."""

    def __init__(self, operation: str, caller: Caller) -> None:
        if caller.anonymous:
            super().__init__(
                f"{operation} needs an API key: send Authorization: Bearer <key>",
                extensions={"code": "UNAUTHENTICATED"},
            )
        else:
            roles = ", ".join(sorted(role.value for role in OPERATIONS[operation]))
            super().__init__(
                f"the {caller.role.value if caller.role else ''} role may not {operation} "
                f"(allowed: {roles})",
                extensions={"code": "FORBIDDEN"},
            )


def authorize(operation: str, caller: Caller) -> None:
    if caller.role is None or caller.role not in OPERATIONS[operation]:
        raise AccessDenied(operation, caller)


def canonical(value: Any) -> Any:
    """The JSON form of a request for its fingerprint: as `plain`, except that a decimal is
    written exactly and compactly, the same for every spelling of one number ("1500",
    "1500.00" and "1.5E+3" are one amount)."""
    if isinstance(value, Decimal):
        return _decimal_key(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    return plain(value)


def _decimal_key(value: Decimal) -> str:
    """``<sign><digits>E<exponent>`` without trailing zeros: exact, and short however large
    the exponent (never the number written out in full)."""
    if not value.is_finite():
        return str(value)
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    significant = list(digits)
    while len(significant) > 1 and significant[-1] == 0:
        significant.pop()
        exponent += 1
    if significant == [0]:
        return "0"
    return f"{'-' if sign else ''}{''.join(map(str, significant))}E{exponent}"


def request_fingerprint(caller: Caller, payload: Mapping[str, Any]) -> str:
    """What makes two calls the same request: the caller and the canonical input."""
    return fingerprint({"caller": caller.name, "input": canonical(payload)})


def upstream_key(operation: str, key: str, request: str) -> str:
    """The idempotency key of a mutation's upstream writes: the mutation, the client's key and
    the request's fingerprint, so that no other request ever shares it."""
    return f"{operation}:{key}:{request[:32]}"


async def idempotent(
    services: WritePorts,
    operation: str,
    caller: Caller,
    key: str,
    payload: Mapping[str, Any],
    run: Callable[[str], Awaitable[Outcome[R]]],
) -> Outcome[R]:
    """Run ``run`` once per (operation, key); replay its outcome for a repeat of the same
    request. ``run`` gets the `upstream_key` its upstream writes carry."""
    if not key or not key.strip() or len(key) > MAX_KEY_LENGTH:
        return refused(
            Problem(
                ErrorCode.INVALID_IDEMPOTENCY_KEY,
                f"idempotencyKey must have 1 to {MAX_KEY_LENGTH} characters",
                "idempotencyKey",
            )
        )
    request = request_fingerprint(caller, payload)
    try:
        claim = await services.idempotency.begin(operation, key, request)
    except IdempotencyTimeout:
        # The first request with this key is still running (a slow upstream): this duplicate
        # is told to come back, and its answer is not kept.
        return Outcome(
            problems=[
                Problem(
                    ErrorCode.SOURCE_TIMEOUT,
                    f"the first request with this idempotencyKey is still running after "
                    f"{services.idempotency.wait:g} s; send it again later for its answer",
                    "idempotencyKey",
                )
            ],
            transient=True,
        )
    if isinstance(claim, Stored):
        await audit_write(
            services,
            caller,
            action=operation,
            outcome="replayed",
            idempotency_key=key,
        )
        return cast(Outcome[R], Outcome.from_json(claim.result))
    if isinstance(claim, Mismatch):
        return refused(
            Problem(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                "this idempotencyKey was used for a different request; use a new key",
                "idempotencyKey",
            )
        )
    assert isinstance(claim, Started)
    heartbeat = asyncio.create_task(_keep_claim(services.idempotency, operation, key, claim.token))
    try:
        outcome = await run(upstream_key(operation, key, request))
    except BaseException:
        await services.idempotency.abandon(operation, key, claim.token)
        raise
    finally:
        heartbeat.cancel()
    stored = outcome.to_json()
    if outcome.transient:
        await services.idempotency.abandon(operation, key, claim.token)
        upstream = [p for p in outcome.problems if p.code.startswith("SOURCE_")]
        if upstream:  # the trail tells a write that failed upstream, not only those that did not
            await audit_write(
                services,
                caller,
                action=operation,
                outcome="failed",
                idempotency_key=key,
                message="; ".join(f"{p.code}: {p.message}" for p in upstream),
            )
    else:
        await services.idempotency.complete(operation, key, claim.token, stored)
    # Answer from the stored form, so the first answer and every replay are the same.
    return cast(Outcome[R], Outcome.from_json(stored))


async def _keep_claim(store: IdempotencyStore, operation: str, key: str, token: str) -> None:
    """Extend a running claim while this process works on it: if the process dies, the claim
    lapses within `running_ttl` and a retry elsewhere takes the key over. A beat the state
    backend misses is tried again at the next one."""
    outage = OutageLog(logger, f"the claim on {operation} {key!r}: the state backend")
    while True:
        try:
            if not await store.extend(operation, key, token):
                return
        except StateError as exc:
            outage.failed(exc)
        else:
            outage.succeeded()
        await asyncio.sleep(store.running_ttl / 3)


async def audit_write(services: WritePorts, caller: Caller, **entry: Any) -> None:
    """Record one entry of ``caller``'s in the audit trail; ``entry`` holds the rest of the
    `AuditEntry` (its ``action`` first of all)."""
    await services.audit.record(
        AuditEntry(actor=caller.name, role=caller.role.value if caller.role else None, **entry)
    )


def upstream_problem(error: SourceError, field: str | None = None) -> Problem:
    """A payload problem for an upstream failure (the write did not happen)."""
    return Problem(code_of(error.code), f"{error.source}: {error.message}", field)


def problem_of(violation: Violation) -> Problem:
    return Problem(violation.code, violation.message, violation.field)


def problems_of(violations: Sequence[Violation]) -> list[Problem]:
    return [problem_of(violation) for violation in violations]


async def erp_customer_of(services: WritePorts, ref: CustomerRef) -> ErpCustomer | None:
    """The ERP customer a canonical reference points at (through the CRM for an account id)."""
    if ref.erp_id:
        return (await services.erp.customers_by_ids([ref.erp_id])).get(ref.erp_id)
    key = ref.key
    if key is None and ref.salesforce_id:
        account = (await services.crm.accounts_by_ids([ref.salesforce_id])).get(ref.salesforce_id)
        key = account.erp_key if account else None
    if key is None:
        return None
    return await erp_customer_by_key(services, key)


async def erp_customer_by_key(services: WritePorts, key: str) -> ErpCustomer | None:
    """The ERP customer with cross-reference key ``key``, if any."""
    return (await services.erp.customers_by_keys([key])).get(key)
