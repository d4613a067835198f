"""Traces leave a running Accord over OTLP/HTTP when a collector is configured: a collector
on loopback receives the spans of a request, in the caller's trace, named as documented."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sandbox.endpoints import Endpoints
from sandbox.world import World
from tests.redis_server import free_port
from tests.test_startup import serving

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


class Collector:
    """An OTLP/HTTP trace receiver: keeps every export request it is sent."""

    def __init__(self) -> None:
        self.received: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                collector.paths.append(self.path)
                collector.received.append(ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Collector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def sandbox_file(sandbox: Endpoints, tmp_path: Path) -> Path:
    path = tmp_path / "sandbox.json"
    sandbox.write(path)
    return path


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as running:
        yield running


def test_spans_reach_the_configured_collector(
    collector: Collector, sandbox_file: Path, world: World
) -> None:
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    port = free_port()
    query = "query CreditPanel($sf: ID!) { customer(salesforceId: $sf) { name credit { status } } }"
    with serving(
        port,
        "--sandbox",
        str(sandbox_file),
        ACCORD_OTLP_ENDPOINT=collector.url,
        OTEL_SERVICE_NAME="accord-test",
    ) as output:
        response = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": query, "variables": {"sf": customer.sf_account_id}},
            headers={"Authorization": "Bearer demo-finance", "traceparent": TRACEPARENT},
            timeout=30,
        )
        assert response.status_code == 200
        assert response.json()["data"]["customer"]["name"] == customer.name
    # Accord stopped: what it still buffered was sent on the way out.
    assert any(f"traces go to {collector.url}" in line for line in output)
    assert set(collector.paths) == {"/v1/traces"}
    spans = []
    services = set()
    for request in collector.received:
        for resource_spans in request.resource_spans:
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    services.add(attribute.value.string_value)
            for scope in resource_spans.scope_spans:
                spans.extend(scope.spans)
    assert services == {"accord-test"}
    ours = [span for span in spans if span.trace_id.hex() == TRACE_ID]
    names = {span.name for span in ours}
    assert {"POST /graphql", "graphql query CreditPanel"} <= names
    assert any(name.startswith("salesforce ") for name in names)
    assert any(name.startswith("netsuite ") for name in names)
    assert any(name.startswith("dataloader ") for name in names)
