"""The registry drives: move a field to the other system in the registry alone, and reads,
writes, cache invalidation and the SDL follow. Accord runs as a child process whose registry
moves ``Customer.taxId`` from the ERP to the CRM (`tests.registry_flip`), beside the session's
own Accord, which keeps the registry as committed; both speak to the same sandbox."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.harness import ServerProcess, free_port
from sandbox.emulator_client import EmulatorClient
from sandbox.endpoints import Endpoints
from sandbox.tax_ids import tax_id_for
from sandbox.world import Customer, World
from tests.accord import AccordServer

ROOT = Path(__file__).resolve().parent.parent
TAX_ID = "query($id: ID!) { customer(id: $id) { taxId } }"
UPDATE = """mutation($i: UpdateCustomerInput!) {
  updateCustomer(input: $i) { errors { code message field } }
}"""


@pytest.fixture(scope="module")
def flipped(sandbox: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of an Accord whose registry gives Customer.taxId to the CRM."""
    endpoints_file = tmp_path_factory.mktemp("flipped") / "sandbox.json"
    sandbox.write(endpoints_file)
    process = ServerProcess(
        ["-m", "tests.registry_flip", "Customer.taxId=CRM", "--sandbox", str(endpoints_file)],
        {"ACCORD_POLL_SECONDS": "0", "ACCORD_LOG_LEVEL": "warning"},
    )
    process.args += ["--port", str(process.port)]
    with process:
        yield process.url


def ask(url: str, query: str, variables: dict[str, Any], key: str = "demo-finance") -> Any:
    answer = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def a_customer(world: World) -> Customer:
    return next(
        c
        for c in world.customers
        if c.key and c.sf_account_id and c.ns_id and c.tax_id and c.address.country == "US"
    )


def test_the_sdl_names_the_new_owner() -> None:
    sdl = subprocess.run(
        [sys.executable, "-m", "tests.registry_flip", "Customer.taxId=CRM", "--schema"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "taxId: String @owner(system: CRM," in sdl
    assert '"""Tax registration number. Owned by the CRM (Salesforce)."""' in sdl
    assert '"""Written to the CRM (Salesforce); finance may change it."""\n  taxId: String' in sdl


def test_reads_writes_and_the_cache_follow_the_new_owner(
    flipped: str, accord: AccordServer, world: World, emulators: EmulatorClient
) -> None:
    customer = a_customer(world)
    account = customer.sf_account_id or ""
    cid = f"cus:{customer.key}"
    original = customer.tax_id
    rng = random.Random(7)
    new_value = next(v for v in iter(lambda: tax_id_for("US", rng), None) if v != original)
    try:
        # given both systems holding the world's tax id, read once (now cached) by the flipped
        # Accord
        assert ask(flipped, TAX_ID, {"id": cid})["data"]["customer"]["taxId"] == original

        # when finance changes it through the flipped Accord
        answer = ask(
            flipped,
            UPDATE,
            {"i": {"idempotencyKey": f"flip-{new_value}", "id": cid, "taxId": new_value}},
        )
        assert answer["data"]["updateCustomer"]["errors"] == [], answer

        # then the CRM holds the new value and the ERP still the old one
        assert (
            emulators.sf_get("Account", account)["Tax_Id__c"] == new_value.replace(" ", "").upper()
        )
        erp = emulators.suiteql(f"SELECT vatregnumber FROM customer WHERE id = {customer.ns_id}")
        assert erp[0]["vatregnumber"] == original

        # and the flipped Accord reads it from the CRM (its cached account entry was dropped),
        # while the committed registry still reads the ERP's
        assert ask(flipped, TAX_ID, {"id": cid})["data"]["customer"]["taxId"] == new_value
        committed = accord.graphql(TAX_ID, {"id": cid}, key="demo-finance")
        assert committed["data"]["customer"]["taxId"] == original
    finally:
        emulators.sf_update("Account", account, {"Tax_Id__c": original})


def test_sales_may_still_not_write_it_wherever_it_lives(flipped: str, world: World) -> None:
    customer = a_customer(world)
    answer = ask(
        flipped,
        UPDATE,
        {"i": {"idempotencyKey": "flip-sales", "id": f"cus:{customer.key}", "taxId": "12-3456789"}},
        key="demo-sales",
    )
    errors = answer["data"]["updateCustomer"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("FIELD_NOT_WRITABLE", "taxId")]
    assert "(owned by the CRM)" in errors[0]["message"]


def test_a_registry_that_gives_a_system_a_field_its_adapter_cannot_serve_stops_at_start(
    sandbox: Endpoints, tmp_path: Path
) -> None:
    endpoints_file = tmp_path / "sandbox.json"
    sandbox.write(endpoints_file)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.registry_flip",
            "Customer.paymentTerms=CRM",
            "--sandbox",
            str(endpoints_file),
            "--port",
            str(free_port()),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Customer.paymentTerms: the CRM adapter reads no terms_id" in done.stderr
    assert "Traceback" not in done.stderr
