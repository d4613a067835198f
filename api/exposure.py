"""What Accord exposes, and how much of it, on every way in: the limits of the request
pipeline, each caller's cost budget and connection slots, introspection and GraphiQL.

The defaults suit production; `config.settings` reads each from its ``ACCORD_*`` variable
(docs/security.md lists them all).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import strawberry

from api.budget import CostBudget
from api.callers import CallerLimits
from api.persisted import PersistedQueries
from api.pipeline import Introspection, Limits, Pipeline
from api.response_cache import ResponseCache
from api.telemetry import ObservedPipeline
from state.backend import StateBackend


@dataclass(frozen=True)
class Exposure:
    limits: Limits = field(default_factory=Limits)
    budget_per_minute: int = 2_000_000  # cost one caller may spend in a minute; 0: no budget
    callers: CallerLimits = field(default_factory=CallerLimits)
    introspection: Introspection = Introspection.ON
    graphiql: bool = True


def build_pipeline(
    schema: strawberry.Schema,
    exposure: Exposure,
    persisted: PersistedQueries,
    backend: StateBackend,
    responses: ResponseCache | None = None,
) -> Pipeline:
    """The request pipeline of a strawberry ``schema``, with ``exposure``'s limits; budgets
    are kept in ``backend`` (Redis when configured); answers to persisted queries in
    ``responses`` when given."""
    return ObservedPipeline(
        schema._schema,
        limits=exposure.limits,
        persisted=persisted,
        budget=CostBudget(backend, exposure.budget_per_minute),
        introspection=exposure.introspection,
        executor_class=schema.execution_context_class,
        responses=responses,
    )
