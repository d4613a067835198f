"""Writes to the Salesforce emulator over HTTPS: validation errors as Salesforce words them,
derived fields and roll-ups, cascades, and composite collections with allOrNone.

Every test writes records of its own; the world's seeded records are only read.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.world import World

API = "/services/data/v59.0"


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:10]}"


def create(api: httpx.Client, sobject: str, body: dict[str, Any]) -> str:
    response = api.post(f"{API}/sobjects/{sobject}/", json=body)
    assert response.status_code == 201, response.text
    record_id: str = response.json()["id"]
    return record_id


def get(api: httpx.Client, sobject: str, record_id: str) -> dict[str, Any]:
    response = api.get(f"{API}/sobjects/{sobject}/{record_id}")
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    return record


def refused(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    [error] = response.json()
    assert isinstance(error, dict)
    return error


def account_of(api: httpx.Client, currency: str = "USD") -> str:
    """A new account to hang records on (the world's accounts keep exactly their children)."""
    return create(api, "Account", {"Name": unique("Parent"), "CurrencyIsoCode": currency})


# --- field validation ------------------------------------------------------------------------


def test_a_missing_required_field(api: httpx.Client) -> None:
    account = refused(api.post(f"{API}/sobjects/Account/", json={"Phone": "1"}))
    opportunity = refused(api.post(f"{API}/sobjects/Opportunity/", json={"Amount": 5}))

    assert account == {
        "message": "Required fields are missing: [Name]",
        "errorCode": "REQUIRED_FIELD_MISSING",
        "fields": ["Name"],
    }
    assert opportunity["fields"] == ["Name", "StageName", "CloseDate"]
    assert opportunity["message"] == "Required fields are missing: [Name, StageName, CloseDate]"


def test_clearing_a_required_field_on_update(api: httpx.Client) -> None:
    account_id = create(api, "Account", {"Name": unique("Clear")})

    error = refused(api.patch(f"{API}/sobjects/Account/{account_id}", json={"Name": None}))

    assert error["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert error["fields"] == ["Name"]


def test_an_unknown_field(api: httpx.Client) -> None:
    error = refused(api.post(f"{API}/sobjects/Account/", json={"Name": "x", "Colour__c": "red"}))

    assert error == {
        "message": "No such column 'Colour__c' on sobject of type Account",
        "errorCode": "INVALID_FIELD",
    }


def test_read_only_fields_and_ids_cannot_be_written(api: httpx.Client) -> None:
    read_only = refused(
        api.post(
            f"{API}/sobjects/Opportunity/",
            json={
                "Name": "x",
                "StageName": "Prospecting",
                "CloseDate": "2030-01-01",
                "IsWon": True,
                "ExpectedRevenue": 5,
            },
        )
    )
    with_id = refused(
        api.post(
            f"{API}/sobjects/Account/",
            json={
                "Name": "x",
                "Id": "001000000000000AAA",
            },
        )
    )

    assert read_only == {
        "message": "Unable to create/update fields: IsWon, ExpectedRevenue. Please check the "
        "security settings of this field and verify that it is read/write for your "
        "profile or permission set.",
        "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
        "fields": ["IsWon", "ExpectedRevenue"],
    }
    assert with_id == {
        "message": "cannot specify Id in an insert call",
        "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
        "fields": ["Id"],
    }


def test_a_create_only_field_cannot_be_updated(api: httpx.Client, world: World) -> None:
    opp = next(o for c in world.customers for o in c.opportunities if o.lines)

    error = refused(
        api.patch(
            f"{API}/sobjects/OpportunityLineItem/{opp.line_sf_ids[0]}",
            json={"OpportunityId": opp.sf_id},
        )
    )

    assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert error["fields"] == ["OpportunityId"]


def test_reference_fields(api: httpx.Client, world: World) -> None:
    contact_id = next(x.sf_id for c in world.customers for x in c.contacts)

    malformed = refused(
        api.post(f"{API}/sobjects/Contact/", json={"LastName": "x", "AccountId": "garbage"})
    )
    wrong_kind = refused(
        api.post(f"{API}/sobjects/Contact/", json={"LastName": "x", "AccountId": contact_id})
    )
    missing = refused(
        api.post(
            f"{API}/sobjects/Contact/", json={"LastName": "x", "AccountId": "0015g0000000000AAA"}
        )
    )

    assert malformed == {
        "message": "Account ID: id value of incorrect type: garbage",
        "errorCode": "MALFORMED_ID",
        "fields": ["AccountId"],
    }
    assert wrong_kind == {
        "message": f"Account ID: id value of incorrect type: {contact_id}",
        "errorCode": "FIELD_INTEGRITY_EXCEPTION",
        "fields": ["AccountId"],
    }
    assert missing == {
        "message": "invalid cross reference id",
        "errorCode": "INVALID_CROSS_REFERENCE_KEY",
        "fields": [],
    }


def test_a_restricted_picklist_refuses_other_values(api: httpx.Client) -> None:
    error = refused(
        api.post(f"{API}/sobjects/Account/", json={"Name": "x", "Credit_Status__c": "Excellent"})
    )

    assert error == {
        "message": "Credit Status: bad value for restricted picklist field: Excellent",
        "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "fields": ["Credit_Status__c"],
    }


def test_text_longer_than_the_field(api: httpx.Client) -> None:
    name = "N" * 256

    error = refused(api.post(f"{API}/sobjects/Account/", json={"Name": name}))

    assert error == {
        "message": f"Account Name: data value too large: {name} (max length=255)",
        "errorCode": "STRING_TOO_LONG",
        "fields": ["Name"],
    }


def test_an_invalid_email_and_a_number_out_of_range(api: httpx.Client) -> None:
    email = refused(
        api.post(f"{API}/sobjects/Contact/", json={"LastName": "x", "Email": "not-an-address"})
    )
    number = refused(
        api.post(f"{API}/sobjects/Account/", json={"Name": "x", "AnnualRevenue": 1e20})
    )

    assert email["errorCode"] == "INVALID_EMAIL_ADDRESS"
    assert email["fields"] == ["Email"]
    assert number["errorCode"] == "NUMBER_OUTSIDE_VALID_RANGE"
    assert number["fields"] == ["AnnualRevenue"]


def test_a_unique_external_id_refuses_a_duplicate_in_any_case(
    api: httpx.Client, world: World
) -> None:
    customer = next(c for c in world.customers if c.sf_account_id and c.key)
    assert customer.key is not None

    error = refused(
        api.post(
            f"{API}/sobjects/Account/",
            json={"Name": "x", "ERP_Customer_Id__c": customer.key.lower()},
        )
    )

    assert error == {
        "message": "duplicate value found: ERP_Customer_Id__c duplicates value on record with "
        f"id: {customer.sf_account_id}",
        "errorCode": "DUPLICATE_VALUE",
        "fields": [],
    }


@pytest.mark.parametrize(
    ("body", "start"),
    [
        (b'{"Name": "x",}', "Unexpected character ('}' (code 125))"),
        (b"", "No content to map due to end-of-input"),
        (b'{"Name": "x", "AnnualRevenue": "lots"}', "Cannot deserialize instance of currency"),
        (b'{"Name": "x", "NumberOfEmployees": 1.5}', "Cannot deserialize instance of int"),
        (b'{"Name": ["x"]}', "Cannot deserialize instance of string from START_ARRAY"),
        (b'[{"Name": "x"}]', "Cannot deserialize instance of Account from START_ARRAY"),
        (b'{"Name": "x", "IsDeleted": ' + b"[" * 5000 + b"]" * 5000 + b"}", ""),
        (b"\xff\xfe", "Invalid UTF-8"),
    ],
)
def test_bodies_that_are_not_the_json_expected(api: httpx.Client, body: bytes, start: str) -> None:
    response = api.post(
        f"{API}/sobjects/Account/", content=body, headers={"Content-Type": "application/json"}
    )

    error = refused(response)
    assert error["errorCode"] == "JSON_PARSER_ERROR"
    assert error["message"].startswith(start)


def test_a_date_that_does_not_exist(api: httpx.Client) -> None:
    error = refused(
        api.post(
            f"{API}/sobjects/Opportunity/",
            json={"Name": "x", "StageName": "Prospecting", "CloseDate": "2030-02-30"},
        )
    )

    assert error["errorCode"] == "JSON_PARSER_ERROR"
    assert "Cannot deserialize instance of date" in error["message"]


def test_addresses_keep_country_and_state_codes_and_names_in_step(api: httpx.Client) -> None:
    by_name = create(
        api,
        "Account",
        {"Name": unique("Addr"), "BillingCountry": "united states", "BillingState": "Texas"},
    )
    bad_country = refused(
        api.post(f"{API}/sobjects/Account/", json={"Name": "x", "BillingCountryCode": "ZZ"})
    )
    bad_state = refused(
        api.post(
            f"{API}/sobjects/Account/",
            json={"Name": "x", "BillingCountryCode": "GB", "BillingStateCode": "NY"},
        )
    )

    record = get(api, "Account", by_name)
    assert (record["BillingCountryCode"], record["BillingCountry"]) == ("US", "United States")
    assert (record["BillingStateCode"], record["BillingState"]) == ("TX", "Texas")
    assert bad_country["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert bad_country["fields"] == ["BillingCountryCode"]
    assert bad_state["fields"] == ["BillingStateCode"]


# --- records that do not exist ---------------------------------------------------------------


def test_unknown_records_objects_and_methods(api: httpx.Client) -> None:
    update = api.patch(f"{API}/sobjects/Account/0015g0000000000AAA", json={"Name": "x"})
    unknown_object = api.get(f"{API}/sobjects/Invoice__c/describe")
    not_external = api.patch(f"{API}/sobjects/Account/Name/Acme", json={"Phone": "1"})
    put = api.put(f"{API}/sobjects/Account/0015g0000000000AAA", json={"Name": "x"})

    assert refused(update, 404) == {
        "message": "The requested resource does not exist",
        "errorCode": "NOT_FOUND",
    }
    assert refused(unknown_object, 404)["errorCode"] == "NOT_FOUND"
    assert refused(not_external, 404) == {
        "message": "Provided external ID field does not exist or is not accessible: Name",
        "errorCode": "NOT_FOUND",
    }
    assert refused(put, 405) == {
        "message": "HTTP Method 'PUT' not allowed. Allowed are GET,PATCH,DELETE",
        "errorCode": "METHOD_NOT_ALLOWED",
    }


def test_get_by_an_external_id_shared_by_two_records_answers_300(
    api: httpx.Client, world: World
) -> None:
    number = f"TEST-SO{uuid.uuid4().hex[:8].upper()}"
    ids = [
        create(
            api,
            "Opportunity",
            {
                "AccountId": account_of(api),
                "Name": unique("Twin"),
                "StageName": "Prospecting",
                "CloseDate": "2030-05-01",
                "ERP_Order_Id__c": number,
            },
        )
        for _ in range(2)
    ]

    response = api.get(f"{API}/sobjects/Opportunity/ERP_Order_Id__c/{number}")

    assert response.status_code == 300
    assert sorted(response.json()) == sorted(f"{API}/sobjects/Opportunity/{i}" for i in ids)


# --- derived fields, roll-ups, cascades ------------------------------------------------------


def test_the_stage_sets_probability_closed_won_and_forecast(
    api: httpx.Client, world: World
) -> None:
    opp_id = create(
        api,
        "Opportunity",
        {
            "AccountId": account_of(api),
            "Name": unique("Stage"),
            "StageName": "Value Proposition",
            "CloseDate": "2030-03-01",
            "Amount": 1000,
        },
    )
    opened = get(api, "Opportunity", opp_id)
    api.patch(f"{API}/sobjects/Opportunity/{opp_id}", json={"StageName": "Closed Won"})
    won = get(api, "Opportunity", opp_id)

    assert (
        opened["Probability"],
        opened["IsClosed"],
        opened["ForecastCategoryName"],
        opened["ExpectedRevenue"],
    ) == (50, False, "Pipeline", 500)
    assert (
        won["Probability"],
        won["IsClosed"],
        won["IsWon"],
        won["ForecastCategoryName"],
        won["ExpectedRevenue"],
    ) == (100, True, True, "Closed", 1000)


def test_line_rules_currency_and_pricebook(api: httpx.Client, world: World) -> None:
    usd_entry = world.pricebook_entry_ids[(world.products[1].sku, "USD")]
    gbp_opp = create(
        api,
        "Opportunity",
        {
            "AccountId": account_of(api, "GBP"),
            "Name": unique("GBP"),
            "StageName": "Prospecting",
            "CloseDate": "2030-03-01",
            "CurrencyIsoCode": "GBP",
        },
    )
    no_price = refused(
        api.post(
            f"{API}/sobjects/OpportunityLineItem/",
            json={"OpportunityId": gbp_opp, "PricebookEntryId": usd_entry, "Quantity": 1},
        )
    )
    mismatch = refused(
        api.post(
            f"{API}/sobjects/OpportunityLineItem/",
            json={
                "OpportunityId": gbp_opp,
                "PricebookEntryId": usd_entry,
                "Quantity": 1,
                "UnitPrice": 1,
            },
        )
    )

    assert no_price["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert "must specify either TotalPrice or UnitPrice" in no_price["message"]
    assert mismatch == {
        "message": "field integrity exception: PricebookEntryId (pricebook entry currency code "
        "does not match opportunity currency code)",
        "errorCode": "FIELD_INTEGRITY_EXCEPTION",
        "fields": ["PricebookEntryId"],
    }


def test_lines_fix_the_opportunity_currency_and_amount(api: httpx.Client, world: World) -> None:
    product = world.products[2]
    entry = world.pricebook_entry_ids[(product.sku, "USD")]
    opp_id = create(
        api,
        "Opportunity",
        {
            "AccountId": account_of(api),
            "Name": unique("Fix"),
            "StageName": "Prospecting",
            "CloseDate": "2030-03-01",
        },
    )
    line_id = create(
        api,
        "OpportunityLineItem",
        {"OpportunityId": opp_id, "PricebookEntryId": entry, "Quantity": 2, "UnitPrice": "99.99"},
    )

    currency = refused(
        api.patch(f"{API}/sobjects/Opportunity/{opp_id}", json={"CurrencyIsoCode": "EUR"})
    )
    api.patch(f"{API}/sobjects/Opportunity/{opp_id}", json={"Amount": 1})
    api.patch(f"{API}/sobjects/OpportunityLineItem/{line_id}", json={"Quantity": 3})
    line = get(api, "OpportunityLineItem", line_id)
    opp = get(api, "Opportunity", opp_id)

    assert currency["fields"] == ["CurrencyIsoCode"]
    assert line["ProductCode"] == product.sku
    assert line["Product2Id"] == product.sf_product_id
    assert Decimal(str(line["ListPrice"])) == product.list_price_usd
    assert Decimal(str(line["TotalPrice"])) == Decimal("299.97")
    assert Decimal(str(opp["Amount"])) == Decimal("299.97")  # read-only while it has lines


def test_deleting_an_account_cascades_to_its_contacts_opportunities_and_lines(
    api: httpx.Client, world: World
) -> None:
    entry = world.pricebook_entry_ids[(world.products[0].sku, "USD")]
    account_id = create(api, "Account", {"Name": unique("Cascade")})
    contact_id = create(api, "Contact", {"LastName": "Gone", "AccountId": account_id})
    opp_id = create(
        api,
        "Opportunity",
        {
            "AccountId": account_id,
            "Name": unique("Gone"),
            "StageName": "Prospecting",
            "CloseDate": "2030-03-01",
        },
    )
    line_id = create(
        api,
        "OpportunityLineItem",
        {"OpportunityId": opp_id, "PricebookEntryId": entry, "Quantity": 1, "UnitPrice": 5},
    )

    deleted = api.delete(f"{API}/sobjects/Account/{account_id}")

    assert deleted.status_code == 204
    for sobject, record_id in [
        ("Contact", contact_id),
        ("Opportunity", opp_id),
        ("OpportunityLineItem", line_id),
    ]:
        gone = refused(api.get(f"{API}/sobjects/{sobject}/{record_id}"), 404)
        assert gone == {
            "message": "entity is deleted",
            "errorCode": "ENTITY_IS_DELETED",
            "fields": [],
        }
    again = refused(api.delete(f"{API}/sobjects/Account/{account_id}"), 404)
    assert again["errorCode"] == "ENTITY_IS_DELETED"


def test_a_price_book_entry_in_use_cannot_be_deleted(api: httpx.Client, world: World) -> None:
    entry = world.pricebook_entry_ids[(world.products[0].sku, "USD")]

    error = refused(api.delete(f"{API}/sobjects/PricebookEntry/{entry}"))

    assert error["errorCode"] == "DELETE_FAILED"
    assert get(api, "PricebookEntry", entry)["IsDeleted"] is False


def test_orders_number_themselves_and_total_their_items(api: httpx.Client, world: World) -> None:
    entry = world.pricebook_entry_ids[(world.products[3].sku, "USD")]
    without_book = create(
        api,
        "Order",
        {"AccountId": account_of(api), "Status": "Draft", "EffectiveDate": "2030-01-15"},
    )
    order_id = create(
        api,
        "Order",
        {
            "AccountId": account_of(api),
            "Status": "Draft",
            "EffectiveDate": "2030-01-15",
            "Pricebook2Id": world.pricebook_id,
        },
    )

    refused_item = refused(
        api.post(
            f"{API}/sobjects/OrderItem/",
            json={
                "OrderId": without_book,
                "PricebookEntryId": entry,
                "Quantity": 1,
                "UnitPrice": 10,
            },
        )
    )
    create(
        api,
        "OrderItem",
        {"OrderId": order_id, "PricebookEntryId": entry, "Quantity": 2, "UnitPrice": 10.25},
    )
    order = get(api, "Order", order_id)

    assert refused_item["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert order["OrderNumber"].isdigit()
    assert len(order["OrderNumber"]) == 8
    assert order["StatusCode"] == "Draft"
    assert Decimal(str(order["TotalAmount"])) == Decimal("20.50")


# --- composite collections -------------------------------------------------------------------


def _batch(names: list[str | None]) -> list[dict[str, Any]]:
    return [
        {"attributes": {"type": "Account"}, **({"Name": name} if name else {})} for name in names
    ]


def _count_named(api: httpx.Client, names: list[str]) -> int:
    listed = ", ".join(f"'{name}'" for name in names)
    response = api.get(
        f"{API}/query", params={"q": f"SELECT COUNT() FROM Account WHERE Name IN ({listed})"}
    )
    count: int = response.json()["totalSize"]
    return count


def test_all_or_none_rolls_back_every_record_when_one_fails(api: httpx.Client) -> None:
    names = [unique("AON"), unique("AON")]

    response = api.post(
        f"{API}/composite/sobjects",
        json={"allOrNone": True, "records": _batch([names[0], None, names[1]])},
    )

    assert response.status_code == 200
    results = response.json()
    rolled_back = {
        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all records were valid and the "
        "request was using AllOrNone header",
        "fields": [],
    }
    assert results == [
        {"success": False, "errors": [rolled_back]},
        {
            "success": False,
            "errors": [
                {
                    "statusCode": "REQUIRED_FIELD_MISSING",
                    "message": "Required fields are missing: [Name]",
                    "fields": ["Name"],
                }
            ],
        },
        {"success": False, "errors": [rolled_back]},
    ]
    assert _count_named(api, names) == 0


def test_without_all_or_none_the_valid_records_are_saved(api: httpx.Client) -> None:
    names = [unique("Some"), unique("Some")]

    results = api.post(
        f"{API}/composite/sobjects",
        json={"allOrNone": False, "records": _batch([names[0], None, names[1]])},
    )

    assert [r["success"] for r in results.json()] == [True, False, True]
    assert _count_named(api, names) == 2


def test_collection_updates_report_each_record(api: httpx.Client) -> None:
    good = create(api, "Account", {"Name": unique("Upd")})

    results = api.patch(
        f"{API}/composite/sobjects",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "Id": good, "Phone": "555"},
                {"attributes": {"type": "Account"}, "Phone": "555"},
                {"attributes": {"type": "Account"}, "Id": "0015g0000000000AAA", "Phone": "555"},
            ]
        },
    ).json()

    assert results[0] == {"id": good, "success": True, "errors": []}
    assert results[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert results[2]["id"] == "0015g0000000000AAA"
    assert results[2]["errors"][0]["statusCode"] == "NOT_FOUND"
    assert get(api, "Account", good)["Phone"] == "555"


def test_collections_hold_at_most_two_hundred_records(api: httpx.Client) -> None:
    error = refused(api.post(f"{API}/composite/sobjects", json={"records": _batch(["x"] * 201)}))

    assert error["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_collection_delete_with_all_or_none(api: httpx.Client) -> None:
    first = create(api, "Account", {"Name": unique("Del")})
    second = create(api, "Account", {"Name": unique("Del")})

    held = api.delete(
        f"{API}/composite/sobjects",
        params={"ids": f"{first},0015g0000000000AAA", "allOrNone": "true"},
    ).json()
    done = api.delete(f"{API}/composite/sobjects", params={"ids": f"{first},{second}"}).json()

    assert [r["success"] for r in held] == [False, False]
    assert held[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert [r["success"] for r in done] == [True, True]
