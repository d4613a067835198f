"""How many upstream calls of the portal query wait for one another.

A call waits for another when it starts after the other's answer was sent. With latency
injected on every upstream call, calls that do not wait for one another start within a few
milliseconds, while a call that waits starts at least the injected latency after the one it
waited for: the emulators' timelines (the same monotonic clock for both) give the levels of
the plan, the longest chain of calls each waiting for the one before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.queries import PORTAL_QUERY
from sandbox.endpoints import Endpoints
from tests.accord import AccordServer
from tests.conftest import SandboxControl

SUITEQL = "POST /services/rest/query/v1/suiteql"
SOQL = "GET /services/data/v59.0/query"
LATENCY_MS = 150  # far more than the time Accord takes between two calls of one level

NODE = PORTAL_QUERY[PORTAL_QUERY.index("node {") + len("node {") : PORTAL_QUERY.rindex("} } } }")]
BY_COUNTRY = PORTAL_QUERY.replace(
    "customers(first: 100)", 'customers(first: 40, filter: {country: "DE"})'
)


@pytest.fixture(scope="module")
def accord(sandbox: Endpoints) -> Iterator[AccordServer]:
    """Accord without its read cache, so every query reads upstream."""
    with AccordServer(sandbox, cache=False) as server:
        yield server


def levels(requests: list[dict[str, Any]]) -> list[list[str]]:
    """The requests by level: each one level below the deepest request it started after."""
    ordered = sorted(requests, key=lambda request: request["started"])
    depth: list[int] = []
    for at, request in enumerate(ordered):
        before = [
            depth[earlier]
            for earlier in range(at)
            if ordered[earlier]["finished"] <= request["started"]
        ]
        depth.append(1 + max(before, default=0))
    found: list[list[str]] = [[] for _ in range(max(depth, default=0))]
    for request, level in zip(ordered, depth, strict=True):
        found[level - 1].append(request["endpoint"])
    return [sorted(level) for level in found]


def slowed(
    accord: AccordServer,
    query: str,
    sf_control: SandboxControl,
    ns_control: SandboxControl,
) -> tuple[dict[str, Any], list[list[str]]]:
    """``query``'s answer with ``LATENCY_MS`` on every upstream call, and its calls' levels."""
    accord.graphql(query)  # warm: tokens, connections, reference data
    for control in (sf_control, ns_control):
        control.reset()
        control.fault(pattern="/services/*", latency_ms=LATENCY_MS)
    body = accord.graphql(query)
    for control in (sf_control, ns_control):
        control.fault(clear=True)
    return body, levels(sf_control.requests() + ns_control.requests())


def test_the_portal_page_reads_in_two_levels(
    accord: AccordServer, sf_control: SandboxControl, ns_control: SandboxControl
) -> None:
    body, found = slowed(accord, PORTAL_QUERY, sf_control, ns_control)

    assert "errors" not in body
    assert len(body["data"]["customers"]["edges"]) == 100
    # the ERP's customer page; then the accounts beside the customers' documents
    assert found == [[SUITEQL], [SOQL, SUITEQL]]


def test_the_portal_page_by_country_reads_in_two_levels(
    accord: AccordServer, sf_control: SandboxControl, ns_control: SandboxControl
) -> None:
    body, found = slowed(accord, BY_COUNTRY, sf_control, ns_control)

    assert "errors" not in body
    nodes = [edge["node"] for edge in body["data"]["customers"]["edges"]]
    assert nodes
    assert all(node["billingAddress"]["country"] == "DE" for node in nodes)
    assert sum(len(node["invoices"]["nodes"]) for node in nodes) > 10
    # the accounts of the country; then the ERP customers beside their documents, both by
    # the accounts' cross-reference keys
    assert found == [[SOQL], [SUITEQL, SUITEQL]]


def one_by_one(accord: AccordServer, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same customers, each looked up by its id (twenty to a query, under the document
    size limit): a single customer's documents are read by its ERP id once its ERP record is
    in, as before."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(nodes), 20):
        chunk = nodes[start : start + 20]
        lookups = " ".join(
            f'c{at}: customer(id: "{node["id"]}") {{ {NODE} }}' for at, node in enumerate(chunk)
        )
        body = accord.graphql(f"{{ {lookups} }}")
        assert "errors" not in body
        found.extend(body["data"][f"c{at}"] for at in range(len(chunk)))
    return found


@pytest.mark.parametrize("query", [PORTAL_QUERY, BY_COUNTRY], ids=["erp-page", "by-country"])
def test_the_page_answers_what_its_customers_answer_one_by_one(
    accord: AccordServer, query: str
) -> None:
    body = accord.graphql(query)

    assert "errors" not in body
    nodes = [edge["node"] for edge in body["data"]["customers"]["edges"]]
    assert sum(len(node["orders"]["nodes"]) for node in nodes) > 10
    assert sum(len(node["payments"]["nodes"]) for node in nodes) > 10
    assert nodes == one_by_one(accord, nodes)
