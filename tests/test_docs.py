"""The docs tell the truth: every GraphQL example of README.md and docs/ and the README's curl
commands run as written against a freshly started Accord, naming ids its seeded sandbox has,
and the generated tables are current."""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.endpoints import Endpoints
from schema.__main__ import access_table, ownership_table
from tests.api.issuer import Issuer
from tests.federation.node import NODE_MODULES, node
from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
EXAMPLE = re.compile(r"```graphql\n(.*?)```", re.S)
PYTHON = re.compile(r"```python\n(.*?)```", re.S)
BASH = re.compile(r"```bash\n(.*?)```", re.S)
KEY = re.compile(r"^# key: (\S+)$", re.M)
VARIABLES = re.compile(r"^# variables: (\{.*\})$", re.M)
DOCUMENTED_URL = "http://127.0.0.1:8000"
PLACEHOLDER = re.compile(r"…|<[a-z][^>]*>")


class Fresh:
    """``python server.py`` as a reader starts it (a fresh embedded sandbox, seeded as on their
    machine), on a free port."""

    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._directory = tempfile.TemporaryDirectory(prefix="accord-docs-")
        self.endpoints_file = Path(self._directory.name) / "sandbox.json"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "server.py",
                "--port",
                str(self.port),
                "--endpoints-file",
                str(self.endpoints_file),
            ],
            cwd=ROOT,
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": os.environ.get("HOME", "/"),
                **env,
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 90
        while True:
            assert self.process.poll() is None, "Accord stopped at start"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Accord did not start"
            time.sleep(0.2)

    def post(
        self, document: str, variables: dict[str, Any] | None, key: str | None, path: str
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = httpx.post(
            self.url + path,
            json={"query": document, "variables": variables},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._directory.cleanup()


@pytest.fixture(scope="module")
def fresh() -> Iterator[Fresh]:
    server = Fresh()
    yield server
    server.stop()


def examples(page: Path) -> list[str]:
    """The operations among a page's GraphQL blocks (schema excerpts are not run)."""
    found = []
    for block in EXAMPLE.findall(page.read_text()):
        lines = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
        if lines and lines[0].lstrip().startswith(("query", "mutation", "subscription", "{")):
            found.append(block)
    return found


def run_example(fresh: Fresh, document: str) -> dict[str, Any]:
    """Run one example as the page sends it: as the key it names (``# key: demo-ops``; the
    finance key unless told, ``none`` for no key), with the variables it declares (``#
    variables: {...}``), entity references to the subgraph; its answer, asserted clean."""
    assert not PLACEHOLDER.search(document), f"an example with a placeholder: {document}"
    assert not document.lstrip().startswith("subscription"), (
        "a subscription runs as a curl command that shows its key (see README.md)"
    )
    named = KEY.search(document)
    key = named.group(1) if named else "demo-finance"
    declared = VARIABLES.search(document)
    variables = json.loads(declared.group(1)) if declared else None
    path = "/graphql/federation" if "_entities" in document else "/graphql"
    body = fresh.post(document, variables, None if key == "none" else key, path)
    assert "errors" not in body, (document, body.get("errors"))
    assert body["data"]
    for value in body["data"].values():
        assert value is not None, document
        if isinstance(value, dict):
            assert value.get("errors", []) == [], (document, value["errors"])
        if isinstance(value, list):
            assert None not in value, document
    return body


@pytest.mark.parametrize(
    "page", [page for page in PAGES if examples(page)], ids=lambda page: page.name
)
def test_every_example_runs_without_errors_on_a_fresh_sandbox(page: Path, fresh: Fresh) -> None:
    # given the operations of a page, in page order (a later one may act on what an earlier
    # one made), naming ids of the sandbox's seeded world
    found = examples(page)

    # when each runs against a freshly started Accord, then each answers data and no errors
    for document in found:
        run_example(fresh, document)


def commands(page: Path) -> list[str]:
    """The curl commands of a page's shell blocks that call Accord, each whole (a quoted body may span lines)."""
    found = []
    for block in BASH.findall(page.read_text()):
        command = ""
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            if command:  # inside a quoted body that spans lines
                command += "\n" + line
            elif line.strip().startswith("curl "):
                command = line.strip()
            if command and command.count("'") % 2 == 0:
                if DOCUMENTED_URL in command:
                    found.append(command)
                command = ""
    return found


def test_the_readmes_requests_run_as_written(fresh: Fresh, tmp_path: Path) -> None:
    # given the README's curl commands, pointed at a freshly started Accord
    found = [command.replace(DOCUMENTED_URL, fresh.url) for command in commands(ROOT / "README.md")]
    assert len(found) >= 4
    streams: list[tuple[str, subprocess.Popen[str]]] = []
    try:
        for command in found:
            assert not PLACEHOLDER.search(command), command
            if "/graphql/stream" in command:
                # a subscription streams until stopped: it runs beside the commands after it
                streams.append(
                    (
                        command,
                        subprocess.Popen(
                            ["bash", "-c", command], stdout=subprocess.PIPE, text=True
                        ),
                    )
                )
                time.sleep(1.0)
                continue

            # when each other command runs, then it answers what it shows
            done = subprocess.run(
                ["bash", "-c", command], capture_output=True, text=True, timeout=60, cwd=tmp_path
            )
            assert done.returncode == 0, (command, done.stderr)
            if "/graphql " in command + " " and " -d " in command:
                body = json.loads(done.stdout)
                assert "errors" not in body, (command, body["errors"])
                payload = next(iter(body["data"].values()))
                assert payload is not None, command
                assert payload.get("errors", []) == [], (command, payload["errors"])
            else:
                assert done.stdout.strip(), command
        time.sleep(2.0)
    finally:
        for _, process in streams:
            process.terminate()
    # and each subscription streamed the event the commands after it caused
    assert streams, "the README shows a subscription"
    for command, process in streams:
        output, _ = process.communicate(timeout=10)
        events = [
            json.loads(line.removeprefix("data:"))
            for line in output.splitlines()
            if line.startswith("data:")
        ]
        assert events, (command, output)
        assert all("errors" not in event for event in events), (command, output)
        assert all(event["data"] for event in events), (command, output)


def test_every_federation_example_runs_on_the_subgraph(fresh: Fresh) -> None:
    found = examples(DOCS / "federation.md")
    assert found
    for document in found:
        body = run_example(fresh, document)
        assert None not in body["data"].get("_entities", [])


def test_the_operations_examples_name_the_keys_they_need() -> None:
    found = examples(DOCS / "operations.md")
    assert len(found) >= 2
    for document in found:
        assert KEY.search(document), f"an example without its key: {document}"


def test_the_python_client_example_pages_through_every_overdue_invoice(
    fresh: Fresh, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the example of docs/analytics.md, pointed at this Accord, with pages of 50 so
    # that the sandbox's overdue invoices take several
    code = PYTHON.findall((DOCS / "analytics.md").read_text())[0]
    code = code.replace(DOCUMENTED_URL, fresh.url).replace("first: 500", "first: 50")

    # when it runs as a reader would run it
    exec(compile(code, "docs/analytics.md", "exec"), {})

    # then it printed as many overdue invoices as the list holds
    printed = capsys.readouterr().out.split()
    total = fresh.post(
        "{ invoices(first: 1, filter: {status: OVERDUE}) { totalCount } }",
        None,
        "demo-finance",
        "/graphql",
    )["data"]["invoices"]["totalCount"]
    assert printed[1:] == ["overdue", "invoices"]
    assert int(printed[0]) == total > 50


@pytest.mark.parametrize("page", ["sandbox-salesforce.md", "sandbox-netsuite.md"])
def test_the_sandbox_pages_python_runs_as_written(
    page: str, fresh: Fresh, capsys: pytest.CaptureFixture[str]
) -> None:
    # given each Python block of the page, with the endpoints file of a fresh sandbox where a
    # block reads one
    found = PYTHON.findall((DOCS / page).read_text())
    assert found
    for code in found:
        code = code.replace('Path("sandbox.json")', f"Path({str(fresh.endpoints_file)!r})")

        # when it runs on its own, with nothing defined before it, then it runs
        exec(compile(code, f"docs/{page}", "exec"), {})

    # and what it printed is the sandbox's
    if "print(" in "".join(found):
        assert "Adventure Systems SAS" in capsys.readouterr().out


@pytest.mark.second_erp
def test_the_erps_pages_python_reads_the_tryton_sandbox(
    tryton_sandbox: Endpoints, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the page's Python, reading the endpoints file of a Tryton sandbox
    endpoints_file = tmp_path / "sandbox.json"
    tryton_sandbox.write(endpoints_file)
    code = PYTHON.findall((DOCS / "erps.md").read_text())[0]
    code = code.replace('Path("sandbox.json")', f"Path({str(endpoints_file)!r})")

    # when it runs on its own, then it printed the first customer's party
    exec(compile(code, "docs/erps.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "'name': 'Hooli Industries Inc.'" in printed
    assert "'credit_limit_amount'" in printed


JS = re.compile(r"```js\n(.*?)```", re.S)


def record_payment(fresh: Fresh, customer: str, invoice: str, amount: str, currency: str) -> None:
    body = fresh.post(
        "mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { errors { code } } }",
        {
            "i": {
                "idempotencyKey": f"docs-{invoice}-{time.monotonic_ns()}",
                "customerId": customer,
                "amount": amount,
                "currency": currency,
                "applications": [{"invoiceId": invoice, "amount": amount}],
            }
        },
        "demo-finance",
        "/graphql",
    )
    assert body["data"]["recordPayment"]["errors"] == [], body


def first_lines(process: subprocess.Popen[str], trigger: Callable[[], None]) -> str:
    """What a subscriber printed once ``trigger`` caused an event: it is given two seconds to
    subscribe, and five to print, then stopped."""
    time.sleep(2.0)
    assert process.poll() is None, process.communicate()
    trigger()
    time.sleep(5.0)
    process.terminate()
    output, errors = process.communicate(timeout=10)
    assert output.strip(), errors
    return output


@pytest.mark.parametrize("library", ["graphql-ws", "fetch"])
def test_the_events_pages_browser_subscribers_receive_a_payment(
    library: str, fresh: Fresh, tmp_path: Path
) -> None:
    # given the page's JavaScript subscriber (run by Node, whose WebSocket and fetch are a
    # browser's), pointed at a fresh Accord
    code = next(block for block in JS.findall((DOCS / "events.md").read_text()) if library in block)
    executable = node()
    (tmp_path / "node_modules").symlink_to(NODE_MODULES)
    (tmp_path / "subscriber.mjs").write_text(
        code.replace("ws://127.0.0.1:8000", fresh.url.replace("http", "ws")).replace(
            DOCUMENTED_URL, fresh.url
        )
    )
    process = subprocess.Popen(
        [executable, "--experimental-websocket", "--no-warnings", "subscriber.mjs"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    # when a payment of the customer it names is recorded, then it prints the event
    output = first_lines(
        process, lambda: record_payment(fresh, "cus:CUST-000210", "inv:50559", "10.00", "EUR")
    )
    assert "10.00" in output
    assert "errors" not in output
    assert "message" not in output


def test_the_graphql_js_example_builds_a_client_schema(fresh: Fresh, tmp_path: Path) -> None:
    # given the JavaScript of docs/analytics.md, pointed at a fresh Accord
    code = JS.findall((DOCS / "analytics.md").read_text())[0]
    executable = node()
    (tmp_path / "node_modules").symlink_to(NODE_MODULES)
    (tmp_path / "schema.mjs").write_text(code.replace(DOCUMENTED_URL, fresh.url))

    # when Node runs it, then it built a schema from Accord's introspection
    done = subprocess.run(
        [executable, "schema.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "true"


def test_the_events_pages_python_subscriber_sees_an_invoice_paid(fresh: Fresh) -> None:
    # given the page's Python subscriber, pointed at a fresh Accord
    code = next(
        block for block in PYTHON.findall((DOCS / "events.md").read_text()) if "websockets" in block
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-c",
            code.replace("ws://127.0.0.1:8000", fresh.url.replace("http", "ws")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    # when an overdue invoice is paid in full, then it prints the invoice's change of status
    output = first_lines(
        process, lambda: record_payment(fresh, "cus:CUST-000004", "inv:50008", "14400.00", "USD")
    )
    assert "'previousStatus': 'OVERDUE', 'status': 'PAID'" in output
    assert "INV010003" in output


SETTING = re.compile(r"^(ACCORD_\w+)=(\S+)", re.M)


def test_the_portal_pages_its_customers_with_a_token_and_registered_operations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = (DOCS / "portals.md").read_text()
    # given the portal's operations folder as the page shows it
    operations = tmp_path / "operations"
    operations.mkdir()
    (operations / "PortalCustomers.graphql").write_text(examples(DOCS / "portals.md")[0])
    settings = dict(SETTING.findall(BASH.findall(page)[0]))
    assert settings["ACCORD_PERSISTED_QUERIES"] == "registered"
    documented_issuer = settings["ACCORD_OIDC_ISSUER"]

    with Issuer() as issuer:
        # and an identity provider in place of the page's, whose client "sales-portal" is
        # granted tokens for Accord's audience with the realm role the page maps to sales
        issuer.clients["sales-portal"] = (
            "portal-secret",
            {
                "aud": settings["ACCORD_OIDC_AUDIENCE"],
                "accord_role": None,
                "realm_access": {"roles": ["offline_access", "portal-sales"]},
            },
        )
        # and Accord started with the page's settings (on a fresh sandbox)
        settings |= {
            "ACCORD_OIDC_ISSUER": issuer.url,
            "ACCORD_OIDC_CA_FILE": issuer.ca_file,
            "ACCORD_PERSISTED_QUERIES_FILE": str(operations),
        }
        server = Fresh(**settings)
        try:
            # when the page's Python runs as the portal's server, with pages of 10
            code = PYTHON.findall(page)[0]
            code = (
                code.replace(DOCUMENTED_URL, server.url)
                .replace(
                    f"{documented_issuer}/protocol/openid-connect/token", f"{issuer.url}/token"
                )
                .replace('Path("operations")', f"Path({str(operations)!r})")
                .replace('"first": 100', '"first": 10')
            )
            assert issuer.url in code
            assert str(operations) in code
            monkeypatch.setenv("PORTAL_CLIENT_SECRET", "portal-secret")
            monkeypatch.setenv("SSL_CERT_FILE", issuer.ca_file)  # the provider's test CA
            exec(compile(code, "docs/portals.md", "exec"), {})
            printed = capsys.readouterr().out.split()

            # then it listed every customer of the country (as many as one page of 500 holds),
            # over several pages
            document = (operations / "PortalCustomers.graphql").read_text()
            whole = server.post(
                document, {"first": 500, "country": "DE"}, "demo-finance", "/graphql"
            )
            assert whole["data"]["customers"]["pageInfo"]["hasNextPage"] is False
            count = len(whole["data"]["customers"]["nodes"])
            assert printed[1:4] == ["customers", "in", "DE,"]
            assert int(printed[0]) == count > 10

            # and a document the portal did not register is refused, token or not
            token = httpx.post(
                f"{issuer.url}/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "sales-portal",
                    "client_secret": "portal-secret",
                },
                verify=ssl.create_default_context(cafile=issuer.ca_file),
            ).json()["access_token"]
            refused = httpx.post(
                f"{server.url}/graphql",
                json={"query": "{ customers(first: 1) { totalCount } }"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert refused.status_code == 400
            assert refused.json()["errors"][0]["extensions"]["code"] == (
                "PERSISTED_QUERY_NOT_IN_LIST"
            )
        finally:
            server.stop()


def test_ownership_table_is_current() -> None:
    text = (DOCS / "schema.md").read_text()
    table = text.split("<!-- ownership:begin -->\n", 1)[1].split("<!-- ownership:end -->", 1)[0]
    assert table.strip() == ownership_table().strip(), "run python -m schema --ownership"


def test_field_access_table_is_current() -> None:
    text = (DOCS / "security.md").read_text()
    table = text.split("<!-- access:begin -->\n", 1)[1].split("<!-- access:end -->", 1)[0]
    assert table.strip() == access_table().strip(), "run python -m schema --access"
