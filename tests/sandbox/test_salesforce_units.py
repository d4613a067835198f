"""Pure logic of the Salesforce emulator, in process: stats paths, API version labels, session
timeouts, store transactions, the daily allowance, query locators and index use."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sandbox.querylang.soql import parse_soql
from sandbox.salesforce import SalesforceEmulator
from sandbox.salesforce.app import release_label
from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.paths import normalize_path
from sandbox.salesforce.query import QueryEngine
from sandbox.salesforce.sessions import Sessions
from sandbox.salesforce.usage import ApiUsage
from sandbox.world import build_world


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def emulator() -> SalesforceEmulator:
    return SalesforceEmulator(build_world(7, 100, now=dt.datetime(2024, 6, 30, 12, tzinfo=dt.UTC)))


@pytest.mark.parametrize(
    ("path", "key"),
    [
        (
            "/services/data/v59.0/sobjects/Account/0015g0000004EClAAM",
            "/services/data/v59.0/sobjects/Account/{id}",
        ),
        (
            "/services/data/v59.0/sobjects/Account/0015g0000004ECl/",
            "/services/data/v59.0/sobjects/Account/{id}",
        ),
        (
            "/services/data/v59.0/sobjects/Account/ERP_Customer_Id__c/CUST-1/2",
            "/services/data/v59.0/sobjects/Account/ERP_Customer_Id__c/{id}",
        ),
        ("/services/data/v59.0/sobjects/Account/", "/services/data/v59.0/sobjects/Account"),
        (
            "/services/data/v59.0/sobjects/Account/describe",
            "/services/data/v59.0/sobjects/Account/describe",
        ),
        ("/services/data/v59.0/query/", "/services/data/v59.0/query"),
        ("/services/data/v59.0/query/01g5g000000abcdAAA-2000", "/services/data/v59.0/query/{id}"),
        ("/services/data/v59.0/composite/sobjects", "/services/data/v59.0/composite/sobjects"),
        ("/services/Soap/u/59.0", "/services/Soap/u/59.0"),
        ("/services/Soap/u/59.0/00D5g00000000Go", "/services/Soap/u/59.0/{id}"),
        ("/", "/"),
    ],
)
def test_paths_count_under_their_endpoint(path: str, key: str) -> None:
    assert normalize_path(path) == key


@pytest.mark.parametrize(
    ("version", "label"),
    [
        (59, "Winter '24"),
        (58, "Summer '23"),
        (57, "Spring '23"),
        (56, "Winter '23"),
        (31, "Summer '14"),
    ],
)
def test_release_labels(version: int, label: str) -> None:
    assert release_label(version) == label


def test_sessions_expire_after_inactivity_not_after_issue() -> None:
    clock = FakeClock()
    sessions = Sessions("00D5g00000000GoAAI", 100, clock=clock)
    kept = sessions.issue("005")
    idle = sessions.issue("005")

    clock.now += 90
    assert sessions.check(kept.token) is kept
    clock.now += 90

    assert sessions.check(kept.token) is kept
    assert sessions.check(idle.token) is None
    assert kept.token.startswith("00D5g00000000Go!")


def test_allowance_renews_each_utc_day() -> None:
    today = [dt.date(2024, 1, 1)]
    usage = ApiUsage(2, today=lambda: today[0])

    spent = [usage.charge(), usage.charge(), usage.charge()]
    today[0] = dt.date(2024, 1, 2)

    assert spent == [True, True, False]
    assert usage.header() == "api-usage=2/2"
    assert usage.charge() is True
    assert usage.to_json() == {"daily_api_limit": 2, "used": 1, "remaining": 1}


def test_a_failed_transaction_restores_records_and_indexes(
    emulator: SalesforceEmulator,
) -> None:
    store, dml = emulator.store, emulator.dml
    account = emulator.schema.objects["Account"]
    record_id = dml.create(account, {"Name": "Rollback Co", "ERP_Customer_Id__c": "RB-1"})
    seen: list[str] = []
    store.listeners.append(lambda change: seen.append(change.change_type))

    def abandoned_batch() -> None:
        with store.transaction():
            dml.update(account, record_id, {"ERP_Customer_Id__c": "RB-2", "Phone": "1"})
            dml.create(account, {"Name": "Never Co"})
            raise RuntimeError("abandon")

    with pytest.raises(RuntimeError):
        abandoned_batch()

    record = store.tables["Account"][record_id]
    assert record["ERP_Customer_Id__c"] == "RB-1"
    assert "Phone" not in record
    assert store.matching("Account", "ERP_Customer_Id__c", "rb-1") == [record_id]
    assert store.matching("Account", "ERP_Customer_Id__c", "RB-2") == []
    assert not any(r.get("Name") == "Never Co" for r in store.tables["Account"].values())
    assert seen == []  # nothing committed, nothing announced


def test_committed_writes_are_announced_once(emulator: SalesforceEmulator) -> None:
    seen: list[tuple[str, str, tuple[str, ...]]] = []
    emulator.store.listeners.append(
        lambda change: seen.append((change.change_type, change.sobject, change.changed_fields))
    )
    account = emulator.schema.objects["Account"]

    record_id = emulator.dml.create(account, {"Name": "Heard Co"})
    emulator.dml.update(account, record_id, {"Phone": "123"})
    emulator.dml.delete(account, record_id)

    assert [(kind, sobject) for kind, sobject, _ in seen] == [
        ("CREATE", "Account"),
        ("UPDATE", "Account"),
        ("DELETE", "Account"),
    ]
    assert set(seen[1][2]) == {"Phone", "LastModifiedDate", "LastModifiedById", "SystemModstamp"}


def test_id_and_lookup_filters_use_the_indexes(emulator: SalesforceEmulator) -> None:
    engine = emulator.queries
    ids = ", ".join(f"'{c.sf_account_id}'" for c in emulator.world.customers[:3])

    by_id = engine.bind(parse_soql(f"SELECT Id FROM Account WHERE Id IN ({ids})"), "")
    by_parent = engine.bind(
        parse_soql(f"SELECT Id FROM Contact WHERE Title != null AND AccountId IN ({ids})"), ""
    )
    either = engine.bind(
        parse_soql(f"SELECT Id FROM Contact WHERE Title = 'CFO' OR AccountId IN ({ids})"), ""
    )

    assert by_id.candidates is not None
    assert len(by_id.candidates()) == 3
    assert by_parent.candidates is not None
    assert either.candidates is None


def test_locators_are_bounded_and_expire(emulator: SalesforceEmulator) -> None:
    clock = FakeClock()
    engine = QueryEngine(
        emulator.schema, emulator.store, max_locators=2, locator_ttl_seconds=60, clock=clock
    )

    def first_page() -> str:
        page = engine.run(
            "SELECT Id FROM OpportunityLineItem",
            include_deleted=False,
            version="59.0",
            batch_size=1,
        )
        url: str = page["nextRecordsUrl"]
        return url.rsplit("/", 1)[1]

    oldest, middle, newest = first_page(), first_page(), first_page()
    with pytest.raises(ApiError) as evicted:
        engine.more(oldest, "59.0")
    assert engine.more(middle, "59.0")["records"]
    clock.now += 61
    with pytest.raises(ApiError) as expired:
        engine.more(newest, "59.0")

    assert evicted.value.error_code == "INVALID_QUERY_LOCATOR"
    assert expired.value.error_code == "INVALID_QUERY_LOCATOR"


def test_seeded_roll_ups_equal_the_world_sums(emulator: SalesforceEmulator) -> None:
    for customer in emulator.world.customers:
        for opp in customer.opportunities:
            record = emulator.store.tables["Opportunity"][opp.sf_id]
            assert record["Amount"] == opp.amount
            assert record["HasOpportunityLineItem"] is bool(opp.lines)
            order = opp.sales_order
            if order is not None and order.sf_order_id is not None:
                total = emulator.store.tables["Order"][order.sf_order_id]["TotalAmount"]
                assert total == order.total
                assert isinstance(total, Decimal)
