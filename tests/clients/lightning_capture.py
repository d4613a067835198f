"""Accord's real answers to the Lightning credit panel's query, captured from a sandbox-backed
Accord: the fixtures the panel's Jest tests run on (``clients/lightning/fixtures/``).

Each scenario puts the sandbox in a state (a customer of a given standing, the ERP down after
a read, the ERP down before any, the CRM down, an unknown account, an unknown key) and records
exactly what Accord answers the panel's document (``clients/lightning/graphql/``) over HTTP.

Refresh the committed fixtures (a fresh sandbox of the test seed is started and stopped)::

    .venv/bin/python -m tests.clients.lightning_capture

``tests/clients/test_lightning_fixtures.py`` captures the same scenarios on the test session's
sandbox and fails when the committed ones no longer have the shape Accord answers with.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api.auth import DEMO_KEYS
from cache.read_cache import CacheSettings
from domain import sfid
from sandbox.endpoints import Endpoints
from server import AppOptions
from sources.resilience import ResiliencePolicy
from tests.accord import AccordServer
from tests.conftest import CUSTOMERS, SEED, SandboxControl

ROOT = Path(__file__).resolve().parent.parent.parent
KIT = ROOT / "clients" / "lightning"
DOCUMENT_FILE = KIT / "graphql" / "AccordCreditPanel.graphql"
FIXTURES = KIT / "fixtures"
OPERATION = "AccordCreditPanel"
KEY = "demo-sales"  # the role a Lightning integration user's key has
# An Account id with a valid checksum that no sandbox account has.
UNKNOWN_ACCOUNT = sfid.to18("001000000000ZZZ")
# Faults make the ERP's answers fail fast, so that a scenario takes a second, not a timeout.
OUTAGE_POLICY = ResiliencePolicy(timeout=0.5, max_attempts=2, backoff_base=0.01, backoff_max=0.02)


def document() -> str:
    return DOCUMENT_FILE.read_text(encoding="utf-8")


def document_sha256() -> str:
    """The document's hash, as a persisted-query client sends it (and as a fixture records
    which document it answers)."""
    return hashlib.sha256(document().encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class Capture:
    """One recorded exchange: what was asked, and Accord's HTTP status and body."""

    scenario: str
    description: str
    variables: dict[str, Any]
    status: int
    body: dict[str, Any]
    captured_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "description": self.description,
            "capturedAt": self.captured_at,
            "request": {
                "operationName": OPERATION,
                "documentSha256": document_sha256(),
                "variables": self.variables,
            },
            "status": self.status,
            "body": self.body,
        }


class Scenarios:
    """The sandbox states the panel is shown in, each captured from Accord over HTTP."""

    def __init__(self, sandbox: Endpoints, sf: SandboxControl, ns: SandboxControl) -> None:
        self.sandbox = sandbox
        self.sf = sf
        self.ns = ns

    def capture_all(self) -> dict[str, Capture]:
        captures: dict[str, Capture] = {}
        for run in (
            self.standings,
            self.unknown_account,
            self.unknown_key,
            self.erp_down_after_a_read,
            self.outages,
        ):
            for capture in run():
                captures[capture.scenario] = capture
        return captures

    # ----------------------------------------------------------------- healthy answers

    def standings(self) -> Iterator[Capture]:
        with self._accord() as accord:
            for status, scenario, description in (
                ("GOOD_STANDING", "good-standing", "a customer in good standing"),
                ("OVER_LIMIT", "over-limit", "a customer whose balance exceeds its limit"),
                ("ON_HOLD", "on-hold", "a customer the ERP holds"),
            ):
                account = self._account_with(accord, status)
                yield self._post(accord, scenario, description, account)
            no_limit = self._account_without_limit(accord)
            if no_limit is not None:
                yield self._post(accord, "no-limit", "a customer without a credit limit", no_limit)

    def unknown_account(self) -> Iterator[Capture]:
        with self._accord() as accord:
            yield self._post(
                accord, "not-found", "an Account Accord has no customer for", UNKNOWN_ACCOUNT
            )

    def unknown_key(self) -> Iterator[Capture]:
        with self._accord() as accord:
            account = self._account_with(accord, "GOOD_STANDING")
            yield self._post(
                accord, "unauthenticated", "a key Accord does not know", account, key="not-a-key"
            )

    # ----------------------------------------------------------------- outages

    def erp_down_after_a_read(self) -> Iterator[Capture]:
        short = CacheSettings(ttl_overrides={"customer_by_key": 0.2})
        with self._accord(cache=short, policy=OUTAGE_POLICY) as accord:
            account = self._account_with(accord, "GOOD_STANDING")
            self._post(accord, "warm", "", account)  # read while the ERP answers
            with self._fault(self.ns, pattern="/services/rest/*", outage=True):
                time.sleep(0.3)  # the copy is past its fresh TTL
                yield self._post(
                    accord,
                    "stale",
                    "the ERP is down; the last values read are served, flagged stale",
                    account,
                )

    def outages(self) -> Iterator[Capture]:
        """A source down or slow, with nothing cached to answer from."""
        for control, fault, scenario, description in (
            (
                self.ns,
                {"pattern": "/services/rest/*", "outage": True},
                "erp-outage",
                "the ERP is down and nothing is cached: credit is null with its error",
            ),
            (
                self.ns,
                {"pattern": "/services/rest/query/*", "latency_ms": 1500},
                "erp-timeout",
                "the ERP answers too slowly: credit is null with SOURCE_TIMEOUT",
            ),
            (
                self.sf,
                {"pattern": "/services/data/*", "outage": True},
                "crm-outage",
                "Salesforce's API is down: Accord cannot find the customer by Account id",
            ),
        ):
            with self._accord(cache=False) as accord:
                account = self._account_with(accord, "GOOD_STANDING")
                with self._fault(control, **fault):
                    yield self._post(accord, scenario, description, account)

    # ----------------------------------------------------------------- support

    @contextmanager
    def _accord(
        self, *, cache: CacheSettings | bool = True, policy: ResiliencePolicy = OUTAGE_POLICY
    ) -> Iterator[AccordServer]:
        options = AppOptions(api_keys=DEMO_KEYS)
        if isinstance(cache, CacheSettings):
            options = dataclasses.replace(options, cache=cache)
        with AccordServer(self.sandbox, policy, options, cache=cache is not False) as accord:
            yield accord

    @contextmanager
    def _fault(self, control: SandboxControl, **fault: Any) -> Iterator[None]:
        control.reset()
        control.fault(**fault)
        try:
            yield
        finally:
            control.reset()

    def _post(
        self,
        accord: AccordServer,
        scenario: str,
        description: str,
        account: str,
        *,
        key: str = KEY,
    ) -> Capture:
        variables = {"salesforceId": account}
        with accord.client() as http:
            response = http.post(
                "/graphql",
                json={"query": document(), "operationName": OPERATION, "variables": variables},
                headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
            )
        at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return Capture(scenario, description, variables, response.status_code, response.json(), at)

    def _account_with(self, accord: AccordServer, status: str) -> str:
        """The Salesforce id of the first linked customer (in ERP order) with that standing
        and, for good standing, a limit and an overdue amount, so every figure shows."""
        body = accord.graphql(
            "query($s: CreditStatus) { customers(first: 200, filter: {creditStatus: $s}) "
            "{ nodes { salesforceId credit { limit { amount } overdue { amount } } } } }",
            {"s": status},
            key=KEY,
        )
        for node in body["data"]["customers"]["nodes"]:
            credit = node["credit"]
            if not node["salesforceId"] or credit is None:
                continue
            if status != "GOOD_STANDING" or (
                credit["limit"] is not None and credit["overdue"]["amount"] != "0.00"
            ):
                return str(node["salesforceId"])
        raise LookupError(f"the sandbox has no linked customer in {status}")

    def _account_without_limit(self, accord: AccordServer) -> str | None:
        body = accord.graphql(
            "{ customers(first: 300) { nodes { salesforceId credit { limit { amount } } } } }",
            key=KEY,
        )
        for node in body["data"]["customers"]["nodes"]:
            if node["salesforceId"] and node["credit"] and node["credit"]["limit"] is None:
                return str(node["salesforceId"])
        return None


def write(captures: dict[str, Capture], folder: Path = FIXTURES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, capture in sorted(captures.items()):
        path = folder / f"{name}.json"
        path.write_text(json.dumps(capture.to_json(), indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.clients.lightning_capture",
        description="Capture the Lightning credit panel's fixtures from a sandbox-backed Accord.",
    )
    parser.add_argument("--out", type=Path, default=FIXTURES, help="where to write them")
    args = parser.parse_args(argv)

    from sandbox.process import SandboxProcess

    process = SandboxProcess(seed=SEED, customers=CUSTOMERS)
    endpoints = process.start()
    sf = SandboxControl(endpoints.salesforce.instance_url, endpoints.salesforce.ca_file)
    ns = SandboxControl(endpoints.netsuite.base_url, endpoints.netsuite.ca_file)
    try:
        captures = Scenarios(endpoints, sf, ns).capture_all()
    finally:
        sf.close()
        ns.close()
        process.stop()
    for path in write(captures, args.out):
        out(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
