"""Canonical ids: ERP ids are opaque strings, and the ERP adapter says which it can have."""

from __future__ import annotations

import pytest

from domain import ids
from tests.accord import AccordServer


@pytest.mark.parametrize("erp_id", ["50012", "SO/2026/0001", "party:42", "Ünïcode-7", "a b"])
def test_any_erp_id_round_trips_through_a_canonical_id(erp_id: str) -> None:
    if " " in erp_id:
        with pytest.raises(ids.InvalidId):
            ids.parse_erp_object_id("Order", ids.erp_object_id("Order", erp_id))
        return
    canonical = ids.erp_object_id("Order", erp_id)
    assert canonical.startswith("ord:")
    assert ":" not in canonical[4:]
    assert ids.parse_erp_object_id("Order", canonical) == erp_id
    assert ids.parse_customer_id(ids.customer_id(None, None, erp_id)) == ids.CustomerRef(
        erp_id=erp_id
    )


def test_numeric_erp_ids_read_as_before() -> None:
    assert ids.erp_object_id("Invoice", "50013") == "inv:50013"
    assert ids.parse_erp_object_id("Invoice", "inv:50013") == "50013"


@pytest.mark.parametrize("bad", ["ord:", "ord:" + "9" * 81, "ord:a%0Ab", "inv:1", "50012"])
def test_malformed_or_foreign_ids_are_refused(bad: str) -> None:
    with pytest.raises(ids.InvalidId):
        ids.parse_erp_object_id("Order", bad)


def test_the_adapter_decides_which_ids_its_erp_can_have() -> None:
    with pytest.raises(ids.InvalidId, match=r"\(ids are numbers\)"):
        ids.parse_erp_object_id("Order", "ord:SO-1", str.isdigit, "ids are numbers")
    assert ids.parse_erp_object_id("Order", "ord:17", str.isdigit, "ids are numbers") == "17"


def test_an_id_the_erp_cannot_have_is_a_bad_input_naming_its_shape(accord: AccordServer) -> None:
    answer = accord.graphql('{ order(id: "ord:SO-1") { number } }')
    error = answer["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "a NetSuite internal id is a number" in error["message"]


def test_a_salesforce_id_that_fails_its_checksum_is_refused_as_such(
    accord: AccordServer,
) -> None:
    # given a well-formed 18-character Account id whose last three characters are not the
    # checksum of the first fifteen (its checksum is "AAM"; one letter changed case after it)
    good = "0015g0000004EClAAM"
    altered = "0015g0000004EClAAN"

    # when a caller looks each up by Salesforce id
    found = accord.graphql(f'{{ customer(salesforceId: "{good}") {{ name }} }}')
    refused = accord.graphql(f'{{ customer(salesforceId: "{altered}") {{ name }} }}')

    # then the good one is found, and the altered one is a bad input that names the checksum
    assert found["data"]["customer"]["name"]
    error = refused["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "checksum" in error["message"]
    assert altered in error["message"]
    assert "0015g0000004EClAAM" not in error["message"].replace(altered, "")


@pytest.mark.parametrize("malformed", ["001abc", "0015g0000004ECl-AM", "0015g0000004EClAAMX"])
def test_a_malformed_salesforce_id_says_what_an_id_looks_like(
    accord: AccordServer, malformed: str
) -> None:
    refused = accord.graphql(f'{{ customer(salesforceId: "{malformed}") {{ name }} }}')

    error = refused["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "15 or 18 letters and digits" in error["message"]
    assert "checksum" not in error["message"]
