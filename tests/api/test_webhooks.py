"""Webhook intake over real HTTP: what is accepted, what is refused, and that refusals
publish nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.webhooks import intake_routes
from events.normalize import Change, RecordKind
from events.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header
from sandbox.endpoints import Endpoints
from sources.errors import CircuitOpen, SourceUnavailable
from sources.netsuite import NetSuiteErp
from sources.salesforce import SalesforceCrm
from state.memory_backend import MemoryBackend
from tests.adapters import make_crm, make_erp
from tests.events.http_support import serve

SF_SECRET = "sf-intake-secret"
NS_SECRET = "ns-intake-secret"
ACCOUNT_ID = "001000000000001AAA"


class Recorder:
    """The ``process`` the intake hands changes to; fails while ``failing`` is set, and waits
    for ``released`` while ``holding`` is (telling ``entered`` that it waits)."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.failing = False
        self.failure: Exception = RuntimeError("the ERP is down")
        self.holding = False
        self.entered = threading.Event()
        self.released = threading.Event()
        self.lock = threading.Lock()

    async def __call__(self, change: Change) -> None:
        if self.holding:
            self.entered.set()
            await asyncio.to_thread(self.released.wait, 10)
        if self.failing:
            raise self.failure
        with self.lock:
            self.changes.append(change)


@pytest.fixture(scope="module")
def feeds(sandbox: Endpoints) -> Iterator[tuple[SalesforceCrm, NetSuiteErp]]:
    """The adapters, whose change feeds parse the notifications (nothing else is called)."""
    crm, erp = make_crm(sandbox), make_erp(sandbox)
    yield crm, erp
    asyncio.run(crm.close())
    asyncio.run(erp.close())


@pytest.fixture(scope="module")
def _served(
    feeds: tuple[SalesforceCrm, NetSuiteErp],
) -> Iterator[tuple[httpx.Client, Recorder]]:
    recorder = Recorder()
    crm, erp = feeds
    routes = intake_routes(
        backend=MemoryBackend(prefix="test:"),
        process=recorder,
        feeds=[(crm, SF_SECRET), (erp, ["ns-new-secret", NS_SECRET])],
    )
    with serve(Starlette(routes=routes)) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client, recorder


@pytest.fixture
def recorder(_served: tuple[httpx.Client, Recorder]) -> Recorder:
    """What the intake processed during this test (event ids are unique per test)."""
    recorder = _served[1]
    with recorder.lock:
        recorder.changes.clear()
    recorder.failing = False
    recorder.failure = RuntimeError("the ERP is down")
    recorder.holding = False
    recorder.entered.clear()
    recorder.released.clear()
    return recorder


@pytest.fixture
def intake(_served: tuple[httpx.Client, Recorder], recorder: Recorder) -> httpx.Client:
    return _served[0]


def cdc_event(
    event_id: str | None = None, change_type: str = "UPDATE", **header: Any
) -> dict[str, Any]:
    return {
        "data": {
            "schema": "abc",
            "payload": {
                "ChangeEventHeader": {
                    "entityName": "Account",
                    "recordIds": [ACCOUNT_ID],
                    "changeType": change_type,
                    "changedFields": ["Phone", "LastModifiedDate"],
                    "changeOrigin": "com/salesforce/api/rest/59.0",
                    "transactionKey": "t-1",
                    "sequenceNumber": 1,
                    "commitTimestamp": 1767607872345,
                    "commitUser": "005000000000001AAA",
                    "commitNumber": 17,
                    **header,
                },
                "Phone": "+1 555 0100",
            },
            "event": {"replayId": 17, "EventUuid": event_id or str(uuid.uuid4())},
        },
        "channel": "/data/AccountChangeEvent",
    }


def ns_notice(event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "id": event_id or str(uuid.uuid4()),
        "recordType": "customerpayment",
        "recordId": "50812",
        "eventType": "create",
        "timestamp": "2026-01-05T10:11:12.346Z",
        "lastModified": "2026-01-05T10:11:12.345678Z",
        "fields": {"payment": 250},
        **fields,
    }


def post(
    client: httpx.Client,
    source: str,
    body: bytes | dict[str, Any],
    *,
    secret: str | None,
    timestamp: int | None = None,
    event_id: str | None = None,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature_header(secret, raw, timestamp=timestamp)
    if event_id is not None:
        headers[EVENT_ID_HEADER] = event_id
    return client.post(f"/events/{source}", content=raw, headers=headers)


def test_a_signed_change_event_is_accepted_and_processed(
    intake: httpx.Client, recorder: Recorder
) -> None:
    event = cdc_event()
    event_id = event["data"]["event"]["EventUuid"]

    answer = post(intake, "salesforce", event, secret=SF_SECRET, event_id=event_id)

    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": event_id, "changes": 1}
    assert recorder.changes == [
        Change(
            "salesforce",
            RecordKind.CUSTOMER,
            ACCOUNT_ID,
            "update",
            dt.datetime(2026, 1, 5, 10, 11, 12, 345000, tzinfo=dt.UTC),
            ("Phone", "LastModifiedDate"),
        )
    ]


def test_a_signed_record_notification_is_accepted_with_either_rotating_secret(
    intake: httpx.Client, recorder: Recorder
) -> None:
    first = post(intake, "netsuite", ns_notice(), secret=NS_SECRET)
    second = post(intake, "netsuite", ns_notice(), secret="ns-new-secret")

    assert (first.status_code, second.status_code) == (202, 202)
    assert [change.kind for change in recorder.changes] == [RecordKind.PAYMENT] * 2
    change = recorder.changes[0]
    assert (change.record_id, change.change_type) == ("50812", "create")
    assert change.modified_at == dt.datetime(2026, 1, 5, 10, 11, 12, 345678, tzinfo=dt.UTC)


def test_old_values_of_a_netsuite_edit_reach_the_change(
    intake: httpx.Client, recorder: Recorder
) -> None:
    notice = ns_notice(
        recordType="customer",
        eventType="edit",
        fields={"creditHoldOverride": "ON"},
        oldFields={"creditHoldOverride": "AUTO"},
    )

    assert post(intake, "netsuite", notice, secret=NS_SECRET).status_code == 202

    change = recorder.changes[0]
    assert (change.kind, change.change_type) == (RecordKind.CUSTOMER, "update")
    assert change.changed_fields == ("creditHoldOverride",)  # as the sender named them
    assert change.previous == {"credit_hold": "AUTO"}  # by canonical attribute


@pytest.mark.parametrize(
    ("secret", "skew", "code"),
    [
        (None, None, "SIGNATURE_MISSING"),
        ("not-the-secret", None, "SIGNATURE_MISMATCH"),
        (SF_SECRET, -600, "SIGNATURE_STALE"),
        (SF_SECRET, +600, "SIGNATURE_FUTURE"),
    ],
)
def test_unsigned_wrongly_signed_and_stale_webhooks_get_401_and_nothing_is_processed(
    intake: httpx.Client, recorder: Recorder, secret: str | None, skew: int | None, code: str
) -> None:
    # the signing time is taken when the test runs, however long after collection that is
    timestamp = None if skew is None else int(time.time()) + skew
    answer = post(intake, "salesforce", cdc_event(), secret=secret, timestamp=timestamp)

    assert answer.status_code == 401
    assert answer.json()["error"] == code
    assert recorder.changes == []


def test_a_body_changed_after_signing_gets_401(intake: httpx.Client, recorder: Recorder) -> None:
    raw = json.dumps(ns_notice()).encode()
    header = signature_header(NS_SECRET, raw)
    tampered = raw.replace(b"50812", b"50813")

    answer = intake.post("/events/netsuite", content=tampered, headers={SIGNATURE_HEADER: header})

    assert answer.status_code == 401
    assert recorder.changes == []


def test_the_salesforce_secret_does_not_open_the_netsuite_intake(
    intake: httpx.Client, recorder: Recorder
) -> None:
    answer = post(intake, "netsuite", ns_notice(), secret=SF_SECRET)

    assert answer.status_code == 401
    assert recorder.changes == []


def test_a_replayed_event_gets_409_even_when_signed_again(
    intake: httpx.Client, recorder: Recorder
) -> None:
    event = cdc_event()
    raw = json.dumps(event).encode()
    header = signature_header(SF_SECRET, raw)

    first = intake.post("/events/salesforce", content=raw, headers={SIGNATURE_HEADER: header})
    replay = intake.post("/events/salesforce", content=raw, headers={SIGNATURE_HEADER: header})
    resigned = post(intake, "salesforce", raw, secret=SF_SECRET)

    assert first.status_code == 202
    assert (replay.status_code, resigned.status_code) == (409, 409)
    assert replay.json()["error"] == "REPLAYED"
    assert len(recorder.changes) == 1


def test_an_event_id_header_cannot_rebind_a_signed_body(
    intake: httpx.Client, recorder: Recorder
) -> None:
    answer = post(intake, "netsuite", ns_notice("evt-a"), secret=NS_SECRET, event_id="evt-b")

    assert answer.status_code == 400
    assert answer.json()["error"] == "EVENT_ID_MISMATCH"
    assert recorder.changes == []


@pytest.mark.parametrize(
    ("source", "body"),
    [
        ("salesforce", b"{not json"),
        ("salesforce", b"\xff\xfe"),
        ("salesforce", b"[]"),
        ("salesforce", json.dumps({"data": {"payload": {}}}).encode()),
        ("salesforce", json.dumps(cdc_event(change_type="RENAME")).encode()),
        ("salesforce", json.dumps(cdc_event(recordIds=[])).encode()),
        ("salesforce", json.dumps(cdc_event(recordIds=["not-an-id"])).encode()),
        ("salesforce", json.dumps(cdc_event(commitTimestamp="yesterday")).encode()),
        ("salesforce", json.dumps(cdc_event(entityName="Account; DROP")).encode()),
        ("salesforce", b"[" * 5000 + b"]" * 5000),
        ("netsuite", json.dumps(ns_notice(recordId="abc")).encode()),
        ("netsuite", json.dumps(ns_notice(eventType="rename")).encode()),
        ("netsuite", json.dumps(ns_notice(lastModified="last tuesday")).encode()),
        ("netsuite", json.dumps(ns_notice(lastModified="2026-01-05T10:11:12")).encode()),
        ("netsuite", json.dumps(ns_notice(lastModified="9999-12-31T23:59:59-01:00")).encode()),
        ("netsuite", json.dumps(ns_notice(lastModified="0001-01-01T00:00:00+01:00")).encode()),
        ("netsuite", json.dumps(ns_notice(fields=[1, 2])).encode()),
        ("netsuite", json.dumps({**ns_notice(), "id": ""}).encode()),
        ("netsuite", b"null"),
    ],
)
def test_malformed_signed_bodies_get_400_and_nothing_is_processed(
    intake: httpx.Client, recorder: Recorder, source: str, body: bytes
) -> None:
    secret = SF_SECRET if source == "salesforce" else NS_SECRET

    answer = post(intake, source, body, secret=secret)

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] in ("MALFORMED", "EVENT_ID_MISMATCH")
    assert recorder.changes == []


def test_bodies_over_a_megabyte_get_413_before_anything_else(
    intake: httpx.Client, recorder: Recorder
) -> None:
    padded = ns_notice(fields={"memo": "x" * 1_000_001})

    signed = post(intake, "netsuite", padded, secret=NS_SECRET)
    unsigned = post(intake, "netsuite", padded, secret=None)

    assert (signed.status_code, unsigned.status_code) == (413, 413)
    assert recorder.changes == []


def test_a_body_streamed_without_a_length_is_cut_at_the_limit(
    intake: httpx.Client, recorder: Recorder
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 100_000

    answer = intake.post("/events/netsuite", content=chunks())

    assert answer.status_code == 413
    assert recorder.changes == []


def test_a_failure_to_process_answers_503_and_the_retry_is_accepted(
    intake: httpx.Client, recorder: Recorder
) -> None:
    notice = ns_notice()
    recorder.failing = True

    failed = post(intake, "netsuite", notice, secret=NS_SECRET)
    recorder.failing = False
    retried = post(intake, "netsuite", notice, secret=NS_SECRET)

    assert failed.status_code == 503
    assert retried.status_code == 202
    assert len(recorder.changes) == 1


def test_a_source_whose_circuit_is_open_asks_the_sender_to_wait_for_its_next_trial(
    intake: httpx.Client, recorder: Recorder
) -> None:
    notice = ns_notice()
    recorder.failing = True
    recorder.failure = CircuitOpen("netsuite", "circuit open", retry_after=4.2)
    open_circuit = post(intake, "netsuite", notice, secret=NS_SECRET)
    recorder.failure = SourceUnavailable("netsuite", "HTTP 503")
    down = post(intake, "netsuite", notice, secret=NS_SECRET)

    assert open_circuit.status_code == down.status_code == 503
    assert open_circuit.headers["Retry-After"] == "5"  # the trial, not a second from now
    assert down.headers["Retry-After"] == "1"
    assert recorder.changes == []


def test_a_gap_overflow_is_accepted_with_no_change_to_process(
    intake: httpx.Client, recorder: Recorder
) -> None:
    answer = post(
        intake, "salesforce", cdc_event(change_type="GAP_OVERFLOW", recordIds=[]), secret=SF_SECRET
    )

    assert answer.status_code == 202
    assert answer.json()["changes"] == 0
    assert recorder.changes == []


def test_only_post_is_served(intake: httpx.Client) -> None:
    assert intake.get("/events/netsuite").status_code == 405


def test_a_retry_while_the_first_delivery_is_processed_is_asked_to_come_back(
    intake: httpx.Client, recorder: Recorder
) -> None:
    # given a delivery whose processing is under way (the sender timed out waiting for it)
    notice = ns_notice()
    recorder.holding = True
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(post, intake, "netsuite", notice, secret=NS_SECRET)
        assert recorder.entered.wait(10)

        # when the sender's retry arrives meanwhile
        meanwhile = post(intake, "netsuite", notice, secret=NS_SECRET)

        # and the first processing then fails
        recorder.failing = True
        recorder.released.set()
        failed = first.result(10)
    recorder.holding = recorder.failing = False
    retried = post(intake, "netsuite", notice, secret=NS_SECRET)

    # then the retry was not taken for a delivery (a 409 tells the sender it arrived), so its
    # next attempt is processed
    assert meanwhile.status_code == 503, meanwhile.text
    assert meanwhile.json()["error"] == "IN_PROGRESS"
    assert meanwhile.headers["Retry-After"] == "1"
    assert failed.status_code == 503
    assert retried.status_code == 202
    assert len(recorder.changes) == 1


@pytest.mark.parametrize("secret", ["", [], ["current", ""]])
def test_an_empty_secret_is_refused_when_the_routes_are_built_not_per_request(
    secret: str | list[str], feeds: tuple[SalesforceCrm, NetSuiteErp]
) -> None:
    crm, erp = feeds
    with pytest.raises(ValueError, match="non-empty"):
        intake_routes(
            backend=MemoryBackend(),
            process=Recorder(),
            feeds=[(crm, None), (erp, secret)],
        )
