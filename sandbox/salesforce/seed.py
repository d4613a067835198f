"""Project the sandbox `World` into the emulated org's records.

Every record keeps the id the world assigned it. Users, products, the standard price book and
its entries (one per product and currency) come first; then, per customer present in
Salesforce, the account, its contacts, its opportunities with their line items, and the
Salesforce orders mirroring some booked ERP sales orders. Roll-ups (opportunity amounts, order
totals) are computed by the same rules the API applies, so they equal the world's sums.

Timestamps come from the world (an account's CreatedDate is the customer's ``created``; the
rest through `World.stamp`, never later than the sandbox's start), so the same world always
loads into the same records.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sandbox.salesforce.dml import Dml
from sandbox.world import CENT, FX_FROM_USD, Customer, SalesOrder, World, credit_mirror

ERP_ORDER_STATUS = {"B": "Pending Fulfillment", "F": "Pending Billing", "G": "Billed"}
"""Opportunity.ERP_Order_Status__c for a NetSuite sales order status letter."""


def credit_status(customer: Customer) -> str | None:
    """Account.Credit_Status__c as the ERP integration last wrote it (None: not in the ERP),
    or as it drifted."""
    return customer.crm_credit_status or credit_mirror(customer)


def account_number(customer: Customer) -> str:
    return f"ACC-{customer.index:06d}"


def list_price(usd: Decimal, currency: str) -> Decimal:
    """A product's list price in ``currency`` (the world's conversion; JPY has no cents)."""
    converted = usd * FX_FROM_USD[currency]
    return converted.quantize(Decimal("1") if currency == "JPY" else CENT)


def load_world(world: World, dml: Dml, *, integration_user: tuple[str, str, str]) -> None:
    """Insert the world's records; ``integration_user`` is (id, username, full name)."""
    schema = dml.schema
    objects = schema.objects
    genesis = world.stamp(world.as_of - dt.timedelta(days=2000), dt.time(8))

    def insert(
        sobject: str,
        record_id: str,
        values: dict[str, Any],
        created: dt.datetime,
        user: str | None = None,
    ) -> None:
        with dml.acting(created, user):
            dml.insert(objects[sobject], values, record_id=record_id, created=created, user_id=user)

    user_id, username, full_name = integration_user
    first, _, last = full_name.partition(" ")
    insert(
        "User",
        user_id,
        {
            "Username": username,
            "FirstName": first,
            "LastName": last or first,
            "Email": username,
            "Alias": (first[:1] + last[:4]).lower() or "integ",
            "IsActive": True,
        },
        genesis,
        user_id,
    )
    users: dict[str, str] = {}
    for sf_id, name in world.users:
        first, _, last = name.partition(" ")
        address = f"{first.lower()}.{last.lower()}@accord.sandbox"
        insert(
            "User",
            sf_id,
            {
                "Username": address,
                "FirstName": first,
                "LastName": last,
                "Email": address,
                "Alias": (first[:1] + last[:4]).lower(),
                "IsActive": True,
            },
            genesis,
            user_id,
        )
        users[name] = sf_id

    catalog = genesis + dt.timedelta(days=30)
    for product in world.products:
        insert(
            "Product2",
            product.sf_product_id,
            {
                "Name": product.name,
                "ProductCode": product.sku,
                "Family": product.family,
                "IsActive": True,
                "CurrencyIsoCode": "USD",
            },
            catalog,
            user_id,
        )
    insert(
        "Pricebook2",
        world.pricebook_id,
        {
            "Name": "Standard Price Book",
            "IsActive": True,
            "IsStandard": True,
        },
        catalog,
        user_id,
    )
    skus = {product.sku: product for product in world.products}
    for (sku, currency), entry_id in world.pricebook_entry_ids.items():
        insert(
            "PricebookEntry",
            entry_id,
            {
                "Pricebook2Id": world.pricebook_id,
                "Product2Id": skus[sku].sf_product_id,
                "UnitPrice": list_price(skus[sku].list_price_usd, currency),
                "CurrencyIsoCode": currency,
                "IsActive": True,
                "UseStandardPrice": False,
            },
            catalog,
            user_id,
        )

    for customer in world.customers:
        if customer.sf_account_id is not None:
            _load_customer(world, customer, users[customer.owner], insert)


def _load_customer(world: World, customer: Customer, owner: str, insert: Any) -> None:
    account_id = customer.sf_account_id
    assert account_id is not None
    address = customer.address
    created = customer.created
    insert(
        "Account",
        account_id,
        {
            "Name": customer.name,
            "Type": "Customer - Direct" if customer.ns_id is not None else "Prospect",
            "BillingStreet": address.street,
            "BillingCity": address.city,
            "BillingPostalCode": address.postal_code,
            "BillingCountryCode": address.country,
            "BillingStateCode": address.state,
            "Phone": customer.phone,
            "Website": customer.website,
            "Industry": customer.industry,
            "AccountNumber": account_number(customer),
            "CurrencyIsoCode": customer.currency,
            "OwnerId": owner,
            "ERP_Customer_Id__c": customer.account_key,
            "Credit_Status__c": credit_status(customer),
            "Tax_Id__c": customer.tax_id,
        },
        created,
        owner,
    )
    for contact in customer.contacts:
        insert(
            "Contact",
            contact.sf_id,
            {
                "AccountId": account_id,
                "FirstName": contact.first_name,
                "LastName": contact.last_name,
                "Email": contact.email,
                "Phone": contact.phone,
                "Title": contact.title,
                "CurrencyIsoCode": customer.currency,
                "OwnerId": owner,
            },
            created + dt.timedelta(days=1),
            owner,
        )
    for opp in customer.opportunities:
        opened = min(world.as_of, max(created.date(), opp.close_date - dt.timedelta(days=60)))
        stamp = max(created, world.stamp(opened, dt.time(10)))
        order = opp.sales_order
        insert(
            "Opportunity",
            opp.sf_id,
            {
                "AccountId": account_id,
                "Name": opp.name,
                "StageName": opp.stage,
                "CloseDate": opp.close_date,
                "CurrencyIsoCode": opp.currency,
                "OwnerId": owner,
                "Type": "New Customer" if customer.ns_id is None else "Existing Customer - Upgrade",
                "ERP_Order_Id__c": order.tran_id if order else None,
                "ERP_Order_Status__c": ERP_ORDER_STATUS[order.status] if order else None,
            },
            stamp,
            owner,
        )
        for line, line_id in zip(opp.lines, opp.line_sf_ids, strict=True):
            insert(
                "OpportunityLineItem",
                line_id,
                {
                    "OpportunityId": opp.sf_id,
                    "PricebookEntryId": world.pricebook_entry_ids[(line.product.sku, opp.currency)],
                    "Quantity": Decimal(line.quantity),
                    "UnitPrice": line.unit_price,
                },
                stamp,
                owner,
            )
        if order is not None and order.sf_order_id is not None:
            _load_order(world, customer, order, opp.sf_id, owner, insert)


def _load_order(
    world: World,
    customer: Customer,
    order: SalesOrder,
    opportunity_id: str,
    owner: str,
    insert: Any,
) -> None:
    assert order.sf_order_id is not None
    stamp = world.stamp(order.date, dt.time(11))
    insert(
        "Order",
        order.sf_order_id,
        {
            "AccountId": customer.sf_account_id,
            "OpportunityId": opportunity_id,
            "EffectiveDate": order.date,
            "Status": "Activated",
            "Pricebook2Id": world.pricebook_id,
            "CurrencyIsoCode": order.currency,
            "OwnerId": owner,
            "Description": f"ERP sales order {order.tran_id}",
        },
        stamp,
        owner,
    )
    for line, item_id in zip(order.lines, order.sf_order_item_ids, strict=True):
        insert(
            "OrderItem",
            item_id,
            {
                "OrderId": order.sf_order_id,
                "PricebookEntryId": world.pricebook_entry_ids[(line.product.sku, order.currency)],
                "Quantity": Decimal(line.quantity),
                "UnitPrice": line.unit_price,
            },
            stamp,
            owner,
        )
