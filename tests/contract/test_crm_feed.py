"""The CRM port's change feed, for every CRM adapter: its scans find an account created, as
a canonical customer change under the adapter's name, from a first-run watermark that knew
what was there; an adapter that takes notifications refuses a body that is not one."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from sources.changes import MalformedNotification, RecordChange, RecordKind
from tests.contract.conftest import CrmHarness


async def test_the_scans_find_an_account_created_after_the_first_run(
    crm_harness: CrmHarness,
) -> None:
    crm = crm_harness.crm
    scans = crm.change_scans()
    marks = {scan.name: await scan.start() for scan in scans}
    for scan in scans:
        assert all(marks[scan.name].known(c) for c in await scan.since(marks[scan.name]))

    account = await asyncio.to_thread(crm_harness.new_account, f"Feed {uuid.uuid4().hex[:8]} Ltd")

    found: list[RecordChange] = []
    for scan in scans:
        found += [c for c in await scan.since(marks[scan.name]) if not marks[scan.name].known(c)]
    mine = [c for c in found if c.record_id == account]
    assert [(c.kind, c.change_type, c.source) for c in mine] == [
        (RecordKind.CUSTOMER, "create", crm.source)
    ]
    assert RecordKind.CUSTOMER in crm.record_names


async def test_a_body_that_is_no_notification_is_refused(crm_harness: CrmHarness) -> None:
    crm = crm_harness.crm
    if not crm.webhooks:
        with pytest.raises(NotImplementedError):
            crm.parse_notification({}, b"{}")
        return
    with pytest.raises(MalformedNotification):
        crm.parse_notification({}, b"{}")
    with pytest.raises(ValueError, match=r"\S"):
        crm.parse_notification({}, b"{not json")
