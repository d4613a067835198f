"""Log lines as an operator reads them from a running Accord: human by default, JSON lines
with ACCORD_LOG_FORMAT=json; one access-log line per request with the operation, the caller's
name (never its key), the status, the duration and the upstream calls; the request id and
trace id on every line written for a request."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from sandbox.endpoints import Endpoints
from sandbox.world import World
from tests.api import ws_support as ws
from tests.redis_server import free_port
from tests.test_startup import serving

CREDIT = """query CreditPanel($sf: ID!) {
  customer(salesforceId: $sf) { name credit { status } }
}"""
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def sandbox_file(sandbox: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("logs") / "sandbox.json"
    sandbox.write(path)
    return path


def ask(port: int, sf: str | None, **headers: str) -> None:

    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": CREDIT, "variables": {"sf": sf}},
        headers={"Authorization": "Bearer demo-finance", **headers},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["customer"] is not None
    assert response.headers["x-request-id"]


def test_json_lines_carry_an_access_line_per_request_with_its_ids(
    sandbox_file: Path, world: World
) -> None:
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    port = free_port()
    with serving(port, "--sandbox", str(sandbox_file), ACCORD_LOG_FORMAT="json") as output:
        ask(port, customer.sf_account_id, traceparent=TRACEPARENT, **{"X-Request-Id": "req-42"})
        ask(port, customer.sf_account_id)
    records = [json.loads(line) for line in output if line.startswith("{")]
    # Every line Accord wrote is JSON (the two lines printed to stdout at start excepted).
    printed = [line for line in output if not line.startswith("{")]
    assert all(line.startswith(("Accord ", "Starting")) for line in printed), printed
    access = [r for r in records if r["logger"] == "accord.access" and r["path"] == "/graphql"]
    assert len(access) == 2
    first, second = access
    assert first["request_id"] == "req-42"
    assert first["trace_id"] == TRACE_ID
    assert first["operation"] == "CreditPanel"
    assert first["status"] == 200
    assert first["method"] == "POST"
    assert first["duration_ms"] > 0
    assert first["upstream_calls"] >= 2  # Salesforce and NetSuite
    assert first["caller"].startswith("api-key:")
    assert first["caller"].endswith(":finance")
    assert "demo-finance" not in json.dumps(records)  # the key itself never
    assert second["upstream_calls"] == 0  # the second answer came from the cache
    assert second["request_id"] != first["request_id"]
    assert len(second["trace_id"]) == 32
    assert second["trace_id"] != TRACE_ID
    for record in records:
        assert {"time", "level", "logger", "message", "request_id", "trace_id"} <= set(record)


def test_human_lines_by_default_with_the_request_ids(sandbox_file: Path, world: World) -> None:
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    port = free_port()
    with serving(port, "--sandbox", str(sandbox_file)) as output:
        ask(port, customer.sf_account_id, traceparent=TRACEPARENT)
        asyncio.run(over_websocket(f"http://127.0.0.1:{port}"))
    access = [
        line for line in output if line.startswith("INFO accord.access") and "POST /graphql" in line
    ]
    assert len(access) == 1
    [line] = access
    assert f"trace={TRACE_ID}" in line
    assert "POST /graphql 200" in line
    assert "op=CreditPanel" in line
    logged = [line for line in output if line.split(" ", 1)[0] in ("DEBUG", "INFO", "WARNING")]
    assert access[0] in logged
    assert "demo-finance" not in "\n".join(logged)  # (the start-up banner names the demo keys)
    assert not any(line.startswith("{") for line in output)
    # a WebSocket's line when it closes, with its operation and caller
    [socket_line] = [
        line for line in output if line.startswith("INFO accord.access") and " WS " in line
    ]
    assert "WS /graphql 101" in socket_line
    assert "op=Hello" in socket_line
    assert ":finance upstream=0" in socket_line


async def over_websocket(url: str) -> None:
    socket = await ws.connect(url, "demo-finance")
    answer = await ws.run(socket, "query Hello { __typename }")
    assert answer["type"] == "next", answer
    await socket.close()
