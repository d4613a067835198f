"""Reconciliation over GraphQL, on the sandbox as seeded: the report for ops and finance,
runs on demand and on the schedule, and nothing for other roles."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from api.auth import DEMO_KEYS
from sandbox.endpoints import Endpoints
from sandbox.world import World
from server import AppOptions
from tests.accord import AccordServer

REPORT = """{ id trigger requestedBy total reads
  scanned { accounts wonOpportunities erpCustomers erpOrders }
  counts { kind count }
  drifts(first: 500) { totalCount nodes { id kind message salesforceId erpId customerId
    opportunityId orderId orderNumber crmValue erpValue
    fix { action description mutation input } } } }"""
RUN = (
    "mutation($input: RunReconciliationInput!) { runReconciliation(input: $input) "
    "{ errors { code message } report " + REPORT + " } }"
)
LATEST = "{ reconciliation " + REPORT + " }"


@pytest.fixture(scope="module")
def accord_on_pristine(pristine: Endpoints) -> Iterator[AccordServer]:
    with AccordServer(pristine) as server:
        yield server


def run(server: AccordServer, key: str = "demo-ops") -> dict[str, Any]:
    body = server.graphql(RUN, {"input": {"idempotencyKey": str(uuid.uuid4())}}, key=key)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["runReconciliation"]
    return payload


def test_ops_run_it_and_read_every_drift_with_its_fix(
    accord_on_pristine: AccordServer, pristine_world: World
) -> None:
    # when ops run a reconciliation
    payload = run(accord_on_pristine)

    # then the report lists the seeded drift, counted by kind, each with its fix
    assert payload["errors"] == []
    report = payload["report"]
    expected = pristine_world.drift()
    assert report["trigger"] == "on demand"
    assert report["requestedBy"].endswith(":ops")
    assert report["total"] == sum(map(len, expected.values()))
    assert {c["kind"]: c["count"] for c in report["counts"]} == {
        kind: len(subjects) for kind, subjects in expected.items()
    }
    assert report["reads"] == {"salesforce": 3, "netsuite": 2}
    nodes = report["drifts"]["nodes"]
    assert report["drifts"]["totalCount"] == len(nodes) == report["total"]
    mirror = next(n for n in nodes if n["kind"] == "CREDIT_STATUS_MISMATCH")
    assert mirror["fix"]["mutation"] == "mirrorCreditStatus"
    assert mirror["fix"]["input"] == {"customerId": mirror["customerId"]}
    orphan = next(n for n in nodes if n["kind"] == "OPPORTUNITY_MISSING")
    assert orphan["orderId"] == f"ord:{orphan['id'].split(':')[1]}"
    assert orphan["fix"]["mutation"] is None

    # and finance read the same report as the latest
    latest = accord_on_pristine.graphql(LATEST, key="demo-finance")
    assert latest["data"]["reconciliation"]["id"] == report["id"]


def test_drifts_page_and_filter_by_kind(accord_on_pristine: AccordServer) -> None:
    run(accord_on_pristine)
    query = """query($after: String) { reconciliation { drifts(kind: ORDER_MISSING, first: 5, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } nodes { id kind } } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = accord_on_pristine.graphql(query, {"after": after}, key="demo-ops")
        drifts = page["data"]["reconciliation"]["drifts"]
        seen.extend(node["id"] for node in drifts["nodes"])
        assert {node["kind"] for node in drifts["nodes"]} <= {"ORDER_MISSING"}
        if not drifts["pageInfo"]["hasNextPage"]:
            break
        after = drifts["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == drifts["totalCount"]

    bad = accord_on_pristine.graphql(
        '{ reconciliation { drifts(after: "bm90LWEtY3Vyc29y") { totalCount } } }', key="demo-ops"
    )
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_repeat_of_a_run_answers_its_first_report(accord_on_pristine: AccordServer) -> None:
    key = str(uuid.uuid4())
    first = accord_on_pristine.graphql(RUN, {"input": {"idempotencyKey": key}}, key="demo-ops")
    again = accord_on_pristine.graphql(RUN, {"input": {"idempotencyKey": key}}, key="demo-ops")
    assert again["data"] == first["data"]


@pytest.mark.parametrize(
    ("key", "code"),
    [(None, "UNAUTHENTICATED"), ("demo-sales", "FORBIDDEN"), ("demo-analytics", "FORBIDDEN")],
)
def test_other_roles_see_no_report(
    accord_on_pristine: AccordServer, key: str | None, code: str
) -> None:
    body = accord_on_pristine.graphql("{ reconciliation { id } }", key=key)
    assert body["errors"][0]["extensions"]["code"] == code
    ran = accord_on_pristine.graphql(RUN, {"input": {"idempotencyKey": "k"}}, key=key)
    assert ran["errors"][0]["extensions"]["code"] == code


def test_finance_read_the_report_but_do_not_run_it(accord_on_pristine: AccordServer) -> None:
    ran = accord_on_pristine.graphql(RUN, {"input": {"idempotencyKey": "k"}}, key="demo-finance")
    assert ran["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_the_schedule_runs_it_on_every_replica_once_per_interval(pristine: Endpoints) -> None:
    # given an Accord whose schedule says every second
    options = AppOptions(api_keys=DEMO_KEYS, reconcile_every=1.0)
    with AccordServer(pristine, options=options) as server:
        # then a scheduled report appears at start, and a newer one a second or so later
        first = _wait_for_report(server, lambda report: report["trigger"] == "schedule")
        second = _wait_for_report(server, lambda report: report["id"] != first["id"])
        assert second["trigger"] == "schedule"


def _wait_for_report(server: AccordServer, wanted: Any, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = server.graphql("{ reconciliation { id trigger } }", key="demo-ops")["data"][
            "reconciliation"
        ]
        if report and wanted(report):
            return dict(report)
        time.sleep(0.2)
    raise AssertionError("no scheduled report came")
