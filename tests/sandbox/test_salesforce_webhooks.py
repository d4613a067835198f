"""The Salesforce emulator posts Change Data Capture events, signed, when records change.

A receiver on a loopback port records what arrives; the tests write through the emulator's
REST API (as any client would) and check the body, the signature and the retries. Each test
writes to records it creates and switches its targets off afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from events.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, verify
from sandbox.endpoints import Endpoints
from tests.accord import Emulators
from tests.conftest import SandboxControl
from tests.events.http_support import WAIT, Received, Receiver, WebhookTargets, serve

SECRET = "sf-webhook-secret"


@pytest.fixture
def targets(sandbox: Endpoints) -> Iterator[WebhookTargets]:
    registry = WebhookTargets(sandbox.salesforce.instance_url, sandbox.salesforce.ca_file)
    yield registry
    registry.close()


def about(record_id: str) -> Callable[[Received], bool]:
    def accept(item: Received) -> bool:
        header = json.loads(item.body)["data"]["payload"]["ChangeEventHeader"]
        return record_id in header["recordIds"]

    return accept


def new_account(emulators: Emulators) -> str:
    return emulators.sf_create("Account", {"Name": f"Webhook {uuid.uuid4().hex[:8]} Ltd"})


def test_an_update_arrives_as_a_signed_change_event(
    emulators: Emulators, targets: WebhookTargets, receiver: tuple[Receiver, str]
) -> None:
    recorder, url = receiver
    targets.add(url, SECRET)
    account = new_account(emulators)

    emulators.sf_update("Account", account, {"Phone": "+1 555 0142", "Website": None})

    found = recorder.wait_for(about(account), count=2)
    update = next(json.loads(item.body) for item in found if b'"changeType":"UPDATE"' in item.body)
    delivery = next(item for item in found if b'"changeType":"UPDATE"' in item.body)
    header = update["data"]["payload"]["ChangeEventHeader"]
    stored = emulators.sf_get("Account", account)
    stamp = dt.datetime.fromisoformat(stored["SystemModstamp"].replace("+0000", "+00:00"))
    assert verify(delivery.headers[SIGNATURE_HEADER.lower()], delivery.body, SECRET)
    assert delivery.headers[EVENT_ID_HEADER.lower()] == update["data"]["event"]["EventUuid"]
    assert update["channel"] == "/data/AccountChangeEvent"
    assert header["entityName"] == "Account"
    assert header["recordIds"] == [account]
    assert "Phone" in header["changedFields"]
    assert update["data"]["payload"]["Phone"] == "+1 555 0142"
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert header["commitTimestamp"] == (stamp - epoch) // dt.timedelta(milliseconds=1)
    assert isinstance(update["data"]["event"]["replayId"], int)


def test_a_create_carries_the_new_record_and_a_delete_only_the_header(
    emulators: Emulators,
    targets: WebhookTargets,
    receiver: tuple[Receiver, str],
) -> None:
    recorder, url = receiver
    targets.add(url, SECRET)

    account = new_account(emulators)
    emulators.sf_delete("Account", account)

    found = [json.loads(item.body) for item in recorder.wait_for(about(account), count=2)]
    kinds = {event["data"]["payload"]["ChangeEventHeader"]["changeType"]: event for event in found}
    assert set(kinds) == {"CREATE", "DELETE"}
    assert kinds["CREATE"]["data"]["payload"]["Name"].startswith("Webhook ")
    assert set(kinds["DELETE"]["data"]["payload"]) == {"ChangeEventHeader"}


def test_a_failing_receiver_gets_the_same_event_again_until_it_takes_it(
    emulators: Emulators, targets: WebhookTargets
) -> None:
    flaky = Receiver(fail_first=2, fail_status=503)
    with serve(flaky.app) as base:
        targets.add(f"{base}/hook", SECRET)
        account = new_account(emulators)

        attempts = flaky.wait_for(about(account), count=3)
        stats = targets.listing()[f"{base}/hook"]
        deadline = time.monotonic() + WAIT
        while stats["delivered"] < 1 and time.monotonic() < deadline:  # the 200 is being read
            time.sleep(0.02)
            stats = targets.listing()[f"{base}/hook"]

    assert [item.status for item in attempts] == [503, 503, 200]
    assert len({item.headers[EVENT_ID_HEADER.lower()] for item in attempts}) == 1
    assert all(
        verify(item.headers[SIGNATURE_HEADER.lower()], item.body, SECRET) for item in attempts
    )
    assert stats["retried"] >= 2
    assert stats["delivered"] >= 1


def test_a_retry_waits_what_the_receiver_asks(
    emulators: Emulators, targets: WebhookTargets
) -> None:
    busy = Receiver(fail_first=1, fail_status=503, retry_after="2")
    with serve(busy.app) as base:
        targets.add(f"{base}/hook", SECRET)
        account = new_account(emulators)
        first, second = busy.wait_for(about(account), count=2)

    assert (first.status, second.status) == (503, 200)
    # the first backoff is 0.2 s; the receiver asked for 2
    assert second.at - first.at >= 1.9


def test_a_refusal_is_not_retried(emulators: Emulators, targets: WebhookTargets) -> None:
    refusing = Receiver(fail_first=1_000, fail_status=401)
    with serve(refusing.app) as base:
        targets.add(f"{base}/hook", SECRET)
        account = new_account(emulators)
        emulators.sf_update("Account", account, {"Phone": "+1 555 0100"})
        refusing.wait_for(about(account), count=2)
        # a retry would follow within the first backoff (0.2 s): give it time to show
        arrived = refusing.wait_for(about(account), count=3, timeout=1.0)
        stats = targets.listing()[f"{base}/hook"]

    assert len(arrived) == 2  # one per change, none retried
    assert stats["rejected"] >= 2
    assert stats["retried"] == 0


def test_a_disabled_target_gets_nothing_and_reset_keeps_targets(
    emulators: Emulators,
    targets: WebhookTargets,
    receiver: tuple[Receiver, str],
    sf_control: SandboxControl,
) -> None:
    recorder, url = receiver
    switched_off = Receiver()
    with serve(switched_off.app) as base:
        targets.add(f"{base}/hook", SECRET)
        targets.disable(f"{base}/hook")
        targets.add(url, SECRET)
        sf_control.reset()
        account = new_account(emulators)
        recorder.wait_for(about(account))
        listing = targets.listing()

    assert switched_off.received == []
    assert listing[f"{base}/hook"]["enabled"] is False
    assert listing[url]["enabled"] is True


def test_targets_are_kept_per_url_and_secrets_never_shown(
    targets: WebhookTargets, receiver: tuple[Receiver, str]
) -> None:
    url = f"{receiver[1]}?target={uuid.uuid4().hex}"
    first = targets.add(url, SECRET)
    second = targets.add(url, ["new-secret", SECRET])

    mine = [target for target in second["targets"] if target["url"] == url]
    assert first["result"] == "added"
    assert second["result"] == "updated"
    assert len(mine) == 1
    assert mine[0]["secrets"] == 2
    assert SECRET not in json.dumps(second)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"secret": SECRET},
        {"url": "ftp://example.com/hook", "secret": SECRET},
        {"url": "/relative", "secret": SECRET},
        {"url": "http://127.0.0.1:9/never-registered"},
        {"url": "http://127.0.0.1:9/x", "secret": ""},
        {"url": "http://127.0.0.1:9/x", "secret": [1]},
        {"url": "http://127.0.0.1:9/x", "secret": SECRET, "enabled": "yes"},
        {"url": "http://127.0.0.1:9/x", "secret": SECRET, "colour": "blue"},
    ],
)
def test_bad_target_definitions_get_400(targets: WebhookTargets, body: object) -> None:
    answer = targets.post(body)

    assert answer.status_code == 400
    assert "error" in answer.json()
