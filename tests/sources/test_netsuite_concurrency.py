"""NetSuite's account concurrency limit holds for all replicas together.

Two replicas that may each have 10 requests in flight to NetSuite could have 20 together,
over the sandbox account's limit of 15, and NetSuite would refuse the extra ones with 429.
Sharing the account's budget through Redis keeps them under it.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

from api.auth import DEMO_KEYS
from sandbox.endpoints import Endpoints
from sandbox.world import World
from server import AppOptions, EventOptions
from tests.accord import FAST_POLICY, AccordServer
from tests.conftest import SandboxControl
from tests.redis_keys import unique_prefix

QUERY = "query($id: ID!) { customer(salesforceId: $id) { credit { balance { amount } } } }"


@contextmanager
def replicas(sandbox: Endpoints, redis_url: str, budget: int) -> Iterator[list[AccordServer]]:
    """Two replicas on one Redis, no read cache, with a NetSuite budget of ``budget``."""
    options = AppOptions(
        api_keys=DEMO_KEYS,
        redis_url=redis_url,
        state_prefix=unique_prefix(),
        netsuite_concurrency=budget,
        events=EventOptions(enabled=False),
    )
    with ExitStack() as stack:
        yield [
            stack.enter_context(AccordServer(sandbox, FAST_POLICY, options, cache=False))
            for _ in range(2)
        ]


def peak_and_refused(
    servers: list[AccordServer], world: World, ns_control: SandboxControl
) -> tuple[int, int, int]:
    """Sixty credit reads at once through both replicas while each NetSuite query takes
    0.3 s; the most requests NetSuite had in flight, how many it refused, and how many
    answers carried an error."""
    accounts = [c.sf_account_id for c in world.customers if c.sf_account_id and c.key and c.ns_id][
        :60
    ]
    ns_control.reset()
    ns_control.fault(pattern="/services/rest/query/v1/suiteql*", latency_ms=300)
    with ThreadPoolExecutor(60) as pool:
        answers = list(
            pool.map(
                lambda n: servers[n % 2].graphql(QUERY, {"id": accounts[n]}), range(len(accounts))
            )
        )
    seen = ns_control.stats()["concurrency"]
    return int(seen["peak"]), int(seen["rejected"]), sum("errors" in a for a in answers)


def test_two_replicas_sharing_the_budget_stay_within_the_accounts_limit(
    sandbox: Endpoints, redis_url: str, world: World, ns_control: SandboxControl
) -> None:
    with replicas(sandbox, redis_url, budget=15) as servers:
        peak, refused, failed = peak_and_refused(servers, world, ns_control)
    assert (refused, failed) == (0, 0)
    assert 10 < peak <= 15  # more than one replica could have alone, never over the limit


def test_without_a_shared_budget_the_same_load_exceeds_the_limit(
    sandbox: Endpoints, redis_url: str, world: World, ns_control: SandboxControl
) -> None:
    # the budget set higher than the account's limit: each replica is held by its own 10
    # connections only, 20 together
    with replicas(sandbox, redis_url, budget=100) as servers:
        _, refused, _ = peak_and_refused(servers, world, ns_control)
    assert refused > 0
