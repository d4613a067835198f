"""Limits, budgets, introspection and GraphiQL from ACCORD_* variables, each mistake named."""

from __future__ import annotations

import pytest

from api.pipeline import Introspection
from config.settings import SettingsError, load_settings
from tests.config.test_settings import PRODUCTION


def test_the_sandbox_shows_its_schema_and_real_systems_keep_it_for_callers_they_know() -> None:
    sandbox = load_settings({}).exposure
    production = load_settings(PRODUCTION).exposure

    assert (sandbox.introspection, sandbox.graphiql) == (Introspection.ON, True)
    assert (production.introspection, production.graphiql) == (Introspection.AUTHENTICATED, False)
    assert production.limits.max_cost == 100_000
    assert production.budget_per_minute == 2_000_000


def test_every_limit_is_read() -> None:
    exposure = load_settings(
        {
            "ACCORD_MAX_TOKENS": "2000",
            "ACCORD_MAX_DEPTH": "8",
            "ACCORD_MAX_ALIASES": "5",
            "ACCORD_MAX_COST": "5000",
            "ACCORD_COST_BUDGET": "0",
            "ACCORD_MAX_CONNECTIONS_PER_CALLER": "3",
            "ACCORD_MAX_SUBSCRIPTIONS_PER_CALLER": "7",
            "ACCORD_INTROSPECTION": "OFF",
            "ACCORD_GRAPHIQL": "false",
        }
    ).exposure

    assert (exposure.limits.max_tokens, exposure.limits.max_depth) == (2000, 8)
    assert (exposure.limits.max_aliases, exposure.limits.max_cost) == (5, 5000)
    assert exposure.budget_per_minute == 0
    assert (exposure.callers.max_connections, exposure.callers.max_subscriptions) == (3, 7)
    assert (exposure.introspection, exposure.graphiql) == (Introspection.OFF, False)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"ACCORD_MAX_COST": "lots"}, "ACCORD_MAX_COST='lots' is not a whole number"),
        ({"ACCORD_MAX_DEPTH": "1"}, "ACCORD_MAX_DEPTH=1 must be between 2 and 100"),
        (
            {"ACCORD_INTROSPECTION": "maybe"},
            "ACCORD_INTROSPECTION='maybe': use on, authenticated or off",
        ),
        ({"ACCORD_GRAPHIQL": "sometimes"}, "ACCORD_GRAPHIQL='sometimes': use true or false"),
        (
            {"ACCORD_MAX_COST": "5000", "ACCORD_COST_BUDGET": "4000"},
            "ACCORD_COST_BUDGET=4000 is below ACCORD_MAX_COST=5000",
        ),
    ],
)
def test_a_mistake_is_named_at_start(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({**PRODUCTION, **env})

    assert fragment in str(refused.value)


def test_operations_per_websocket_connection_are_read_and_reach_the_server() -> None:
    from server import options_from

    default = load_settings({})
    settings = load_settings({"ACCORD_MAX_SUBSCRIPTIONS_PER_CONNECTION": "100"})

    assert default.subscriptions.max_subscriptions == 20
    assert settings.subscriptions.max_subscriptions == 100
    assert options_from(settings).subscriptions.max_subscriptions == 100
    with pytest.raises(SettingsError, match="ACCORD_MAX_SUBSCRIPTIONS_PER_CONNECTION"):
        load_settings({"ACCORD_MAX_SUBSCRIPTIONS_PER_CONNECTION": "0"})
