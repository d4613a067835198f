"""The objects of the emulated org: a multi-currency Sales Cloud org with orders enabled.

User, Account, Contact, Opportunity, OpportunityLineItem, Product2, Pricebook2,
PricebookEntry, Order and OrderItem, with the standard fields Accord relies on and the custom
fields of Accord's integration (``ERP_Customer_Id__c``, ``Credit_Status__c``, ``Tax_Id__c`` on
Account; ``ERP_Order_Id__c``, ``ERP_Order_Status__c`` on Opportunity).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sandbox.salesforce.geography import COUNTRIES, STATES
from sandbox.salesforce.schema import FieldDef, ObjectDef, PicklistValue, Schema

# Opportunity stages of a new org: (stage, default probability, forecast category, closed, won)
STAGES: tuple[tuple[str, int, str, bool, bool], ...] = (
    ("Prospecting", 10, "Pipeline", False, False),
    ("Qualification", 10, "Pipeline", False, False),
    ("Needs Analysis", 20, "Pipeline", False, False),
    ("Value Proposition", 50, "Pipeline", False, False),
    ("Id. Decision Makers", 60, "Pipeline", False, False),
    ("Perception Analysis", 70, "Pipeline", False, False),
    ("Proposal/Price Quote", 75, "Pipeline", False, False),
    ("Negotiation/Review", 90, "Pipeline", False, False),
    ("Closed Won", 100, "Closed", True, True),
    ("Closed Lost", 0, "Omitted", True, False),
)

INDUSTRIES = (
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
)
ACCOUNT_TYPES = (
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Installation Partner",
    "Technology Partner",
    "Other",
)
OPPORTUNITY_TYPES = (
    "Existing Customer - Upgrade",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
    "New Customer",
)
CREDIT_STATUSES = ("Good Standing", "Over Limit", "On Hold")
PRODUCT_FAMILIES = ("Software", "Services", "Support", "Hardware")
ORDER_STATUSES = ("Draft", "Activated")
CORPORATE_CURRENCY = "USD"


def _values(*values: str) -> tuple[PicklistValue, ...]:
    return tuple(PicklistValue(v, v) for v in values)


def _f(name: str, label: str, type_: str, **kw: Any) -> FieldDef:
    return FieldDef(name=name, label=label, type=type_, **kw)


def _text(name: str, label: str, length: int, **kw: Any) -> FieldDef:
    return FieldDef(name=name, label=label, type="string", length=length, **kw)


def _long_text(name: str, label: str, length: int = 32000) -> FieldDef:
    return FieldDef(
        name=name, label=label, type="textarea", length=length, filterable=False, sortable=False
    )


def _money(name: str, label: str, **kw: Any) -> FieldDef:
    kw.setdefault("precision", 18)
    kw.setdefault("scale", 2)
    return FieldDef(name=name, label=label, type="currency", **kw)


def _read_only(f: FieldDef, **kw: Any) -> FieldDef:
    return dataclasses.replace(f, createable=False, updateable=False, **kw)


def _id(label: str) -> FieldDef:
    return _f(
        "Id",
        label,
        "id",
        length=18,
        nillable=False,
        createable=False,
        updateable=False,
        defaulted_on_create=True,
        id_lookup=True,
    )


def _ref(name: str, label: str, target: str, relationship: str, **kw: Any) -> FieldDef:
    return FieldDef(
        name=name,
        label=label,
        type="reference",
        length=18,
        reference_to=(target,),
        relationship_name=relationship,
        **kw,
    )


def _owner() -> FieldDef:
    return _ref("OwnerId", "Owner ID", "User", "Owner", nillable=False, defaulted_on_create=True)


def _currency(label: str, currencies: tuple[str, ...], **kw: Any) -> FieldDef:
    return _f(
        "CurrencyIsoCode",
        f"{label} Currency",
        "picklist",
        length=3,
        picklist=_values(*currencies),
        restricted_picklist=True,
        defaulted_on_create=True,
        default_value=CORPORATE_CURRENCY,
        **kw,
    )


def _priced_line(parent: str, children: str) -> list[FieldDef]:
    """A line priced from a price book (OpportunityLineItem, OrderItem): its ``parent``
    (whose deletion deletes it; its lines are the parent's ``children``), its price book entry
    (which cannot be deleted while lines use it), and that entry's product."""
    return [
        _ref(
            f"{parent}Id",
            f"{parent} ID",
            parent,
            parent,
            nillable=False,
            updateable=False,
            child_relationship=children,
            on_parent_delete="cascade",
        ),
        _ref(
            "PricebookEntryId",
            "Price Book Entry ID",
            "PricebookEntry",
            "PricebookEntry",
            nillable=False,
            updateable=False,
            child_relationship=children,
            on_parent_delete="restrict",
        ),
        _read_only(
            _ref(
                "Product2Id",
                "Product ID",
                "Product2",
                "Product2",
                derived=("PricebookEntryId", "Product2Id"),
            )
        ),
    ]


def _parents_currency(parent: str, currencies: tuple[str, ...]) -> FieldDef:
    """A line's currency, always its ``parent``'s."""
    return _read_only(
        _f(
            "CurrencyIsoCode",
            "Currency ISO Code",
            "picklist",
            length=3,
            picklist=_values(*currencies),
            derived=(f"{parent}Id", "CurrencyIsoCode"),
        )
    )


def _head(label: str) -> list[FieldDef]:
    return [
        _id(f"{label} ID"),
        _f(
            "IsDeleted",
            "Deleted",
            "boolean",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        ),
    ]


def _audit() -> list[FieldDef]:
    def stamp(name: str, label: str) -> FieldDef:
        return _f(
            name,
            label,
            "datetime",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        )

    def user(name: str, label: str, relationship: str) -> FieldDef:
        return _ref(
            name,
            label,
            "User",
            relationship,
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        )

    return [
        stamp("CreatedDate", "Created Date"),
        user("CreatedById", "Created By ID", "CreatedBy"),
        stamp("LastModifiedDate", "Last Modified Date"),
        user("LastModifiedById", "Last Modified By ID", "LastModifiedBy"),
        stamp("SystemModstamp", "System Modstamp"),
    ]


def _object(
    name: str, label: str, plural: str, prefix: str, fields: list[FieldDef], **kw: Any
) -> ObjectDef:
    return ObjectDef(name, label, plural, prefix, {f.name: f for f in fields}, **kw)


def _billing_address() -> list[FieldDef]:
    countries = tuple(PicklistValue(code, name) for code, name in COUNTRIES.items())
    states = tuple(
        PicklistValue(code, name, frozenset({country}))
        for country, table in STATES.items()
        for code, name in table.items()
    )
    parts = (
        "BillingStreet",
        "BillingCity",
        "BillingState",
        "BillingPostalCode",
        "BillingCountry",
        "BillingStateCode",
        "BillingCountryCode",
    )
    within = {"compound_field": "BillingAddress"}
    return [
        _f("BillingStreet", "Billing Street", "textarea", length=255, **within),
        _text("BillingCity", "Billing City", 40, **within),
        _text("BillingState", "Billing State/Province", 80, **within),
        _text("BillingPostalCode", "Billing Zip/Postal Code", 20, **within),
        _text("BillingCountry", "Billing Country", 80, **within),
        _f(
            "BillingStateCode",
            "Billing State/Province Code",
            "picklist",
            length=255,
            picklist=states,
            restricted_picklist=True,
            controller="BillingCountryCode",
            **within,
        ),
        _f(
            "BillingCountryCode",
            "Billing Country Code",
            "picklist",
            length=255,
            picklist=countries,
            restricted_picklist=True,
            **within,
        ),
        _f(
            "BillingAddress",
            "Billing Address",
            "address",
            createable=False,
            updateable=False,
            filterable=False,
            sortable=False,
            compound_of=parts,
        ),
    ]


def build_schema(currencies: tuple[str, ...]) -> Schema:
    """The org's objects; ``currencies`` are the org's active currency codes."""
    stages = tuple(PicklistValue(stage, stage) for stage, *_ in STAGES)
    forecast = _values("Omitted", "Pipeline", "Best Case", "Commit", "Closed")

    user = _object(
        "User",
        "User",
        "Users",
        "005",
        [
            *_head("User"),
            _text("Username", "Username", 80, nillable=False, unique=True, id_lookup=True),
            _text("LastName", "Last Name", 80, nillable=False),
            _text("FirstName", "First Name", 40),
            _read_only(_text("Name", "Full Name", 121, name_field=True, id_lookup=True)),
            _f("Email", "Email", "email", length=128, nillable=False, id_lookup=True),
            _text("Alias", "Alias", 8, nillable=False),
            _f("IsActive", "Active", "boolean", nillable=False, defaulted_on_create=True),
            *_audit(),
        ],
        createable=False,
        updateable=False,
        deletable=False,
    )

    account = _object(
        "Account",
        "Account",
        "Accounts",
        "001",
        [
            *_head("Account"),
            _text("Name", "Account Name", 255, nillable=False, name_field=True),
            _f("Type", "Account Type", "picklist", length=255, picklist=_values(*ACCOUNT_TYPES)),
            *_billing_address(),
            _f("Phone", "Account Phone", "phone", length=40),
            _f("Website", "Website", "url", length=255),
            _f("Industry", "Industry", "picklist", length=255, picklist=_values(*INDUSTRIES)),
            _money("AnnualRevenue", "Annual Revenue", scale=0),
            _f("NumberOfEmployees", "Employees", "int", digits=8),
            _text("AccountNumber", "Account Number", 40),
            _long_text("Description", "Account Description"),
            _currency("Account", currencies),
            _owner(),
            *_audit(),
            _text(
                "ERP_Customer_Id__c",
                "ERP Customer Id",
                40,
                external_id=True,
                id_lookup=True,
                unique=True,
            ),
            _f(
                "Credit_Status__c",
                "Credit Status",
                "picklist",
                length=255,
                picklist=_values(*CREDIT_STATUSES),
                restricted_picklist=True,
            ),
            _text("Tax_Id__c", "Tax Id", 30),
        ],
    )

    contact = _object(
        "Contact",
        "Contact",
        "Contacts",
        "003",
        [
            *_head("Contact"),
            _ref(
                "AccountId",
                "Account ID",
                "Account",
                "Account",
                child_relationship="Contacts",
                on_parent_delete="cascade",
            ),
            _text("LastName", "Last Name", 80, nillable=False),
            _text("FirstName", "First Name", 40),
            _read_only(_text("Name", "Full Name", 121, name_field=True)),
            _f("Phone", "Business Phone", "phone", length=40),
            _f("Email", "Email", "email", length=80, id_lookup=True),
            _text("Title", "Title", 128),
            _currency("Contact", currencies),
            _owner(),
            *_audit(),
        ],
    )

    opportunity = _object(
        "Opportunity",
        "Opportunity",
        "Opportunities",
        "006",
        [
            *_head("Opportunity"),
            _ref(
                "AccountId",
                "Account ID",
                "Account",
                "Account",
                child_relationship="Opportunities",
                on_parent_delete="cascade",
            ),
            _text("Name", "Name", 120, nillable=False, name_field=True),
            _long_text("Description", "Description"),
            _f(
                "StageName",
                "Stage",
                "picklist",
                length=255,
                nillable=False,
                picklist=stages,
                restricted_picklist=True,
            ),
            _money("Amount", "Amount"),
            _f(
                "Probability",
                "Probability (%)",
                "percent",
                precision=3,
                scale=0,
                defaulted_on_create=True,
            ),
            _read_only(_money("ExpectedRevenue", "Expected Amount"), calculated=True),
            _f("CloseDate", "Close Date", "date", nillable=False),
            _f(
                "Type",
                "Opportunity Type",
                "picklist",
                length=255,
                picklist=_values(*OPPORTUNITY_TYPES),
            ),
            _read_only(
                _f("IsClosed", "Closed", "boolean", nillable=False, defaulted_on_create=True)
            ),
            _read_only(_f("IsWon", "Won", "boolean", nillable=False, defaulted_on_create=True)),
            _read_only(
                _f(
                    "ForecastCategoryName",
                    "Forecast Category",
                    "picklist",
                    length=255,
                    picklist=forecast,
                )
            ),
            _currency("Opportunity", currencies),
            _ref(
                "Pricebook2Id",
                "Price Book ID",
                "Pricebook2",
                "Pricebook2",
                child_relationship="Opportunities",
                on_parent_delete="restrict",
            ),
            _read_only(
                _f(
                    "HasOpportunityLineItem",
                    "Has Line Item",
                    "boolean",
                    nillable=False,
                    defaulted_on_create=True,
                )
            ),
            _owner(),
            *_audit(),
            _text("ERP_Order_Id__c", "ERP Order Id", 40, external_id=True, id_lookup=True),
            _text("ERP_Order_Status__c", "ERP Order Status", 40),
        ],
    )

    line = _object(
        "OpportunityLineItem",
        "Opportunity Product",
        "Opportunity Product",
        "00k",
        [
            *_head("Line Item"),
            *_priced_line("Opportunity", "OpportunityLineItems"),
            _read_only(
                _text(
                    "ProductCode", "Product Code", 255, derived=("PricebookEntryId", "ProductCode")
                )
            ),
            _parents_currency("Opportunity", currencies),
            _f("Quantity", "Quantity", "double", precision=12, scale=2, nillable=False),
            _read_only(_money("TotalPrice", "Total Price"), calculated=True),
            _money("UnitPrice", "Sales Price"),
            _read_only(_money("ListPrice", "List Price")),
            _f("ServiceDate", "Date", "date"),
            _text("Description", "Line Description", 255),
            *_audit(),
        ],
        name_field=None,
    )

    product = _object(
        "Product2",
        "Product",
        "Products",
        "01t",
        [
            *_head("Product"),
            _text("Name", "Product Name", 255, nillable=False, name_field=True),
            _text("ProductCode", "Product Code", 255),
            _f("Description", "Product Description", "textarea", length=4000),
            _f("IsActive", "Active", "boolean", nillable=False, defaulted_on_create=True),
            _f(
                "Family",
                "Product Family",
                "picklist",
                length=255,
                picklist=_values(*PRODUCT_FAMILIES),
            ),
            _currency("Product", currencies),
            *_audit(),
        ],
    )

    pricebook = _object(
        "Pricebook2",
        "Price Book",
        "Price Books",
        "01s",
        [
            *_head("Price Book"),
            _text("Name", "Price Book Name", 255, nillable=False, name_field=True),
            _f("IsActive", "Active", "boolean", nillable=False, defaulted_on_create=True),
            _read_only(
                _f(
                    "IsStandard",
                    "Is Standard Price Book",
                    "boolean",
                    nillable=False,
                    defaulted_on_create=True,
                )
            ),
            _text("Description", "Description", 255),
            *_audit(),
        ],
    )

    entry = _object(
        "PricebookEntry",
        "Price Book Entry",
        "Price Book Entries",
        "01u",
        [
            *_head("Price Book Entry"),
            _read_only(
                _text("Name", "Product Name", 255, name_field=True, derived=("Product2Id", "Name"))
            ),
            _ref(
                "Pricebook2Id",
                "Price Book ID",
                "Pricebook2",
                "Pricebook2",
                nillable=False,
                updateable=False,
                child_relationship="PricebookEntries",
                on_parent_delete="cascade",
            ),
            _ref(
                "Product2Id",
                "Product ID",
                "Product2",
                "Product2",
                nillable=False,
                updateable=False,
                child_relationship="PricebookEntries",
                on_parent_delete="cascade",
            ),
            _money("UnitPrice", "List Price", nillable=False),
            _f("IsActive", "Active", "boolean", nillable=False, defaulted_on_create=True),
            _f(
                "UseStandardPrice",
                "Use Standard Price",
                "boolean",
                nillable=False,
                defaulted_on_create=True,
            ),
            _read_only(
                _text("ProductCode", "Product Code", 255, derived=("Product2Id", "ProductCode"))
            ),
            _currency("Price Book Entry", currencies, updateable=False),
            *_audit(),
        ],
    )

    order = _object(
        "Order",
        "Order",
        "Orders",
        "801",
        [
            *_head("Order"),
            _owner(),
            _ref(
                "AccountId",
                "Account ID",
                "Account",
                "Account",
                nillable=False,
                child_relationship="Orders",
                on_parent_delete="cascade",
            ),
            _ref(
                "Pricebook2Id",
                "Price Book ID",
                "Pricebook2",
                "Pricebook2",
                child_relationship="Orders",
                on_parent_delete="restrict",
            ),
            _ref(
                "OpportunityId",
                "Opportunity ID",
                "Opportunity",
                "Opportunity",
                child_relationship="Orders",
                on_parent_delete="clear",
            ),
            _f("EffectiveDate", "Order Start Date", "date", nillable=False),
            _f(
                "Status",
                "Status",
                "picklist",
                length=255,
                nillable=False,
                picklist=_values(*ORDER_STATUSES),
                restricted_picklist=True,
            ),
            _read_only(
                _f(
                    "StatusCode",
                    "Status Category",
                    "picklist",
                    length=255,
                    picklist=_values(*ORDER_STATUSES),
                    nillable=False,
                    defaulted_on_create=True,
                )
            ),
            _text("Name", "Order Name", 80),
            _long_text("Description", "Description"),
            _read_only(
                _text(
                    "OrderNumber",
                    "Order Number",
                    30,
                    nillable=False,
                    auto_number=True,
                    name_field=True,
                    id_lookup=True,
                    defaulted_on_create=True,
                )
            ),
            _read_only(_money("TotalAmount", "Order Amount"), calculated=True),
            _currency("Order", currencies),
            *_audit(),
        ],
        name_field="OrderNumber",
    )

    order_item = _object(
        "OrderItem",
        "Order Product",
        "Order Products",
        "802",
        [
            *_head("Order Product"),
            *_priced_line("Order", "OrderItems"),
            _f("Quantity", "Quantity", "double", precision=18, scale=2, nillable=False),
            _money("UnitPrice", "Unit Price", nillable=False),
            _read_only(_money("ListPrice", "List Price")),
            _read_only(_money("TotalPrice", "Total Price"), calculated=True),
            _f("ServiceDate", "Start Date", "date"),
            _text("Description", "Line Description", 255),
            _read_only(
                _text(
                    "OrderItemNumber",
                    "Order Product Number",
                    10,
                    nillable=False,
                    auto_number=True,
                    name_field=True,
                    defaulted_on_create=True,
                )
            ),
            _parents_currency("Order", currencies),
            *_audit(),
        ],
        name_field="OrderItemNumber",
    )

    return Schema(
        [user, account, contact, opportunity, line, product, pricebook, entry, order, order_item]
    )


def stage_info(stage: str) -> tuple[int, str, bool, bool]:
    """(default probability, forecast category, is closed, is won) of a stage."""
    for name, probability, category, closed, won in STAGES:
        if name == stage:
            return probability, category, closed, won
    raise KeyError(stage)
