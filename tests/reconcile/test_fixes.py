"""The fixes a report names, applied through Accord: each ends its drift (the next run no
longer finds it) and nothing else; each is idempotent, audited and refused where it would
do harm. On a sandbox of this module's own, since the fixes write to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.emulator_client import EmulatorClient
from sandbox.world import World
from tests.accord import AccordServer
from tests.reconcile.conftest import own_sandbox, world_of

DRIFTS = """mutation($input: RunReconciliationInput!) { runReconciliation(input: $input) {
  errors { code } report { drifts(first: 500) { nodes { id kind salesforceId erpId customerId
  opportunityId crmValue erpValue fix { action mutation input } } } } } }"""
LINK = """mutation($input: LinkAccountInput!) { linkAccount(input: $input) {
  errors { code field message } customer { id salesforceId erpId name } } }"""
MIRROR = """mutation($input: MirrorCreditStatusInput!) { mirrorCreditStatus(input: $input) {
  errors { code field message } creditStatus customer { id credit { status } } } }"""
BOOK = """mutation($input: BookOrderInput!) { bookOrder(input: $input) {
  errors { code message } workflow { id status } } }"""
APPROVE = """mutation($input: WorkflowActionInput!) { approveWorkflow(input: $input) {
  errors { code } workflow { status } } }"""


@pytest.fixture(scope="module")
def setting() -> Iterator[tuple[AccordServer, EmulatorClient, World]]:
    process, endpoints = own_sandbox()
    emulators = EmulatorClient(endpoints)
    try:
        with AccordServer(endpoints) as server:
            yield server, emulators, world_of(endpoints)
    finally:
        emulators.close()
        process.stop()


def key() -> str:
    return str(uuid.uuid4())


def drifts(server: AccordServer) -> dict[str, dict[str, Any]]:
    body = server.graphql(DRIFTS, {"input": {"idempotencyKey": key()}}, key="demo-ops")
    assert "errors" not in body, body
    payload = body["data"]["runReconciliation"]
    assert payload["errors"] == []
    return {node["id"]: node for node in payload["report"]["drifts"]["nodes"]}


def apply(server: AccordServer, fix: dict[str, Any], role: str = "ops") -> dict[str, Any]:
    document = {"linkAccount": LINK, "mirrorCreditStatus": MIRROR, "bookOrder": BOOK}
    body = server.graphql(
        document[fix["mutation"]],
        {"input": {**fix["input"], "idempotencyKey": key()}},
        key=f"demo-{role}",
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"][fix["mutation"]]
    return result


def test_linking_an_account_ends_both_of_its_drifts(
    setting: tuple[AccordServer, EmulatorClient, World],
) -> None:
    server, emulators, world = setting
    # given an account and the ERP customer it stands for, unlinked: two drifts, one fix
    pair = next(c for c in world.customers if c.account_unlinked)
    before = drifts(server)
    account_drift = before[f"LINK_MISSING:{pair.sf_account_id}"]
    customer_drift = before[f"ERP_CUSTOMER_UNLINKED:{pair.ns_id}"]
    assert account_drift["fix"] == customer_drift["fix"]
    assert account_drift["fix"]["mutation"] == "linkAccount"

    # when ops apply it
    linked = apply(server, account_drift["fix"])

    # then the account carries the customer's key, both sides join, and both drifts are gone
    assert linked["errors"] == []
    assert linked["customer"]["id"] == f"cus:{pair.key}"
    assert linked["customer"]["salesforceId"] == pair.sf_account_id
    assert linked["customer"]["erpId"] == str(pair.ns_id)
    assert emulators.sf_get("Account", pair.sf_account_id or "")["ERP_Customer_Id__c"] == pair.key
    after = drifts(server)
    assert set(before) - set(after) == {account_drift["id"], customer_drift["id"]}
    assert set(after) <= set(before)

    # and the trail says who linked what
    trail = server.graphql(
        "query($id: String) { auditTrail(first: 5, recordId: $id) { nodes { action outcome before after } } }",
        {"id": pair.sf_account_id},
        key="demo-ops",
    )["data"]["auditTrail"]["nodes"]
    assert trail[0] == {
        "action": "linkAccount",
        "outcome": "applied",
        "before": {"ERP_Customer_Id__c": None},
        "after": {"ERP_Customer_Id__c": pair.key},
    }


def test_a_link_that_would_do_harm_is_refused(
    setting: tuple[AccordServer, EmulatorClient, World],
) -> None:
    server, _, world = setting
    linked = [
        c
        for c in world.customers
        if c.key and c.sf_account_id and c.ns_id and not c.account_unlinked
    ][:2]
    prospect = next(c for c in world.customers if c.key is None and c.sf_account_id)

    def link(account: str | None, erp_id: object, role: str = "ops") -> Any:
        return server.graphql(
            LINK,
            {"input": {"idempotencyKey": key(), "salesforceId": account, "erpId": str(erp_id)}},
            key=f"demo-{role}",
        )

    def codes(body: Any) -> list[str]:
        return [error["code"] for error in body["data"]["linkAccount"]["errors"]]

    # a customer another account links to already
    assert codes(link(prospect.sf_account_id, linked[0].ns_id)) == ["CUSTOMER_ALREADY_LINKED"]
    # an account linked to another customer already
    assert codes(link(linked[0].sf_account_id, linked[1].ns_id)) == ["ACCOUNT_ALREADY_LINKED"]
    # a customer the ERP does not have
    assert codes(link(prospect.sf_account_id, 999999)) == ["CUSTOMER_NOT_IN_ERP"]
    # linking an account to the customer it links to changes nothing and is no error
    assert codes(link(linked[0].sf_account_id, linked[0].ns_id)) == []
    # a malformed id is bad input; sales may not link
    assert link("001-not-an-id", 1)["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    forbidden = link(prospect.sf_account_id, linked[0].ns_id, role="sales")
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_mirroring_the_credit_status_ends_its_drift(
    setting: tuple[AccordServer, EmulatorClient, World],
) -> None:
    server, emulators, _ = setting
    before = drifts(server)
    drift = next(d for d in before.values() if d["kind"] == "CREDIT_STATUS_MISMATCH")

    # when finance apply the fix, twice with one key
    request = {"input": {**drift["fix"]["input"], "idempotencyKey": key()}}
    first = server.graphql(MIRROR, request, key="demo-finance")["data"]["mirrorCreditStatus"]
    again = server.graphql(MIRROR, request, key="demo-finance")["data"]["mirrorCreditStatus"]

    # then the account shows the ERP's status, and the next run no longer finds the drift
    assert first["errors"] == []
    assert first == again
    assert first["creditStatus"] == drift["erpValue"]
    account = emulators.sf_get("Account", drift["salesforceId"])
    assert account["Credit_Status__c"] == drift["erpValue"]
    assert set(before) - set(drifts(server)) == {drift["id"]}


def test_booking_a_won_deal_ends_its_drift(
    setting: tuple[AccordServer, EmulatorClient, World],
) -> None:
    server, _, world = setting
    # given a won deal with no order, of a customer in good standing with a tax id
    ready = {
        o.sf_id
        for c in world.customers
        if c.key and c.ns_id and not c.account_unlinked and c.tax_id and c.credit_hold == "OFF"
        for o in c.opportunities
    }
    before = drifts(server)
    drift = next(
        d for d in before.values() if d["kind"] == "ORDER_MISSING" and d["opportunityId"] in ready
    )

    # when ops book it (finance approving, should the credit check ask)
    booked = apply(server, drift["fix"])
    assert booked["errors"] == []
    if booked["workflow"]["status"] == "PENDING_APPROVAL":
        booked = server.graphql(
            APPROVE,
            {"input": {"idempotencyKey": key(), "id": booked["workflow"]["id"]}},
            key="demo-finance",
        )["data"]["approveWorkflow"]
    assert booked["workflow"]["status"] == "COMPLETED"

    # then the next run no longer finds it
    assert drift["id"] not in drifts(server)
