"""The ``ACCORD_*`` variables of what Accord exposes and how much (`api.exposure.Exposure`):

ACCORD_MAX_TOKENS                    tokens in one document, default 5000
ACCORD_MAX_DEPTH                     nested fields in one operation, default 15
ACCORD_MAX_ALIASES                   aliased fields in one operation, default 30
ACCORD_MAX_COST                      an operation's cost, default 100000
ACCORD_COST_BUDGET                   cost one caller may spend per minute, default
                                     2000000; 0 turns budgets off
ACCORD_MAX_CONNECTIONS_PER_CALLER    WebSocket connections of one caller, default 10
ACCORD_MAX_SUBSCRIPTIONS_PER_CALLER  subscriptions of one caller, default 50
ACCORD_MAX_SUBSCRIPTIONS_PER_CONNECTION  operations at once on one WebSocket connection,
                                     default 20
ACCORD_INTROSPECTION                 on | authenticated | off (default: on on the
                                     sandbox, authenticated against real systems)
ACCORD_GRAPHIQL                      true|false: the GraphiQL page (default: true on
                                     the sandbox, false against real systems)
"""

from __future__ import annotations

from typing import Protocol

from api.callers import CallerLimits
from api.exposure import Exposure
from api.pipeline import Introspection, Limits
from api.subscriptions import SubscriptionLimits


class Reader(Protocol):
    problems: list[str]

    def text(self, name: str) -> str | None: ...

    def integer(self, name: str, default: int, *, low: int, high: int) -> int: ...

    def flag(self, name: str, *, default: bool) -> bool: ...


def read_exposure(read: Reader, *, real_systems: bool) -> Exposure:
    defaults = Exposure()
    limits = Limits(
        max_tokens=read.integer(
            "ACCORD_MAX_TOKENS", defaults.limits.max_tokens, low=100, high=100_000
        ),
        max_depth=read.integer("ACCORD_MAX_DEPTH", defaults.limits.max_depth, low=2, high=100),
        max_aliases=read.integer(
            "ACCORD_MAX_ALIASES", defaults.limits.max_aliases, low=0, high=1000
        ),
        max_cost=read.integer("ACCORD_MAX_COST", defaults.limits.max_cost, low=1, high=10**9),
        date_window_days=read.integer(
            "ACCORD_DATE_WINDOW_DAYS", defaults.limits.date_window_days, low=1, high=36_500
        ),
    )
    budget = read.integer("ACCORD_COST_BUDGET", defaults.budget_per_minute, low=0, high=10**12)
    if 0 < budget < limits.max_cost:
        read.problems.append(
            f"ACCORD_COST_BUDGET={budget} is below ACCORD_MAX_COST={limits.max_cost}: "
            "an operation the limit allows would never fit the budget"
        )
    callers = CallerLimits(
        max_connections=read.integer(
            "ACCORD_MAX_CONNECTIONS_PER_CALLER",
            defaults.callers.max_connections,
            low=1,
            high=10_000,
        ),
        max_subscriptions=read.integer(
            "ACCORD_MAX_SUBSCRIPTIONS_PER_CALLER",
            defaults.callers.max_subscriptions,
            low=1,
            high=100_000,
        ),
    )
    default_introspection = Introspection.AUTHENTICATED if real_systems else Introspection.ON
    raw = (read.text("ACCORD_INTROSPECTION") or default_introspection.value).lower()
    try:
        introspection = Introspection(raw)
    except ValueError:
        read.problems.append(f"ACCORD_INTROSPECTION={raw!r}: use on, authenticated or off")
        introspection = default_introspection
    return Exposure(
        limits=limits,
        budget_per_minute=budget,
        callers=callers,
        introspection=introspection,
        graphiql=read.flag("ACCORD_GRAPHIQL", default=not real_systems),
    )


def read_subscription_limits(read: Reader) -> SubscriptionLimits:
    defaults = SubscriptionLimits()
    return SubscriptionLimits(
        max_subscriptions=read.integer(
            "ACCORD_MAX_SUBSCRIPTIONS_PER_CONNECTION",
            defaults.max_subscriptions,
            low=1,
            high=10_000,
        )
    )
