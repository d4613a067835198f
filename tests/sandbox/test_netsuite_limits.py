"""The NetSuite emulator's account concurrency limit, request stats and injected faults."""

from __future__ import annotations

import asyncio
import time

import httpx

from sandbox.endpoints import Endpoints
from sandbox.netsuite import NetSuiteSettings
from tests.conftest import SandboxControl
from tests.sandbox.test_netsuite_support import (
    RECORD,
    NetSuiteHttp,
    error_detail,
    tls,
)

LIMIT = NetSuiteSettings().concurrency_limit


async def _parallel_gets(
    sandbox: Endpoints, token: str, path: str, count: int
) -> list[httpx.Response]:
    async with httpx.AsyncClient(
        base_url=sandbox.netsuite.base_url,
        verify=tls(sandbox.netsuite.ca_file),
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
        limits=httpx.Limits(max_connections=count + 5),
    ) as client:
        return await asyncio.gather(*(client.get(path) for _ in range(count)))


async def test_requests_over_the_concurrency_limit_are_rejected(
    sandbox: Endpoints, ns: NetSuiteHttp, ns_control: SandboxControl
) -> None:
    path = f"{RECORD}/customer/1001"
    ns_control.fault(pattern=path, latency_ms=1500)
    count = LIMIT + 10

    answers = await _parallel_gets(sandbox, ns.token, path, count)

    ok = [a for a in answers if a.status_code == 200]
    rejected = [a for a in answers if a.status_code == 429]
    assert len(ok) + len(rejected) == count
    assert 1 <= len(ok) <= LIMIT
    assert len(rejected) >= count - LIMIT
    detail = error_detail(rejected[0])
    assert detail["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED"
    assert rejected[0].json()["title"] == "Too Many Requests"
    # Rejected requests were still made: the stats count every one of them.
    assert ns_control.count(f"GET {RECORD}/customer/{{id}}") == count
    ns_control.reset()
    assert ns.get("/customer/1001").status_code == 200  # every slot was given back


async def test_the_token_endpoint_is_not_governed(
    sandbox: Endpoints, ns: NetSuiteHttp, ns_control: SandboxControl
) -> None:
    path = f"{RECORD}/customer/1001"
    endpoint = f"GET {RECORD}/customer/{{id}}"
    seen = await asyncio.to_thread(ns_control.count, endpoint)
    # every slot held for 5 s: long enough on a loaded machine, and counted once it is held
    ns_control.fault(pattern=path, latency_ms=5000)
    busy = asyncio.ensure_future(_parallel_gets(sandbox, ns.token, path, LIMIT))
    deadline = time.monotonic() + 30  # bounds a hang only
    while await asyncio.to_thread(ns_control.count, endpoint) < seen + LIMIT:
        assert time.monotonic() < deadline, "the requests never arrived"
        await asyncio.sleep(0.05)

    async with httpx.AsyncClient(
        base_url=sandbox.netsuite.base_url, verify=tls(sandbox.netsuite.ca_file)
    ) as client:
        token = await client.post(
            "/services/rest/auth/oauth2/v1/token",
            data={"grant_type": "client_credentials"},
            auth=(sandbox.netsuite.client_id, sandbox.netsuite.client_secret),
        )
        probe = await client.get(
            f"{RECORD}/customer/1002", headers={"Authorization": f"Bearer {ns.token}"}
        )
    answers = await busy

    assert probe.status_code == 429  # every slot is taken...
    assert token.status_code == 200  # ...yet tokens are still issued
    assert [a.status_code for a in answers] == [200] * LIMIT


def test_stats_count_by_endpoint_with_ids_replaced(
    ns: NetSuiteHttp, ns_control: SandboxControl
) -> None:
    ns.get("/customer/1001")
    ns.get("/customer/eid:CUST-000001")
    ns.get("/salesOrder/50002/item/1")
    ns.suiteql("SELECT id FROM customer WHERE id = 1001")

    stats = ns_control.stats()["by_endpoint"]

    assert stats[f"GET {RECORD}/customer/{{id}}"] == 2
    assert stats[f"GET {RECORD}/salesOrder/{{id}}/item/{{id}}"] == 1
    assert stats["POST /services/rest/query/v1/suiteql"] == 1


def test_injected_failures_come_in_netsuites_shape(
    ns: NetSuiteHttp, ns_control: SandboxControl
) -> None:
    ns_control.fault(pattern=f"{RECORD}/invoice*", error_rate=1.0, error_status=503)

    failed = ns.get("/invoice")
    fine = ns.get("/customer/1001")

    assert failed.status_code == 503
    assert error_detail(failed)["o:errorCode"] == "UNEXPECTED_ERROR"
    assert failed.json()["title"] == "Service Unavailable"
    assert fine.status_code == 200


def test_an_injected_429_looks_like_the_concurrency_limit(
    ns: NetSuiteHttp, ns_control: SandboxControl
) -> None:
    ns_control.fault(pattern="/services/rest/query/*", error_rate=1.0, error_status=429)

    answer = ns.suiteql("SELECT id FROM customer")

    assert answer.status_code == 429
    assert error_detail(answer)["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED"


def test_a_fault_can_hit_one_query_among_those_on_one_path(
    ns: NetSuiteHttp, ns_control: SandboxControl
) -> None:
    ns_control.fault(pattern="/services/rest/query/*", body_contains="FROM currency", outage=True)

    failed = ns.suiteql("SELECT id FROM currency")
    fine = ns.suiteql("SELECT id FROM customer")

    assert failed.status_code == 503
    assert fine.status_code == 200
    assert fine.json()["items"]


def test_the_timeline_tells_requests_that_waited_from_those_beside_them(
    ns: NetSuiteHttp, ns_control: SandboxControl
) -> None:
    ns.suiteql("SELECT id FROM currency")
    ns.get("/customer/1001")

    first, second = ns_control.requests()

    assert first["endpoint"] == "POST /services/rest/query/v1/suiteql"
    assert second["endpoint"] == f"GET {RECORD}/customer/{{id}}"
    # one after the other: the second arrived after the first was answered
    assert first["started"] <= first["finished"] <= second["started"] <= second["finished"]
    ns_control.reset()
    assert ns_control.requests() == []
