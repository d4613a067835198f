"""SOQL through the Salesforce emulator's query resource, over HTTPS.

Results are checked against the world the sandbox was seeded from (same seed, size and date);
refusals against the error code and message Salesforce answers. Hostile and malformed queries
must each get a 400 with a vendor error code, never a 500.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.world import World

API = "/services/data/v59.0"
FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)


def query(api: httpx.Client, soql: str, **headers: str) -> dict[str, Any]:
    response = api.get(f"{API}/query", params={"q": soql}, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def rows(api: httpx.Client, soql: str) -> list[dict[str, Any]]:
    result = query(api, soql)
    assert result["done"] is True
    records: list[dict[str, Any]] = result["records"]
    return records


def refusal(api: httpx.Client, soql: str) -> tuple[int, dict[str, Any]]:
    response = api.get(f"{API}/query", params={"q": soql})
    body = response.json()
    assert isinstance(body, list), body
    assert len(body) == 1, body
    return response.status_code, body[0]


def accounts(world: World) -> list[Any]:
    return [c for c in world.customers if c.sf_account_id]


def opportunities(world: World) -> list[Any]:
    return [opp for c in world.customers for opp in c.opportunities]


# --- projection ------------------------------------------------------------------------------


def test_fields_answer_in_canonical_case_in_the_order_selected(
    api: httpx.Client, world: World
) -> None:
    customer = accounts(world)[0]

    [record] = rows(
        api,
        f"select erp_customer_id__c, NAME, id from ACCOUNT where id = '{customer.sf_account_id}'",
    )

    assert list(record) == ["attributes", "ERP_Customer_Id__c", "Name", "Id"]
    assert record["attributes"] == {
        "type": "Account",
        "url": f"{API}/sobjects/Account/{customer.sf_account_id}",
    }
    assert (record["Name"], record["ERP_Customer_Id__c"]) == (customer.name, customer.key)


def test_parent_fields_nest_under_their_relationship_with_attributes(
    api: httpx.Client, world: World
) -> None:
    customer = next(c for c in accounts(world) if c.opportunities)
    opp = customer.opportunities[0]
    owner_id = {name: sf_id for sf_id, name in world.users}[customer.owner]

    [record] = rows(
        api,
        "SELECT Name, Account.Name, Account.Owner.Name, Account.Id "
        f"FROM Opportunity WHERE Id = '{opp.sf_id}'",
    )

    assert record["Name"] == opp.name
    assert record["Account"] == {
        "attributes": {
            "type": "Account",
            "url": f"{API}/sobjects/Account/{customer.sf_account_id}",
        },
        "Name": customer.name,
        "Owner": {
            "attributes": {"type": "User", "url": f"{API}/sobjects/User/{owner_id}"},
            "Name": customer.owner,
        },
        "Id": customer.sf_account_id,
    }


def test_a_missing_parent_answers_null(api: httpx.Client) -> None:
    created = api.post(f"{API}/sobjects/Contact/", json={"LastName": f"Orphan {uuid.uuid4()}"})
    contact_id = created.json()["id"]

    [record] = rows(api, f"SELECT Id, Account.Name FROM Contact WHERE Id = '{contact_id}'")

    assert record["Account"] is None


def test_fields_derived_through_lookups(api: httpx.Client, world: World) -> None:
    opp = next(o for o in opportunities(world) if o.lines)
    line = opp.lines[0]

    records = rows(
        api,
        "SELECT ProductCode, Product2.Family, TotalPrice, CurrencyIsoCode "
        f"FROM OpportunityLineItem WHERE Id = '{opp.line_sf_ids[0]}'",
    )

    assert records == [
        {
            "attributes": {
                "type": "OpportunityLineItem",
                "url": f"{API}/sobjects/OpportunityLineItem/{opp.line_sf_ids[0]}",
            },
            "ProductCode": line.product.sku,
            "Product2": {
                "attributes": {
                    "type": "Product2",
                    "url": f"{API}/sobjects/Product2/{line.product.sf_product_id}",
                },
                "Family": line.product.family,
            },
            "TotalPrice": float(line.amount),
            "CurrencyIsoCode": opp.currency,
        }
    ]


# --- operators -------------------------------------------------------------------------------


def seeded(world: World) -> set[str]:
    """Every Salesforce id the world assigned (records other tests create are not among them)."""
    ids: set[str] = set()
    for c in world.customers:
        if c.sf_account_id:
            ids.add(c.sf_account_id)
        ids.update(x.sf_id for x in c.contacts)
        for opp in c.opportunities:
            ids.add(opp.sf_id)
            ids.update(opp.line_sf_ids)
    return ids


def found_ids(api: httpx.Client, world: World, soql: str) -> set[str]:
    """The ids a query answers, among the world's records (the shared sandbox also holds
    records other tests wrote, which the world cannot predict)."""
    return {r["Id"] for r in rows(api, soql)} & seeded(world)


def test_equality_and_inequality(api: httpx.Client, world: World) -> None:
    won = {o.sf_id for o in opportunities(world) if o.stage == "Closed Won"}
    others = {o.sf_id for o in opportunities(world)} - won

    equal = found_ids(api, world, "SELECT Id FROM Opportunity WHERE StageName = 'closed won'")
    not_equal = found_ids(api, world, "SELECT Id FROM Opportunity WHERE StageName != 'Closed Won'")
    angle = found_ids(api, world, "SELECT Id FROM Opportunity WHERE StageName <> 'Closed Won'")

    assert equal == won
    assert not_equal == others
    assert angle == others


def test_ordering_comparisons_on_numbers_and_dates(api: httpx.Client, world: World) -> None:
    seeded_opps = opportunities(world)
    date = world.as_of.isoformat()

    big = found_ids(api, world, "SELECT Id FROM Opportunity WHERE Amount >= 10000")
    small = found_ids(api, world, "SELECT Id FROM Opportunity WHERE Amount < 500.5")
    past = found_ids(api, world, f"SELECT Id FROM Opportunity WHERE CloseDate <= {date}")
    future = found_ids(api, world, f"SELECT Id FROM Opportunity WHERE CloseDate > {date}")

    assert big == {o.sf_id for o in seeded_opps if o.amount >= Decimal("10000")}
    assert small == {o.sf_id for o in seeded_opps if o.amount < Decimal("500.5")}
    assert past == {o.sf_id for o in seeded_opps if o.close_date <= world.as_of}
    assert future == {o.sf_id for o in seeded_opps if o.close_date > world.as_of}


def test_in_and_not_in(api: httpx.Client, world: World) -> None:
    stages = ("Prospecting", "Closed Lost")
    inside = {o.sf_id for o in opportunities(world) if o.stage in stages}

    matched = found_ids(
        api, world, "SELECT Id FROM Opportunity WHERE StageName IN ('Prospecting', 'closed lost')"
    )
    excluded = found_ids(
        api,
        world,
        "SELECT Id FROM Opportunity WHERE StageName NOT IN ('Prospecting', 'Closed Lost')",
    )

    assert matched == inside
    assert excluded == {o.sf_id for o in opportunities(world)} - inside


def test_like_is_case_insensitive_with_both_wildcards(api: httpx.Client, world: World) -> None:
    names = {c.sf_account_id: c.name.lower() for c in accounts(world)}

    percent = found_ids(api, world, "SELECT Id FROM Account WHERE Name LIKE 'aCME%'")
    underscore = found_ids(api, world, "SELECT Id FROM Account WHERE Name LIKE '_cme%'")
    negated = found_ids(api, world, "SELECT Id FROM Account WHERE NOT Name LIKE '%inc.'")

    assert percent == {i for i, name in names.items() if name.startswith("acme")}
    assert underscore == {i for i, name in names.items() if name[1:4] == "cme"}
    assert negated == {i for i, name in names.items() if not name.endswith("inc.")}


def test_null_and_boolean_values(api: httpx.Client, world: World) -> None:
    without_tax = found_ids(api, world, "SELECT Id FROM Account WHERE Tax_Id__c = null")
    with_key = found_ids(api, world, "SELECT Id FROM Account WHERE ERP_Customer_Id__c != NULL")
    won = found_ids(api, world, "SELECT Id FROM Opportunity WHERE IsWon = TRUE")

    assert without_tax == {c.sf_account_id for c in accounts(world) if c.tax_id is None}
    assert with_key == {c.sf_account_id for c in accounts(world) if c.account_key is not None}
    assert won == {o.sf_id for o in opportunities(world) if o.stage == "Closed Won"}


def test_not_and_or_with_parentheses(api: httpx.Client, world: World) -> None:
    expected = {
        o.sf_id
        for o in opportunities(world)
        if not (o.stage == "Closed Won" or o.stage == "Closed Lost") and o.currency == "EUR"
    }

    found = found_ids(
        api,
        world,
        "SELECT Id FROM Opportunity WHERE (NOT (StageName = 'Closed Won' OR "
        "StageName = 'Closed Lost')) AND (CurrencyIsoCode = 'EUR')",
    )

    assert found == expected


def test_relative_date_literal(api: httpx.Client, world: World) -> None:
    today = dt.datetime.now(dt.UTC).date()
    expected = {
        o.sf_id
        for o in opportunities(world)
        if today - dt.timedelta(days=30) <= o.close_date <= today
    }

    found = found_ids(api, world, "SELECT Id FROM Opportunity WHERE CloseDate = LAST_N_DAYS:30")

    assert found == expected


def test_string_escapes_find_a_name_with_a_quote(api: httpx.Client) -> None:
    name = f"O'Brien & \\Sons {uuid.uuid4().hex[:6]}"
    created = api.post(f"{API}/sobjects/Account/", json={"Name": name}).json()

    found = rows(
        api,
        "SELECT Id, Name FROM Account WHERE Name = "
        f"'{name.replace(chr(92), chr(92) * 2).replace(chr(39), chr(92) + chr(39))}'",
    )

    assert [(r["Id"], r["Name"]) for r in found] == [(created["id"], name)]


def test_ids_filter_in_fifteen_and_eighteen_characters(api: httpx.Client, world: World) -> None:
    chosen = [c.sf_account_id for c in accounts(world)[:3]]
    assert all(chosen)
    listed = ", ".join(f"'{i[:15]}'" for i in chosen[:2] if i) + f", '{chosen[2]}'"

    found = rows(api, f"SELECT Id FROM Account WHERE Id IN ({listed})")

    assert sorted(r["Id"] for r in found) == sorted(i for i in chosen if i)


def test_lookup_filters_find_children(api: httpx.Client, world: World) -> None:
    chosen = [c for c in accounts(world) if c.contacts][:5]
    listed = ", ".join(f"'{c.sf_account_id}'" for c in chosen)

    found = rows(api, f"SELECT Id, AccountId FROM Contact WHERE AccountId IN ({listed})")

    assert sorted(r["Id"] for r in found) == sorted(x.sf_id for c in chosen for x in c.contacts)


# --- ORDER BY, LIMIT, OFFSET -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("clause", "nulls_first", "descending"),
    [
        ("Tax_Id__c", True, False),
        ("Tax_Id__c ASC NULLS LAST", False, False),
        ("Tax_Id__c DESC", True, True),
        ("Tax_Id__c DESC NULLS LAST", False, True),
    ],
)
def test_order_by_places_nulls_as_asked(
    api: httpx.Client, world: World, clause: str, nulls_first: bool, descending: bool
) -> None:
    taxes = [c.tax_id for c in accounts(world)]
    values = [t for t in taxes if t is not None]
    present: list[str | None] = [*sorted(values, key=str.upper, reverse=descending)]
    blanks: list[str | None] = [None] * taxes.count(None)

    found = rows(api, f"SELECT Id, Tax_Id__c FROM Account ORDER BY {clause}")

    ordered = [r["Tax_Id__c"] for r in found if r["Id"] in seeded(world)]
    assert ordered == (blanks + present if nulls_first else present + blanks)


def test_order_by_several_fields_with_limit_and_offset(api: httpx.Client, world: World) -> None:
    chosen = accounts(world)[:40]
    listed = ", ".join(f"'{c.sf_account_id}'" for c in chosen)
    ordered = sorted(chosen, key=lambda c: (c.industry.upper(), c.name.upper()))

    page = rows(
        api,
        f"SELECT Name FROM Account WHERE Id IN ({listed}) ORDER BY Industry, Name "
        "LIMIT 7 OFFSET 10",
    )

    assert [r["Name"] for r in page] == [c.name for c in ordered[10:17]]


def test_picklists_sort_in_their_defined_order(api: httpx.Client, world: World) -> None:
    stages = [
        "Prospecting",
        "Qualification",
        "Needs Analysis",
        "Value Proposition",
        "Id. Decision Makers",
        "Perception Analysis",
        "Proposal/Price Quote",
        "Negotiation/Review",
        "Closed Won",
        "Closed Lost",
    ]

    found = rows(api, "SELECT Id, StageName FROM Opportunity ORDER BY StageName DESC")

    seen = [r["StageName"] for r in found if r["Id"] in seeded(world)]
    assert seen == sorted(seen, key=stages.index, reverse=True)
    assert len(seen) == len(opportunities(world))


def test_offset_over_two_thousand_is_out_of_range(api: httpx.Client) -> None:
    status, error = refusal(api, "SELECT Id FROM Account LIMIT 10 OFFSET 2001")

    assert status == 400
    assert error == {
        "message": "Maximum SOQL offset allowed is 2000",
        "errorCode": "NUMBER_OUTSIDE_VALID_RANGE",
    }


def test_count_of_a_field_answers_an_aggregate_result(api: httpx.Client, world: World) -> None:
    chosen = accounts(world)[:60]
    listed = ", ".join(f"'{c.sf_account_id}'" for c in chosen)
    taxed = sum(1 for c in chosen if c.tax_id)

    result = query(api, f"SELECT COUNT(Tax_Id__c) FROM Account WHERE Id IN ({listed})")

    assert result["totalSize"] == 1
    assert result["records"] == [{"attributes": {"type": "AggregateResult"}, "expr0": taxed}]


def test_batch_size_header_pages_and_an_unknown_locator_is_refused(
    api: httpx.Client, world: World
) -> None:
    total = sum(len(o.lines) for o in opportunities(world))

    first = query(
        api,
        "SELECT Id FROM OpportunityLineItem WHERE Quantity > 0",
        **{"Sforce-Query-Options": "batchSize=500"},
    )
    second = api.get(first["nextRecordsUrl"]).json()
    bogus = api.get(f"{API}/query/01g5g0000000000AAA-500")

    assert first["totalSize"] >= total
    assert len(first["records"]) == 500
    assert first["nextRecordsUrl"].endswith("-500")
    assert second["nextRecordsUrl"].endswith("-1000")
    assert not {r["Id"] for r in first["records"]} & {r["Id"] for r in second["records"]}
    assert bogus.status_code == 400
    assert bogus.json() == [
        {"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}
    ]


# --- refusals --------------------------------------------------------------------------------


def test_unknown_field_is_invalid_field_with_the_caret(api: httpx.Client) -> None:
    status, error = refusal(api, "SELECT Id, Foo FROM Account")

    assert status == 400
    assert error == {
        "message": "\nSELECT Id, Foo FROM Account\n           ^\nERROR at Row:1:Column:12\n"
        f"No such column 'Foo' on entity 'Account'. {FIELD_HINT}",
        "errorCode": "INVALID_FIELD",
    }


def test_unknown_relationship_and_unknown_parent_field(api: httpx.Client) -> None:
    _, relationship = refusal(api, "SELECT Boss.Name FROM Contact")
    _, parent_field = refusal(api, "SELECT Account.Nope FROM Contact")

    assert relationship["errorCode"] == "INVALID_FIELD"
    assert relationship["message"].endswith(
        "Didn't understand relationship 'Boss' in field path. If you are attempting to use a "
        "custom relationship, be sure to append the '__r' after the custom relationship name. "
        "Please reference your WSDL or the describe call for the appropriate names."
    )
    assert parent_field["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Nope' on entity 'Account'." in parent_field["message"]


def test_unknown_object_is_invalid_type(api: httpx.Client) -> None:
    status, error = refusal(api, "SELECT Id FROM Invoice__x")

    assert status == 400
    assert error["errorCode"] == "INVALID_TYPE"
    assert error["message"] == (
        "\nSELECT Id FROM Invoice__x\n               ^\nERROR at Row:1:Column:16\n"
        "sObject type 'Invoice__x' is not supported. If you are attempting to use a custom "
        "object, be sure to append the '__c' after the entity name. Please reference your WSDL "
        "or the describe call for the appropriate names."
    )


@pytest.mark.parametrize(
    ("condition", "message_end"),
    [
        (
            "Name = 5",
            "value of filter criterion for field 'Name' must be of type string and "
            "should be enclosed in quotes",
        ),
        (
            "AnnualRevenue = '5'",
            "value of filter criterion for field 'AnnualRevenue' must be of "
            "type double and should not be enclosed in quotes",
        ),
        (
            "CreatedDate = 2024-01-01",
            "value of filter criterion for field 'CreatedDate' must be "
            "of type dateTime and should not be enclosed in quotes",
        ),
        ("Id = 'not-an-id'", "invalid ID field: not-an-id"),
        ("OwnerId IN ('005000000000000AAA', 'x')", "invalid ID field: x"),
        (
            "NumberOfEmployees > true",
            "value of filter criterion for field 'NumberOfEmployees' "
            "must be of type integer and should not be enclosed in "
            "quotes",
        ),
    ],
)
def test_type_mismatch_is_invalid_query_filter_operator(
    api: httpx.Client, condition: str, message_end: str
) -> None:
    status, error = refusal(api, f"SELECT Id FROM Account WHERE {condition}")

    assert status == 400
    assert error["errorCode"] == "INVALID_QUERY_FILTER_OPERATOR"
    assert error["message"].endswith(message_end)


def test_long_text_cannot_be_filtered(api: httpx.Client) -> None:
    _, error = refusal(api, "SELECT Id FROM Account WHERE Description = 'x'")

    assert error["errorCode"] == "INVALID_FIELD"
    assert error["message"].endswith("field 'Description' can not be filtered in a query call")


def test_malformed_query_points_at_the_unexpected_token(api: httpx.Client) -> None:
    status, error = refusal(api, "SELECT Id Name FROM Account")

    assert status == 400
    assert error == {
        "message": "\nSELECT Id Name FROM Account\n          ^\nERROR at Row:1:Column:11\n"
        "unexpected token: 'Name'",
        "errorCode": "MALFORMED_QUERY",
    }


HOSTILE = [
    "SELECT Id FROM Account WHERE Name = 'unbalanced",
    "SELECT Id FROM Account WHERE Name = 'x'; DELETE FROM Account",
    "SELECT Id FROM Account WHERE Name = 'x' -- comment",
    "SELECT Id FROM Account UNION SELECT Id FROM Contact",
    "SELECT Id FROM Account WHERE Name = 'x' OR 1=1",
    "SELECT Id FROM Account WHERE Name = '\\x'",
    "SELECT Id FROM Account WHERE Name = 'a\x00b'",
    "SELECT * FROM Account",
    "SELECT Id FROM Account WHERE " + "(" * 150 + "Name = 'x'" + ")" * 150,
    "SELECT Id FROM Account WHERE Name IN ()",
    "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
    "SELECT Id FROM Account LIMIT -1",
    "SELECT Id FROM Account WHERE CreatedDate > 2024-02-30T00:00:00Z",
    "SELECT Id FROM Account WHERE Name LIKE 5",
    "SELECT Account.Owner.CreatedBy.LastModifiedBy.CreatedBy.LastModifiedBy.Name FROM Contact",
    "SELECT Id FROM Account WHERE Id LIKE '001%'",
    "SELECT Id FROM Account ORDER BY Description",
    "SELECT Id FROM Account WHERE CloseDate = TODAY",
    "\u202eSELECT Id FROM Account",
    "",
    "   ",
]


@pytest.mark.parametrize("soql", HOSTILE)
def test_hostile_and_malformed_queries_get_a_vendor_error_never_a_500(
    api: httpx.Client, soql: str
) -> None:
    response = api.get(f"{API}/query", params={"q": soql})

    assert response.status_code == 400, response.text
    [error] = response.json()
    assert error["errorCode"] in {
        "MALFORMED_QUERY",
        "INVALID_FIELD",
        "INVALID_TYPE",
        "INVALID_QUERY_FILTER_OPERATOR",
        "QUERY_TOO_COMPLICATED",
        "NUMBER_OUTSIDE_VALID_RANGE",
    }
    assert error["message"]


def test_an_escaped_injection_attempt_is_just_a_value(api: httpx.Client) -> None:
    attack = "x' OR Name != '"
    escaped = attack.replace("'", "\\'")

    result = query(api, f"SELECT COUNT() FROM Account WHERE Name = '{escaped}'")

    assert result["totalSize"] == 0


def test_a_long_in_list_within_the_uri_limit_is_answered(api: httpx.Client, world: World) -> None:
    ids = [o.sf_id for o in opportunities(world)][:550]

    found = rows(api, f"SELECT Id FROM Opportunity WHERE Id IN ({', '.join(repr(i) for i in ids)})")

    assert sorted(r["Id"] for r in found) == sorted(ids)


def test_a_uri_over_sixteen_kilobytes_is_refused_with_414(api: httpx.Client) -> None:
    listed = ", ".join(["'0015g0000004EClAAM'"] * 900)
    soql = f"SELECT Id FROM Account WHERE Id IN ({listed})"

    response = api.get(f"{API}/query", params={"q": soql})

    assert response.status_code == 414
