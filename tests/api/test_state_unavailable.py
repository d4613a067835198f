"""Readiness, webhooks and GraphQL when the state backend (Redis) is down or too slow.

A replica without its state backend says so: /readyz answers 503 naming it, a webhook is
answered 503 with Retry-After (the sender retries), a request that needs state gets the typed
STATE_UNAVAILABLE error; when Redis answers again, all of it recovers without a restart.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.auth import DEMO_KEYS
from events.signing import SIGNATURE_HEADER, signature_header
from sandbox.endpoints import Endpoints
from server import AppOptions, EventOptions
from tests.accord import FAST_POLICY, AccordServer
from tests.redis_keys import unique_prefix
from tests.redis_server import RedisServer

SECRET = "state-outage-test-secret-0123456789"
WORKFLOWS = "{ workflows(first: 1) { nodes { id } } }"


@pytest.fixture
def replica(sandbox: Endpoints, own_redis: RedisServer) -> Iterator[AccordServer]:
    options = AppOptions(
        api_keys=DEMO_KEYS,
        redis_url=own_redis.url,
        state_prefix=unique_prefix(),
        redis_timeout=0.3,
        events=EventOptions(erp_secrets=(SECRET,), propagate=False),
    )
    with AccordServer(sandbox, FAST_POLICY, options) as server:
        yield server


def webhook(server: AccordServer, erp_customer_id: str) -> httpx.Response:
    """A signed NetSuite notification that a customer changed."""
    body = json.dumps(
        {
            "id": str(uuid.uuid4()),
            "recordType": "customer",
            "recordId": erp_customer_id,
            "eventType": "edit",
            "lastModified": "2026-01-05T10:11:12Z",
        }
    ).encode()
    headers = {SIGNATURE_HEADER: signature_header(SECRET, body), "content-type": "application/json"}
    with server.client() as client:
        return client.post("/events/netsuite", content=body, headers=headers)


def ready(server: AccordServer) -> tuple[int, dict[str, Any]]:
    with server.client() as client:
        response = client.get("/readyz")
    return response.status_code, response.json()


def test_a_replica_without_redis_says_so_everywhere_and_recovers_without_a_restart(
    replica: AccordServer, own_redis: RedisServer
) -> None:
    # given a replica that is ready, with its state in Redis
    status, body = ready(replica)
    assert (status, body["state"]["ready"]) == (200, True)
    assert webhook(replica, "1001").status_code == 202

    # when Redis goes away
    own_redis.stop()

    # then /readyz says the replica is not ready because of its state backend (the sources
    # still answer)
    status, body = ready(replica)
    assert status == 503
    assert body["state"] == {
        "backend": "redis",
        "ready": False,
        "code": "STATE_UNAVAILABLE",
        "message": body["state"]["message"],
        "latencyMs": body["state"]["latencyMs"],
    }
    assert all(source["ready"] for source in body["sources"])
    assert "127.0.0.1" not in json.dumps(body)  # nothing about where Redis lives
    # and a webhook is asked to come back, not failed
    refused = webhook(replica, "1001")
    assert refused.status_code == 503
    assert refused.headers["Retry-After"].isdigit()
    assert refused.json()["error"] == "STATE_UNAVAILABLE"
    # and a query needing state gets the typed, retryable error
    answer = replica.graphql(WORKFLOWS, key="demo-ops")
    assert answer["errors"][0]["extensions"] == {"code": "STATE_UNAVAILABLE", "retryable": True}

    # when Redis is back, everything answers again
    own_redis.start()
    status, body = ready(replica)
    assert (status, body["status"]) == (200, "ready")
    assert webhook(replica, "1001").status_code == 202
    assert "errors" not in replica.graphql(WORKFLOWS, key="demo-ops")


def test_a_redis_too_slow_to_answer_is_unavailable_within_the_configured_timeout(
    replica: AccordServer, own_redis: RedisServer
) -> None:
    # given a Redis that stops answering for 6 s (its connections stay open)
    assert "errors" not in replica.graphql(WORKFLOWS, key="demo-ops")
    own_redis.pause(6.0)

    # when a request needs state, it is told so well before Redis answers again
    started = time.monotonic()
    answer = replica.graphql(WORKFLOWS, key="demo-ops")
    waited = time.monotonic() - started
    assert answer["errors"][0]["extensions"]["code"] == "STATE_UNAVAILABLE"
    # a request that waited Redis out would have been answered; the bound leaves a loaded
    # machine seconds of slack over the 0.3 s timeout
    assert waited < 5.0
    status, body = ready(replica)
    assert status == 503
    assert body["state"]["code"] == "STATE_UNAVAILABLE"

    # then, once Redis answers again, so does the replica
    deadline = time.monotonic() + 15
    while "errors" in replica.graphql(WORKFLOWS, key="demo-ops"):
        assert time.monotonic() < deadline, "the replica did not recover"
        time.sleep(0.2)
