"""The read path over HTTP: every type, relation and lookup key, compared with what the
emulators hold (read directly with SOQL and SuiteQL, not through Accord)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from sandbox.world import World
from tests.accord import AccordServer, Emulators

CUSTOMER_FIELDS = """
  id salesforceId erpId systems name accountNumber industry owner phone website
  billingAddress { street city state postalCode country }
  legalEntity { id erpId name country currency }
  currency paymentTerms { name days } taxId
  credit { limit { amount currency } balance { amount currency } overdue { amount currency }
           available { amount } status hold }
"""


def ns_customer(emulators: Emulators, erp_id: str) -> dict[str, Any]:
    rows = emulators.suiteql(
        "SELECT c.id, c.companyname, c.externalid, c.creditlimit, c.balancesearch, "
        "c.overduebalancesearch, c.creditholdoverride, c.vatregnumber, cur.symbol, "
        "s.name AS subsidiary_name, s.country AS subsidiary_country, t.name AS terms_name, "
        "t.daysuntilnetdue FROM customer c INNER JOIN currency cur ON cur.id = c.currency "
        "INNER JOIN subsidiary s ON s.id = c.subsidiary LEFT JOIN term t ON t.id = c.terms "
        f"WHERE c.id = {int(erp_id)}"
    )
    assert len(rows) == 1
    return rows[0]


def sf_account(emulators: Emulators, account_id: str) -> dict[str, Any]:
    records = emulators.soql(
        "SELECT Id, Name, AccountNumber, Industry, Owner.Name, Phone, Website, BillingStreet, "
        "BillingCity, BillingState, BillingPostalCode, BillingCountryCode, ERP_Customer_Id__c "
        f"FROM Account WHERE Id = '{account_id}'"
    )
    assert len(records) == 1
    return records[0]


def test_customer_by_each_key_is_the_same_customer(accord: AccordServer, world: World) -> None:
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    query = f"query($id: ID, $sf: ID, $erp: ID) {{ customer(id: $id, salesforceId: $sf, erpId: $erp) {{ {CUSTOMER_FIELDS} }} }}"

    by_id = accord.graphql(query, {"id": f"cus:{customer.key}"})
    by_sf = accord.graphql(query, {"sf": customer.sf_account_id})
    by_sf15 = accord.graphql(query, {"sf": (customer.sf_account_id or "")[:15]})
    by_erp = accord.graphql(query, {"erp": str(customer.ns_id)})

    assert "errors" not in by_id
    assert by_id == by_sf == by_sf15 == by_erp
    assert by_id["data"]["customer"]["id"] == f"cus:{customer.key}"
    assert by_id["data"]["customer"]["systems"] == ["CRM", "ERP"]


def test_customer_fields_equal_what_each_owner_holds(
    accord: AccordServer, emulators: Emulators, world: World
) -> None:
    customers = [c for c in world.customers if c.key and c.sf_account_id and c.ns_id][:12]
    for customer in customers:
        data = accord.graphql(f'{{ customer(id: "cus:{customer.key}") {{ {CUSTOMER_FIELDS} }} }}')[
            "data"
        ]["customer"]
        account = sf_account(emulators, customer.sf_account_id or "")
        erp = ns_customer(emulators, str(customer.ns_id))

        # CRM-owned fields come from the Salesforce account
        assert data["salesforceId"] == account["Id"]
        assert data["name"] == account["Name"]
        assert data["industry"] == account["Industry"]
        assert data["owner"] == account["Owner"]["Name"]
        assert data["billingAddress"] == {
            "street": account["BillingStreet"],
            "city": account["BillingCity"],
            "state": account["BillingState"],
            "postalCode": account["BillingPostalCode"],
            "country": account["BillingCountryCode"],
        }
        # ERP-owned fields come from the NetSuite customer
        assert data["erpId"] == erp["id"]
        assert data["currency"] == erp["symbol"]
        assert data["taxId"] == erp.get("vatregnumber")
        assert data["legalEntity"]["name"] == erp["subsidiary_name"]
        assert data["legalEntity"]["country"] == erp["subsidiary_country"]
        assert data["paymentTerms"] == {
            "name": erp["terms_name"],
            "days": int(erp["daysuntilnetdue"]),
        }
        credit = data["credit"]
        assert Decimal(credit["limit"]["amount"]) == Decimal(erp["creditlimit"])
        assert Decimal(credit["balance"]["amount"]) == Decimal(erp["balancesearch"])
        assert Decimal(credit["overdue"]["amount"]) == Decimal(erp["overduebalancesearch"])
        assert Decimal(credit["available"]["amount"]) == Decimal(erp["creditlimit"]) - Decimal(
            erp["balancesearch"]
        )
        assert credit["balance"]["currency"] == erp["symbol"]
        assert credit["hold"] == erp["creditholdoverride"]


def test_money_is_a_decimal_string_with_the_currency_scale(
    accord: AccordServer, world: World
) -> None:
    yen = next(c for c in world.customers if c.currency == "JPY" and c.key and c.ns_id)
    euro = next(c for c in world.customers if c.currency == "EUR" and c.key and c.ns_id)
    for customer, places in ((yen, 0), (euro, 2)):
        limit = accord.graphql(
            f'{{ customer(id: "cus:{customer.key}") {{ credit {{ limit {{ amount currency }} }} }} }}'
        )["data"]["customer"]["credit"]["limit"]
        assert isinstance(limit["amount"], str)
        assert limit["currency"] == customer.currency
        exponent = Decimal(limit["amount"]).as_tuple().exponent
        assert exponent == -places
        assert Decimal(limit["amount"]) == customer.credit_limit


def test_relations_of_a_customer_match_the_erp_and_crm(
    accord: AccordServer, emulators: Emulators, world: World
) -> None:
    customer = next(c for c in world.customers if c.payments and c.opportunities and c.key)
    data = accord.graphql(
        f"""{{ customer(id: "cus:{customer.key}") {{
          orders(first: 50) {{ totalCount nodes {{ id erpId number status orderDate total {{ amount currency }}
            lines {{ sku quantity amount {{ amount }} }} customer {{ id }} invoices {{ number }} }} }}
          invoices(first: 50) {{ totalCount nodes {{ id number status issueDate dueDate total {{ amount }}
            amountPaid {{ amount }} amountDue {{ amount }} order {{ number }} payments {{ number }} }} }}
          payments(first: 50) {{ totalCount nodes {{ id number paymentDate amount {{ amount currency }}
            unapplied {{ amount }} applications {{ amount {{ amount }} invoice {{ number }} }} customer {{ id }} }} }}
          opportunities(first: 50) {{ totalCount nodes {{ id salesforceId name stage closeDate isWon
            amount {{ amount }} lines {{ sku amount {{ amount }} }} order {{ number }} customer {{ id }} }} }}
        }} }}"""
    )
    assert "errors" not in data, data.get("errors")
    got = data["data"]["customer"]

    transactions = emulators.suiteql(
        "SELECT id, tranid, type, foreigntotal, foreignamountpaid, foreignamountunpaid "
        f"FROM transaction WHERE entity = {customer.ns_id}"
    )
    by_type: dict[str, dict[str, dict[str, Any]]] = {}
    for row in transactions:
        by_type.setdefault(row["type"], {})[row["tranid"]] = row

    orders = {o["number"]: o for o in got["orders"]["nodes"]}
    assert set(orders) == set(by_type.get("SalesOrd", {}))
    for number, order in orders.items():
        row = by_type["SalesOrd"][number]
        assert order["erpId"] == row["id"]
        assert order["id"] == f"ord:{row['id']}"
        assert Decimal(order["total"]["amount"]) == Decimal(row["foreigntotal"])
        assert sum(Decimal(line["amount"]["amount"]) for line in order["lines"]) == Decimal(
            row["foreigntotal"]
        )
        assert order["customer"]["id"] == f"cus:{customer.key}"

    invoices = {i["number"]: i for i in got["invoices"]["nodes"]}
    assert set(invoices) == set(by_type.get("CustInvc", {}))
    for number, invoice in invoices.items():
        row = by_type["CustInvc"][number]
        assert Decimal(invoice["total"]["amount"]) == Decimal(row["foreigntotal"])
        assert Decimal(invoice["amountPaid"]["amount"]) == Decimal(row["foreignamountpaid"])
        assert Decimal(invoice["amountDue"]["amount"]) == Decimal(row["foreignamountunpaid"])

    payments = {p["number"]: p for p in got["payments"]["nodes"]}
    assert set(payments) == set(by_type.get("CustPymt", {}))
    for payment in customer.payments:
        node = payments[payment.tran_id]
        assert Decimal(node["amount"]["amount"]) == payment.amount
        assert {a["invoice"]["number"] for a in node["applications"]} == {
            a.invoice.tran_id for a in payment.applications
        }
        for application in payment.applications:
            paid_by = invoices[application.invoice.tran_id]["payments"]
            assert payment.tran_id in [p["number"] for p in paid_by]

    opportunities = {o["salesforceId"]: o for o in got["opportunities"]["nodes"]}
    held = emulators.soql(
        f"SELECT Id FROM Opportunity WHERE AccountId = '{customer.sf_account_id}'"
    )
    assert set(opportunities) == {r["Id"] for r in held}
    for opp in customer.opportunities:
        node = opportunities[opp.sf_id]
        assert node["stage"] == opp.stage
        assert Decimal(node["amount"]["amount"]) == opp.amount
        assert sorted(line["sku"] for line in node["lines"]) == sorted(
            line.product.sku for line in opp.lines
        )
        assert (node["order"] or {}).get("number") == (
            opp.sales_order.tran_id if opp.sales_order else None
        )


def test_lookups_of_orders_invoices_payments_and_opportunities(
    accord: AccordServer, world: World
) -> None:
    customer = next(c for c in world.customers if c.payments and c.opportunities and c.key)
    invoice = customer.invoices[0]
    payment = customer.payments[0]
    order = customer.sales_orders[0]
    opp = customer.opportunities[0]
    data = accord.graphql(
        f"""{{
          order(id: "ord:{order.ns_id}") {{ number customer {{ id }} }}
          invoice(id: "inv:{invoice.ns_id}") {{ number customer {{ id }} }}
          payment(id: "pay:{payment.ns_id}") {{ number customer {{ id }} }}
          opportunity(id: "opp:{opp.sf_id}") {{ name customer {{ id }} }}
          bySalesforceId: opportunity(id: "{opp.sf_id}") {{ name }}
          missingOrder: order(id: "ord:999999999") {{ number }}
          missingCustomer: customer(erpId: "999999999") {{ id }}
          missingAccount: customer(salesforceId: "001000000000000AAA") {{ id }}
        }}"""
    )
    assert "errors" not in data
    got = data["data"]
    assert got["order"]["number"] == order.tran_id
    assert got["invoice"]["number"] == invoice.tran_id
    assert got["payment"]["number"] == payment.tran_id
    assert got["opportunity"]["name"] == got["bySalesforceId"]["name"] == opp.name
    assert {got[k]["customer"]["id"] for k in ("order", "invoice", "payment", "opportunity")} == {
        f"cus:{customer.key}"
    }
    assert got["missingOrder"] is None
    assert got["missingCustomer"] is None
    assert got["missingAccount"] is None


def test_customers_known_to_one_system_only(accord: AccordServer, world: World) -> None:
    crm_only = next(c for c in world.customers if c.ns_id is None)
    erp_only = next(c for c in world.customers if c.sf_account_id is None)
    fields = "id systems name credit { status }"
    crm = accord.graphql(f'{{ customer(salesforceId: "{crm_only.sf_account_id}") {{ {fields} }} }}')
    erp = accord.graphql(f'{{ customer(erpId: "{erp_only.ns_id}") {{ {fields} }} }}')
    assert "errors" not in crm
    assert "errors" not in erp
    assert crm["data"]["customer"] == {
        "id": f"cus:sf:{crm_only.sf_account_id}",
        "systems": ["CRM"],
        "name": crm_only.name,
        "credit": None,
    }
    assert erp["data"]["customer"]["systems"] == ["ERP"]
    assert erp["data"]["customer"]["name"] is None
    assert erp["data"]["customer"]["credit"]["status"] in {"GOOD_STANDING", "OVER_LIMIT", "ON_HOLD"}


def walk(accord: AccordServer, field: str, arguments: str, selection: str, page: int) -> list[Any]:
    """Every node of a connection, following cursors page by page."""
    nodes: list[Any] = []
    after = None
    while True:
        extra = f', after: "{after}"' if after else ""
        data = accord.graphql(
            f"{{ {field}(first: {page}{extra}{arguments}) {{ totalCount pageInfo {{ hasNextPage endCursor }} "
            f"nodes {{ {selection} }} }} }}"
        )
        assert "errors" not in data, data["errors"]
        connection = data["data"][field]
        nodes.extend(connection["nodes"])
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes
        after = connection["pageInfo"]["endCursor"]


def test_paging_walks_every_erp_customer_once(accord: AccordServer, emulators: Emulators) -> None:
    nodes = walk(accord, "customers", "", "erpId", page=37)
    expected = [
        row["id"]
        for row in emulators.suiteql("SELECT id FROM customer WHERE isinactive = 'F' ORDER BY id")
    ]
    assert [node["erpId"] for node in nodes] == expected


@pytest.mark.parametrize("status", ["GOOD_STANDING", "OVER_LIMIT", "ON_HOLD"])
def test_credit_status_filter(accord: AccordServer, emulators: Emulators, status: str) -> None:
    nodes = walk(
        accord, "customers", f", filter: {{creditStatus: {status}}}", "erpId credit { status }", 100
    )
    assert nodes, f"the sandbox should hold customers in {status}"
    assert {node["credit"]["status"] for node in nodes} == {status}
    rows = emulators.suiteql(
        "SELECT id, creditlimit, balancesearch, creditholdoverride FROM customer WHERE isinactive = 'F'"
    )

    def derived(row: dict[str, Any]) -> str:
        if row["creditholdoverride"] == "ON":
            return "ON_HOLD"
        if (
            row["creditholdoverride"] == "AUTO"
            and "creditlimit" in row
            and Decimal(row.get("balancesearch", "0")) > Decimal(row["creditlimit"])
        ):
            return "OVER_LIMIT"
        return "GOOD_STANDING"

    assert {n["erpId"] for n in nodes} == {r["id"] for r in rows if derived(r) == status}


def test_name_and_country_filters_follow_the_crm(
    accord: AccordServer, emulators: Emulators
) -> None:
    by_country = walk(
        accord,
        "customers",
        ', filter: {country: "DE"}',
        "salesforceId billingAddress { country }",
        20,
    )
    expected = emulators.soql(
        "SELECT Id FROM Account WHERE BillingCountryCode = 'DE' AND ERP_Customer_Id__c != null"
    )
    assert sorted(n["salesforceId"] for n in by_country) == sorted(r["Id"] for r in expected)
    assert {n["billingAddress"]["country"] for n in by_country} == {"DE"}

    word = (
        by_country[0]
        and accord.graphql(
            f'{{ customer(salesforceId: "{by_country[0]["salesforceId"]}") {{ name }} }}'
        )["data"]["customer"]["name"].split()[0]
    )
    by_name = walk(accord, "customers", f', filter: {{nameContains: "{word.lower()}"}}', "name", 50)
    named = emulators.soql(
        f"SELECT Id FROM Account WHERE Name LIKE '%{word}%' AND ERP_Customer_Id__c != null"
    )
    assert len(by_name) == len(named)
    assert all(word.lower() in n["name"].lower() for n in by_name)


def test_mixed_filters_apply_both_owners(accord: AccordServer) -> None:
    nodes = walk(
        accord,
        "customers",
        ', filter: {country: "US", creditStatus: OVER_LIMIT}',
        "billingAddress { country } credit { status }",
        3,
    )
    assert nodes
    assert all(n["billingAddress"]["country"] == "US" for n in nodes)
    assert all(n["credit"]["status"] == "OVER_LIMIT" for n in nodes)


def test_invoice_list_filters(accord: AccordServer, emulators: Emulators, world: World) -> None:
    overdue = walk(
        accord,
        "invoices",
        ", filter: {status: OVERDUE}",
        "erpId status dueDate amountDue { amount }",
        100,
    )
    assert overdue
    assert all(n["status"] == "OVERDUE" for n in overdue)
    assert all(dt.date.fromisoformat(n["dueDate"]) < world.as_of for n in overdue)
    assert all(Decimal(n["amountDue"]["amount"]) > 0 for n in overdue)

    customer = next(c for c in world.customers if len(c.invoices) >= 2 and c.key)
    mine = walk(
        accord,
        "invoices",
        f', filter: {{customerId: "cus:{customer.key}"}}',
        "number customer { id }",
        1,
    )
    rows = emulators.suiteql(
        f"SELECT tranid FROM transaction WHERE type = 'CustInvc' AND entity = {customer.ns_id}"
    )
    assert sorted(n["number"] for n in mine) == sorted(r["tranid"] for r in rows)

    cutoff = world.as_of.isoformat()
    due_before = walk(accord, "invoices", f', filter: {{dueBefore: "{cutoff}"}}', "dueDate", 200)
    assert all(n["dueDate"] < cutoff for n in due_before)
    everything = walk(accord, "invoices", "", "dueDate", 500)
    assert len(due_before) == sum(1 for n in everything if n["dueDate"] and n["dueDate"] < cutoff)


def test_nested_connections_page_with_cursors(accord: AccordServer, world: World) -> None:
    customer = max((c for c in world.customers if c.key and c.ns_id), key=lambda c: len(c.invoices))
    seen: list[str] = []
    after = None
    while True:
        extra = f', after: "{after}"' if after else ""
        connection = accord.graphql(
            f'{{ customer(id: "cus:{customer.key}") {{ invoices(first: 1{extra}) {{ totalCount '
            "pageInfo { hasNextPage endCursor } nodes { number } } } }"
        )["data"]["customer"]["invoices"]
        seen.extend(n["number"] for n in connection["nodes"])
        assert connection["totalCount"] == len(customer.invoices)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(i.tran_id for i in customer.invoices)


def test_name_filter_matches_wildcards_and_backslashes_literally(
    accord: AccordServer, emulators: Emulators
) -> None:
    # Given an account whose name holds SOQL's special characters
    key = f"ZZ-LIKE-{uuid.uuid4().hex[:8]}"
    name = f"Zq {key} 50% Back\\slash Under_score O'Brien"
    account_id = emulators.sf_create("Account", {"Name": name, "ERP_Customer_Id__c": key})
    try:

        def names(text: str) -> set[str]:
            body = accord.graphql(
                "query($text: String!) { customers(first: 500, "
                "filter: {nameContains: $text}) { nodes { name } } }",
                {"text": text},
            )
            assert "errors" not in body, body
            return {node["name"] for node in body["data"]["customers"]["nodes"]}

        # When it is searched by parts of its name, each part matches as written
        for part in ("50%", "k\\s", "r_s", "O'B", "%", "\\"):
            assert name in names(part), part
        # and a wildcard or escape never matches something else
        for other in ("50%B", "rXs", "k\\\\s", "0_%"):
            assert name not in names(other), other
    finally:
        emulators.sf_delete("Account", account_id)


def test_fields_behind_fragments_aliases_and_directives_are_loaded(
    accord: AccordServer, world: World
) -> None:
    customer = next(c for c in world.customers if c.key and c.sf_account_id and c.ns_id)
    plain = accord.graphql(
        f'{{ customer(id: "cus:{customer.key}") {{ name credit {{ status }} '
        "opportunities { totalCount } } customers(first: 3) { nodes { name credit { status } } } }"
    )
    shaped = accord.graphql(
        """query($id: ID!, $yes: Boolean!) {
          customer(id: $id) { ...Crm ... on Customer { c: credit @include(if: $yes) { status } } }
          customers(first: 3) { ...Page }
        }
        fragment Crm on Customer { name @skip(if: false) o: opportunities { totalCount } }
        fragment Page on CustomerConnection {
          n: nodes { ... on Customer { ...Money } name }
        }
        fragment Money on Customer { credit { status } }""",
        {"id": f"cus:{customer.key}", "yes": True},
    )

    assert "errors" not in plain, plain
    assert "errors" not in shaped, shaped
    node = shaped["data"]["customer"]
    assert node["name"] == plain["data"]["customer"]["name"]
    assert node["c"] == plain["data"]["customer"]["credit"]
    assert node["o"] == plain["data"]["customer"]["opportunities"]
    assert shaped["data"]["customers"]["n"] == plain["data"]["customers"]["nodes"]
