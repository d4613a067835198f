"""How Salesforce's records read as Accord's canonical ones, and canonical changes as fields.

The adapter's mapping: which Account field holds each canonical customer attribute
(`ACCOUNT_READS`, and `ACCOUNT_WRITES` for those Accord may write), the columns every query
selects, and the conversions of Salesforce's values (numbers, dates, date-times, nested
relationship fields) into canonical records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from domain import sfid
from sources.errors import FieldProblem, SourceProtocolError, SourceValidationError
from sources.records import NO_ADDRESS, AccountFields, Address, CrmAccount, CrmOpportunity, Line

SOURCE = "salesforce"

# The adapter's mapping of a customer: canonical attribute (`sources.records.CustomerAttributes`)
# -> the Account field read, and the one written where Accord may write it. The billing address
# is the Billing* compound field.
ACCOUNT_READS: dict[str, str] = {
    "name": "Name",
    "account_number": "AccountNumber",
    "industry": "Industry",
    "owner": "Owner.Name",
    "phone": "Phone",
    "website": "Website",
    "currency": "CurrencyIsoCode",
    "tax_id": "Tax_Id__c",
}
ACCOUNT_WRITES: dict[str, str] = {
    "name": "Name",
    "industry": "Industry",
    "phone": "Phone",
    "website": "Website",
    "tax_id": "Tax_Id__c",
}
BILLING_ADDRESS = {
    "street": "BillingStreet",
    "city": "BillingCity",
    "state": "BillingState",
    "postal_code": "BillingPostalCode",
    "country": "BillingCountryCode",
}
ACCOUNT_FIELDS = (
    "Id",
    *ACCOUNT_READS.values(),
    *BILLING_ADDRESS.values(),
    "ERP_Customer_Id__c",
    "Credit_Status__c",
    "LastModifiedDate",
)
OPPORTUNITY_FIELDS = (
    "Id",
    "AccountId",
    "Name",
    "StageName",
    "CloseDate",
    "Amount",
    "CurrencyIsoCode",
    "IsClosed",
    "IsWon",
    "ERP_Order_Id__c",
    "ERP_Order_Status__c",
)
OPPORTUNITY_LINE_FIELDS = (
    "Id",
    "OpportunityId",
    "ProductCode",
    "Product2.Name",
    "Quantity",
    "UnitPrice",
    "TotalPrice",
)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise SourceProtocolError(SOURCE, f"not a number: {value!r}") from exc


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise SourceProtocolError(SOURCE, f"not a date: {value!r}") from exc


def _datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    text = str(value)
    if text.endswith(("+0000", "-0000")):
        text = text[:-5] + "+00:00"
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SourceProtocolError(SOURCE, f"not a datetime: {value!r}") from exc


def _path(record: Mapping[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict):  # a record decoded from JSON
            return None
        value = value.get(part)
    return value


def to_account(record: Mapping[str, Any]) -> CrmAccount:
    try:
        attributes = {name: _path(record, column) for name, column in ACCOUNT_READS.items()}
        return CrmAccount(
            salesforce_id=str(record["Id"]),
            erp_key=record.get("ERP_Customer_Id__c"),
            billing_address=Address(
                **{part: record.get(column) for part, column in BILLING_ADDRESS.items()}
            ),
            credit_status_mirror=record.get("Credit_Status__c"),
            last_modified=_datetime(record.get("LastModifiedDate")),
            **attributes,
        )
    except KeyError as exc:
        raise SourceProtocolError(SOURCE, f"Account record without {exc}") from exc


def to_opportunity(record: Mapping[str, Any], lines: Sequence[Line] = ()) -> CrmOpportunity:
    try:
        return CrmOpportunity(
            salesforce_id=str(record["Id"]),
            account_id=record.get("AccountId"),
            name=str(record["Name"]),
            stage=str(record["StageName"]),
            close_date=_date(record.get("CloseDate")),
            amount=_decimal(record.get("Amount")),
            currency=record.get("CurrencyIsoCode"),
            is_closed=bool(record.get("IsClosed")),
            is_won=bool(record.get("IsWon")),
            erp_order_number=record.get("ERP_Order_Id__c"),
            erp_order_status=record.get("ERP_Order_Status__c"),
            lines=tuple(lines),
        )
    except KeyError as exc:
        raise SourceProtocolError(SOURCE, f"Opportunity record without {exc}") from exc


def to_line(number: int, record: Mapping[str, Any]) -> Line:
    return Line(
        number=number,
        sku=record.get("ProductCode"),
        description=_path(record, "Product2.Name"),
        quantity=_decimal(record.get("Quantity")) or Decimal(0),
        unit_price=_decimal(record.get("UnitPrice")) or Decimal(0),
        amount=_decimal(record.get("TotalPrice")) or Decimal(0),
    )


def strip_attributes(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: strip_attributes(value) if isinstance(value, dict) else value
        for key, value in record.items()
        if key != "attributes"
    }


def normalise_id(record_id: str) -> str:
    """The 18-character form of a Salesforce id; `SourceValidationError` if malformed."""
    try:
        return sfid.to18(record_id)
    except ValueError as exc:
        raise SourceValidationError(
            SOURCE, str(exc), problems=[FieldProblem("Id", "MALFORMED_ID", str(exc))]
        ) from exc


def account_body(fields: AccountFields) -> dict[str, Any]:
    """Salesforce Account fields for canonical account changes (None empties a field)."""
    body: dict[str, Any] = {}
    for name, value in fields.given().items():
        if name == "billing_address":
            address = value if isinstance(value, Address) else NO_ADDRESS
            body.update(
                {column: getattr(address, part) for part, column in BILLING_ADDRESS.items()}
            )
        elif name in ACCOUNT_WRITES:
            body[ACCOUNT_WRITES[name]] = value
        else:
            raise ValueError(f"the Salesforce adapter writes no customer attribute {name!r}")
    if fields.erp_key is not None:
        body["ERP_Customer_Id__c"] = fields.erp_key
    if fields.credit_status_mirror is not None:
        body["Credit_Status__c"] = fields.credit_status_mirror
    return body
