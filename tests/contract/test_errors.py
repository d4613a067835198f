"""Every adapter maps its system's failures into Accord's source error tree (sources/errors.py):
an outage, server errors, garbage and slowness each become the same typed error, whatever the
system."""

from __future__ import annotations

import pytest

from sources.errors import SourceProtocolError, SourceTimeout, SourceUnavailable
from tests.contract.conftest import CrmHarness, ErpHarness


async def test_an_erp_outage_is_unavailable(erp_harness: ErpHarness) -> None:
    with erp_harness.faults.outage(), pytest.raises(SourceUnavailable):
        await erp_harness.erp.customers_by_keys(["CUST-000001"])


async def test_erp_server_errors_are_unavailable(erp_harness: ErpHarness) -> None:
    with erp_harness.faults.errors(502), pytest.raises(SourceUnavailable):
        await erp_harness.erp.customers_by_keys(["CUST-000001"])


async def test_erp_garbage_is_a_protocol_error(erp_harness: ErpHarness) -> None:
    with erp_harness.faults.garbage(), pytest.raises(SourceProtocolError):
        await erp_harness.erp.customers_by_keys(["CUST-000001"])


async def test_a_slow_erp_is_a_timeout(erp_harness: ErpHarness) -> None:
    with erp_harness.faults.latency(3.0), pytest.raises(SourceTimeout):
        await erp_harness.erp.customers_by_keys(["CUST-000001"])


async def test_a_crm_outage_is_unavailable(crm_harness: CrmHarness) -> None:
    with crm_harness.faults.outage(), pytest.raises(SourceUnavailable):
        await crm_harness.crm.accounts_by_erp_keys(["CUST-000001"])


async def test_crm_garbage_is_a_protocol_error(crm_harness: CrmHarness) -> None:
    with crm_harness.faults.garbage(), pytest.raises(SourceProtocolError):
        await crm_harness.crm.accounts_by_erp_keys(["CUST-000001"])


async def test_a_slow_crm_is_a_timeout(crm_harness: CrmHarness) -> None:
    with crm_harness.faults.latency(3.0), pytest.raises(SourceTimeout):
        await crm_harness.crm.accounts_by_erp_keys(["CUST-000001"])
