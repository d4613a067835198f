"""The endpoints file names one ERP: the NetSuite emulator's section or Tryton's."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.endpoints import (
    Endpoints,
    ErpNotInSandbox,
    NetSuiteEndpoint,
    SalesforceEndpoint,
    SandboxInfo,
    TrytonEndpoint,
)

SALESFORCE = SalesforceEndpoint("https://127.0.0.1:1", "u", "p", "t", "s", "c", "cs", None)
TRYTON = TrytonEndpoint(
    url="https://127.0.0.1:2",
    database="accord",
    user="accord",
    password="accord-sandbox-tryton",
    ca_file="/tmp/ca.pem",
    version="8.2.1",
    backend="sqlite",
    prepared="reused",
    prepare_seconds=0.4,
    pid=4321,
    work_dir="/tmp/accord-sandbox-x/accord-tryton-y",
)


def test_a_tryton_sandbox_writes_a_tryton_section_instead_of_netsuite(tmp_path: Path) -> None:
    # given the endpoints of a sandbox running Tryton
    info = SandboxInfo(pid=1, seed=42, customers=60, as_of="2026-12-05", now="…", erp="tryton")
    endpoints = Endpoints(salesforce=SALESFORCE, erp=TRYTON, sandbox=info)

    # when they are written and read back
    endpoints.write(tmp_path / "endpoints.json")
    back = Endpoints.read(tmp_path / "endpoints.json")

    # then the file has a tryton section and no netsuite one, and reads back whole
    assert set(endpoints.to_json()) == {"salesforce", "tryton", "sandbox"}
    assert back == endpoints
    assert back.tryton == TRYTON
    with pytest.raises(ErpNotInSandbox, match="runs tryton as its ERP, not NetSuite"):
        _ = back.netsuite


def test_a_netsuite_sandbox_file_from_before_reads_as_netsuite() -> None:
    # given an endpoints file written before the sandbox could run another ERP (no "erp")
    data = {
        "salesforce": SALESFORCE.__dict__,
        "netsuite": NetSuiteEndpoint("https://127.0.0.1:3", "1_SB1", "t", "c", "s", None).__dict__,
        "sandbox": {"pid": 1, "seed": 42, "customers": 3, "as_of": "2026-12-05", "now": "…"},
    }

    # when it is read
    endpoints = Endpoints.from_json(data)

    # then it names the NetSuite emulator
    assert endpoints.sandbox.erp == "netsuite"
    assert endpoints.netsuite.base_url == "https://127.0.0.1:3"
    with pytest.raises(ErpNotInSandbox):
        _ = endpoints.tryton


def test_a_file_without_an_erp_section_is_refused() -> None:
    data = {"salesforce": SALESFORCE.__dict__, "sandbox": {"pid": 1}}
    with pytest.raises(ValueError, match="not a sandbox endpoints file"):
        Endpoints.from_json(data)
