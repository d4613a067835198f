"""The Lightning kit against Accord: its one GraphQL document is the same text everywhere it is
written and runs as a registered operation, and the answers its Jest tests are built on are
still the answers Accord gives (captured again here, on the session's sandbox)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from api.auth import DEMO_KEYS
from api.persisted import Mode, PersistedQueryOptions, load_registered
from sandbox.endpoints import Endpoints
from server import AppOptions
from tests.accord import AccordServer
from tests.clients.lightning_capture import (
    FIXTURES,
    KEY,
    KIT,
    OPERATION,
    Capture,
    Scenarios,
    document,
    document_sha256,
)
from tests.conftest import SandboxControl

DEFAULT = KIT / "force-app" / "main" / "default"
COMPONENT_MODULE = DEFAULT / "lwc" / "accordCredit" / "accordCredit.js"
APEX_CLASS = DEFAULT / "classes" / "AccordCreditController.cls"
APEX_TEST = DEFAULT / "classes" / "AccordCreditControllerTest.cls"

# Values that are the same in every capture of a scenario: codes, sources, error paths, the
# stale entry's registry fields, credit standings. Everything else is compared by type only
# (amounts, names and ids depend on which sandbox customer a scenario finds).
VERBATIM = frozenset({"code", "source", "upstreamCode", "status", "entity", "error", "fields"})
VERBATIM_LISTS = frozenset({"path", "fields"})


def committed() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(FIXTURES.glob("*.json"))
    }


def shape(value: Any, key: str | None = None) -> Any:
    """What must not drift in an answer: its keys, value types, list lengths and the values
    the panel branches on."""
    if isinstance(value, dict):
        return {name: shape(item, name) for name, item in value.items()}
    if isinstance(value, list):
        if key in VERBATIM_LISTS:
            return list(value)
        return [shape(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return "<number>"
    return value if key in VERBATIM else "<text>"


def string_literal(source: str, name: str) -> str:
    """The single-quoted string assigned to ``name`` in JavaScript or Apex source."""
    found = re.search(rf"\b{name}\s*=\s*'((?:[^'\\]|\\.)*)';", source)
    assert found is not None, f"no {name} = '...' found"
    return found.group(1).replace("\\'", "'")


# --------------------------------------------------------------------------- the document


def test_the_panels_document_is_one_text_in_the_component_and_in_apex() -> None:
    text = document()

    assert string_literal(COMPONENT_MODULE.read_text(), "CREDIT_QUERY") == text
    assert string_literal(APEX_CLASS.read_text(), "QUERY") == text
    assert string_literal(APEX_CLASS.read_text(), "OPERATION_NAME") == OPERATION
    assert f"query {OPERATION}(" in text


@pytest.fixture(scope="module")
def registered_only(sandbox: Endpoints) -> Iterator[AccordServer]:
    """Accord in production's strictest mode: only the kit's registered document runs."""
    operations = load_registered(KIT / "graphql")
    options = AppOptions(
        api_keys=DEMO_KEYS,
        persisted_queries=PersistedQueryOptions(Mode.REGISTERED, operations),
    )
    with AccordServer(sandbox, options=options) as server:
        yield server


def test_the_document_runs_by_hash_where_only_registered_operations_may(
    registered_only: AccordServer,
) -> None:
    # given the id of an account Accord knows
    account = committed()["good-standing"]["request"]["variables"]["salesforceId"]

    # when the panel's document is sent by the hash of its text alone
    body = _by_hash(registered_only, account)

    # then Accord knows it and answers it
    assert "errors" not in body, body
    assert body["data"]["customer"]["credit"]["status"] == "GOOD_STANDING"


def _by_hash(server: AccordServer, account: str) -> dict[str, Any]:
    with server.client() as http:
        response = http.post(
            "/graphql",
            json={
                "operationName": OPERATION,
                "variables": {"salesforceId": account},
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_sha256()}},
            },
            headers={"Authorization": f"Bearer {KEY}"},
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --------------------------------------------------------------------------- the fixtures


@pytest.fixture(scope="module")
def live(
    sandbox: Endpoints, _sf_control: SandboxControl, _ns_control: SandboxControl
) -> dict[str, Capture]:
    """Every scenario captured again, now, from Accord on the session's sandbox."""
    _sf_control.reset()
    _ns_control.reset()
    try:
        return Scenarios(sandbox, _sf_control, _ns_control).capture_all()
    finally:
        _sf_control.reset()
        _ns_control.reset()


def test_every_scenario_has_a_committed_fixture(live: dict[str, Capture]) -> None:
    assert sorted(committed()) == sorted(live)


@pytest.mark.parametrize("name", sorted(committed()))
def test_a_committed_fixture_has_the_shape_of_accords_answer_today(
    name: str, live: dict[str, Capture]
) -> None:
    fixture = committed()[name]
    now = live[name]

    assert fixture["request"]["documentSha256"] == document_sha256(), (
        "the panel's document changed: refresh the fixtures "
        "(.venv/bin/python -m tests.clients.lightning_capture)"
    )
    assert fixture["status"] == now.status
    assert shape(fixture["body"]) == shape(now.body), (
        f"Accord's answer for {name!r} changed shape: refresh the fixtures "
        "(.venv/bin/python -m tests.clients.lightning_capture) and check the panel reads it"
    )


def test_the_shapes_compared_tell_the_panels_states_apart() -> None:
    fixtures = {name: shape(fixture["body"]) for name, fixture in committed().items()}

    # each scenario's answer is distinguishable from every other by what shape() keeps
    assert len({json.dumps(value, sort_keys=True) for value in fixtures.values()}) == len(fixtures)


@pytest.mark.parametrize(
    ("constant", "name"), [("GOOD_STANDING", "good-standing"), ("ERP_OUTAGE", "erp-outage")]
)
def test_the_apex_tests_answers_are_captured_ones(constant: str, name: str) -> None:
    body = committed()[name]["body"]

    assert json.loads(string_literal(APEX_TEST.read_text(), constant)) == body
