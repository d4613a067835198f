"""SOQL plans in the Salesforce emulator: index reads, the ordered walk for ``ORDER BY ... LIMIT``
and compiled projections answer exactly what a scan of the table answers, before and after
writes. In process, through `QueryEngine.run` (what the query resource calls)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sandbox.querylang.soql import parse_soql
from sandbox.salesforce import SalesforceEmulator
from sandbox.world import build_world
from sources.salesforce_records import ACCOUNT_FIELDS, OPPORTUNITY_FIELDS, OPPORTUNITY_LINE_FIELDS

VERSION = "59.0"
ACCOUNT = ", ".join(ACCOUNT_FIELDS)


@pytest.fixture
def emulator() -> SalesforceEmulator:
    return SalesforceEmulator(build_world(11, 60, now=dt.datetime(2024, 6, 30, 12, tzinfo=dt.UTC)))


def _run(emulator: SalesforceEmulator, text: str, *, indexed: bool, all_rows: bool) -> Any:
    engine = emulator.queries
    engine.use_indexes = indexed
    try:
        return engine.run(text, include_deleted=all_rows, version=VERSION)
    finally:
        engine.use_indexes = True


def _same_either_way(
    emulator: SalesforceEmulator, text: str, *, all_rows: bool = False
) -> dict[str, Any]:
    indexed = _run(emulator, text, indexed=True, all_rows=all_rows)
    scanned = _run(emulator, text, indexed=False, all_rows=all_rows)
    assert indexed == scanned, text
    assert [list(r) for r in indexed["records"]] == [list(r) for r in scanned["records"]]
    answer: dict[str, Any] = indexed
    return answer


def _shapes(emulator: SalesforceEmulator) -> list[str]:
    store = emulator.store
    accounts = [r["Id"] for r in store.rows("Account")][::4]
    keys = [r["ERP_Customer_Id__c"] for r in store.rows("Account") if r.get("ERP_Customer_Id__c")]
    opportunities = [r["Id"] for r in store.rows("Opportunity")][::3]
    ids = ", ".join(f"'{i}'" for i in accounts)
    short = ", ".join(f"'{i[:15]}'" for i in accounts[:5])
    mixed = ", ".join(f"'{k.lower()}'" for k in keys[::3])
    opps = ", ".join(f"'{i}'" for i in opportunities)
    search = f"SELECT {ACCOUNT} FROM Account WHERE ERP_Customer_Id__c != null"
    by_key = " ORDER BY ERP_Customer_Id__c ASC"
    return [
        f"SELECT {ACCOUNT} FROM Account WHERE Id IN ({ids})",
        f"SELECT Id, Name FROM Account WHERE Id IN ({short})",
        f"SELECT Id FROM Account WHERE Id = '{accounts[1]}'",
        f"SELECT {ACCOUNT} FROM Account WHERE ERP_Customer_Id__c IN ({mixed})",
        f"SELECT Id FROM Account WHERE ERP_Customer_Id__c = '{keys[2]}' AND Name != null",
        f"SELECT {', '.join(OPPORTUNITY_FIELDS)} FROM Opportunity WHERE AccountId IN ({ids}) "
        "ORDER BY CloseDate DESC, Id ASC",
        f"SELECT {', '.join(OPPORTUNITY_LINE_FIELDS)} FROM OpportunityLineItem "
        f"WHERE OpportunityId IN ({opps}) ORDER BY OpportunityId, Id",
        f"SELECT Id, Account.Name, Account.Owner.Name FROM Contact WHERE AccountId IN ({ids})",
        f"{search} AND BillingCountryCode = 'DE'{by_key} LIMIT 51",
        f"{search} AND BillingCountryCode = 'US'{by_key} LIMIT 3 OFFSET 2",
        f"{search}{by_key} LIMIT 0",
        f"{search} AND ERP_Customer_Id__c > '{keys[10]}'{by_key} LIMIT 7",
        f"SELECT Id FROM Account WHERE ERP_Customer_Id__c LIKE 'cust-%'{by_key} LIMIT 9",
        f"SELECT Id FROM Account WHERE ERP_Customer_Id__c IN ({mixed}){by_key} LIMIT 4",
        # not for the walk: nulls may be in the answer, or the order is descending
        f"SELECT Id FROM Account WHERE Name != null{by_key} LIMIT 12",
        f"SELECT Id FROM Account WHERE ERP_Customer_Id__c != 'x'{by_key} NULLS LAST LIMIT 60",
        f"{search} ORDER BY ERP_Customer_Id__c DESC LIMIT 5",
        f"SELECT COUNT() FROM Account WHERE ERP_Customer_Id__c != null{by_key} LIMIT 10",
    ]


def test_indexed_plans_answer_like_a_scan(emulator: SalesforceEmulator) -> None:
    answers = [_same_either_way(emulator, text) for text in _shapes(emulator)]

    assert sum(1 for answer in answers if answer["totalSize"]) >= len(answers) - 1


def test_the_ordered_walk_is_planned_only_where_it_answers_the_same() -> None:
    emulator = SalesforceEmulator(
        build_world(11, 20, now=dt.datetime(2024, 6, 30, 12, tzinfo=dt.UTC))
    )
    engine = emulator.queries

    def walks(text: str) -> bool:
        return engine.bind(parse_soql(text), text).walk is not None

    assert walks(
        "SELECT Id FROM Account WHERE ERP_Customer_Id__c != null AND BillingCountryCode = 'DE' "
        "ORDER BY ERP_Customer_Id__c ASC LIMIT 51"
    )
    assert walks(
        "SELECT Id FROM Account WHERE ERP_Customer_Id__c > 'A' ORDER BY ERP_Customer_Id__c LIMIT 5"
    )
    assert not walks(
        "SELECT Id FROM Account WHERE Name != null ORDER BY ERP_Customer_Id__c LIMIT 5"
    )
    assert not walks(
        "SELECT Id FROM Account WHERE ERP_Customer_Id__c != null ORDER BY ERP_Customer_Id__c"
    )
    assert not walks(
        "SELECT Id FROM Account WHERE ERP_Customer_Id__c != null "
        "ORDER BY ERP_Customer_Id__c DESC LIMIT 5"
    )
    assert not walks(
        "SELECT Id FROM Account WHERE ERP_Customer_Id__c != null OR Name = 'x' "
        "ORDER BY ERP_Customer_Id__c LIMIT 5"
    )


def test_writes_are_seen_by_the_indexes_and_the_order(emulator: SalesforceEmulator) -> None:
    dml, schema = emulator.dml, emulator.schema
    account = schema.objects["Account"]
    first = dml.create(account, {"Name": "Aardvark Ltd", "ERP_Customer_Id__c": "aaa-0001"})
    second = dml.create(account, {"Name": "Zebra Ltd", "ERP_Customer_Id__c": "ZZZ-0001"})
    third = dml.create(account, {"Name": "Middle Ltd", "ERP_Customer_Id__c": "MMM-0001"})
    opportunity = dml.create(
        schema.objects["Opportunity"],
        {
            "Name": "Plan test",
            "AccountId": third,
            "StageName": "Prospecting",
            "CloseDate": "2024-07-01",
        },
    )
    dml.update(account, second, {"ERP_Customer_Id__c": "aab-0001"})
    dml.delete(account, first)
    walk = (
        "SELECT Id, ERP_Customer_Id__c FROM Account WHERE ERP_Customer_Id__c != null "
        "ORDER BY ERP_Customer_Id__c ASC LIMIT 3"
    )

    live = _same_either_way(emulator, walk)
    with_deleted = _same_either_way(emulator, walk, all_rows=True)
    by_key = _same_either_way(
        emulator,
        "SELECT Id FROM Account WHERE ERP_Customer_Id__c IN ('ZZZ-0001', 'AAB-0001', 'mmm-0001')",
    )
    children = _same_either_way(
        emulator, f"SELECT Id FROM Opportunity WHERE AccountId IN ('{third}', '{second}')"
    )

    assert [r["Id"] for r in live["records"]][:1] == [second]
    assert [r["Id"] for r in with_deleted["records"]][:2] == [first, second]
    assert {r["Id"] for r in by_key["records"]} == {second, third}
    assert [r["Id"] for r in children["records"]] == [opportunity]
    for text in _shapes(emulator):
        _same_either_way(emulator, text)


def test_a_relationship_is_read_once_per_row_into_one_nested_record(
    emulator: SalesforceEmulator,
) -> None:
    contact = next(r for r in emulator.store.rows("Contact") if r.get("AccountId"))
    account = emulator.store.tables["Account"][contact["AccountId"]]

    answer = _same_either_way(
        emulator,
        "SELECT Account.Name, Id, Account.Owner.Name, Account.Id "
        f"FROM Contact WHERE Id = '{contact['Id']}'",
    )

    [record] = answer["records"]
    assert list(record) == ["attributes", "Account", "Id"]
    assert list(record["Account"]) == ["attributes", "Name", "Owner", "Id"]
    assert record["Account"]["Id"] == account["Id"]
    assert record["Account"]["Owner"]["attributes"]["type"] == "User"


def test_a_rolled_back_write_leaves_the_order_as_it_was(emulator: SalesforceEmulator) -> None:
    store, dml = emulator.store, emulator.dml
    account = emulator.schema.objects["Account"]
    kept = dml.create(account, {"Name": "Kept Ltd", "ERP_Customer_Id__c": "AAA-KEPT"})
    walk = (
        "SELECT Id FROM Account WHERE ERP_Customer_Id__c != null "
        "ORDER BY ERP_Customer_Id__c ASC LIMIT 2"
    )
    before = _same_either_way(emulator, walk)

    def abandoned() -> None:
        with store.transaction():
            dml.update(account, kept, {"ERP_Customer_Id__c": "ZZZ-KEPT"})
            dml.create(account, {"Name": "Gone Ltd", "ERP_Customer_Id__c": "AAA-GONE"})
            raise RuntimeError("abandon")

    with pytest.raises(RuntimeError):
        abandoned()

    assert _same_either_way(emulator, walk) == before
    assert [r["Id"] for r in before["records"]][:1] == [kept]
