"""The write path on Redis: replicas share idempotency records and workflows, and a replica
killed in the middle of a workflow has it finished by another, exactly once."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.auth import DEMO_KEYS, ApiKeyAuthenticator
from bench.harness import AccordProcess
from mutations.book_order import booking_workflow_id
from mutations.workflow import EngineSettings
from sandbox.endpoints import Endpoints
from server import AppOptions
from tests.accord import AccordServer, Emulators
from tests.conftest import SandboxControl
from tests.mutations.conftest import BOOK, Deals, erp_orders_for, key
from tests.redis_keys import unique_prefix
from tests.workers import WorkersAccord


@pytest.fixture(params=["servers", "workers"])
def replicas(
    request: pytest.FixtureRequest, sandbox: Endpoints, redis_url: str
) -> Iterator[tuple[AccordServer | WorkersAccord, AccordServer | WorkersAccord]]:
    """Two Accord servers sharing one Redis (under a key prefix of this test's own), or one
    ``server.py --workers 2`` whose two workers are the replicas behind one port."""
    if request.param == "workers":
        with WorkersAccord(sandbox, redis_url, unique_prefix()) as workers:
            yield workers, workers
        return
    options = AppOptions(
        redis_url=redis_url,
        state_prefix=unique_prefix(),
        api_keys=DEMO_KEYS,
        engine=EngineSettings(step_backoff=0.01, step_backoff_max=0.02, retry_for=0.0),
    )
    with (
        AccordServer(sandbox, options=options) as one,
        AccordServer(sandbox, options=options) as two,
    ):
        yield one, two


def test_duplicates_across_replicas_make_one_order_and_equal_answers(
    replicas: tuple[AccordServer | WorkersAccord, AccordServer | WorkersAccord],
    deals: Deals,
    emulators: Emulators,
) -> None:
    one, two = replicas
    deal = deals.on_existing_customer()
    idem = key()
    variables = {"input": {"idempotencyKey": idem, "opportunityId": deal.opportunity_id}}

    def send(index: int) -> dict[str, Any]:
        server = one if index % 2 else two
        body = server.graphql(BOOK, variables, key="demo-sales")
        payload: dict[str, Any] = body["data"]["bookOrder"]
        return payload

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, range(20)))

    assert len({json.dumps(a, sort_keys=True) for a in answers}) == 1
    assert answers[0]["workflow"]["status"] == "COMPLETED"
    assert len(erp_orders_for(emulators, deal.opportunity_id)) == 1
    # the workflow is shared state: the other replica reads it
    seen = one.graphql(
        "query($id: ID!) { workflow(id: $id) { status order { number } } }",
        {"id": answers[0]["workflow"]["id"]},
        key="demo-ops",
    )["data"]["workflow"]
    assert seen["status"] == "COMPLETED"


def test_a_replica_killed_mid_workflow_is_finished_by_the_next_exactly_once(
    sandbox: Endpoints,
    redis_url: str,
    deals: Deals,
    emulators: Emulators,
    ns_control: SandboxControl,
    tmp_path: Path,
) -> None:
    endpoints_file = tmp_path / "sandbox.json"
    sandbox.write(endpoints_file)
    env = {
        "ACCORD_REDIS_URL": redis_url,
        "ACCORD_REDIS_PREFIX": unique_prefix(),
        "ACCORD_WORKFLOW_LEASE_SECONDS": "1",
        "ACCORD_WORKFLOW_RECOVERY_SECONDS": "0.2",
    }
    deal = deals.on_existing_customer()
    idem = key()
    sales = ApiKeyAuthenticator(DEMO_KEYS).caller_for_key("demo-sales")
    workflow_id = booking_workflow_id(sales, idem, deal.opportunity_id)
    query = "query($id: ID!) { workflow(id: $id) { status steps { name status } } }"

    # given a replica posting a sales order that the ERP is slow to accept
    ns_control.fault(pattern="/services/rest/record/v1/salesOrder", latency_ms=3000)
    first = AccordProcess(endpoints_file, env).__enter__()
    pending = concurrent.futures.ThreadPoolExecutor(1).submit(
        httpx.post,
        f"{first.url}/graphql",
        timeout=30,
        json={
            "query": BOOK,
            "variables": {"input": {"idempotencyKey": idem, "opportunityId": deal.opportunity_id}},
        },
        headers={"Authorization": "Bearer demo-sales"},
    )
    deadline = time.monotonic() + 20
    while True:
        answer = httpx.post(
            f"{first.url}/graphql",
            json={"query": query, "variables": {"id": workflow_id}},
            headers={"Authorization": "Bearer demo-ops"},
            timeout=10,
        ).json()
        workflow = answer["data"]["workflow"]
        steps = {s["name"]: s["status"] for s in workflow["steps"]} if workflow else {}
        if steps.get("create_sales_order") == "RUNNING":
            break
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)

    # when it is killed in the middle of that step
    assert first.process is not None
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(10)
    first.__exit__(None, None, None)  # nothing left to stop: this removes its log directory
    with pytest.raises(httpx.HTTPError):
        pending.result(timeout=10)
    ns_control.fault(clear=True)

    # then another replica on the same Redis resumes it at that step and completes it
    with AccordProcess(endpoints_file, env) as second:
        deadline = time.monotonic() + 30
        while True:
            workflow = httpx.post(
                f"{second.url}/graphql",
                json={"query": query, "variables": {"id": workflow_id}},
                headers={"Authorization": "Bearer demo-ops"},
                timeout=10,
            ).json()["data"]["workflow"]
            if workflow["status"] == "COMPLETED":
                break
            assert time.monotonic() < deadline, (workflow, second.log.read_text()[-2000:])
            time.sleep(0.1)
        # and a client retrying with its key gets the completed booking
        retried = httpx.post(
            f"{second.url}/graphql",
            timeout=60,
            json={
                "query": BOOK,
                "variables": {
                    "input": {"idempotencyKey": idem, "opportunityId": deal.opportunity_id}
                },
            },
            headers={"Authorization": "Bearer demo-sales"},
        ).json()["data"]["bookOrder"]
    assert retried["workflow"]["status"] == "COMPLETED"
    orders = erp_orders_for(emulators, deal.opportunity_id)
    assert len(orders) == 1
    assert (
        emulators.sf_get("Opportunity", deal.opportunity_id)["ERP_Order_Id__c"]
        == orders[0]["tranid"]
    )
