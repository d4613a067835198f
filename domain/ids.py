"""Canonical ids: readable, typed, and stable whichever key a client looked a record up by.

=============  ==============================  =========================================
type           id                              built from
=============  ==============================  =========================================
Customer       ``cus:CUST-000042``             the cross-reference key both systems hold
               ``cus:sf:0015g00000ABCDEAAA``   a CRM account not yet in the ERP
               ``cus:erp:1042``                an ERP customer without a cross-reference
Order          ``ord:50012``                   the ERP's internal id
Invoice        ``inv:50013``
Payment        ``pay:50020``
Opportunity    ``opp:0065g00000ABCDEAAA``      the Salesforce record id (18 characters)
LegalEntity    ``le:3``                        the ERP's id of the legal entity
=============  ==============================  =========================================

ERP ids are opaque: whatever string the ERP uses (NetSuite's are numbers, other ERPs' are
not), percent-encoded where it holds characters outside ``A-Z a-z 0-9 - _ . ~``. Which strings
an ERP can have is the adapter's to say (``accepts`` below). A malformed id, or an id of another
type, raises `InvalidId` with a message that says what was expected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote

from domain import sfid


class InvalidId(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """How a customer is known: any of its cross-reference key, CRM id and ERP id."""

    key: str | None = None
    salesforce_id: str | None = None
    erp_id: str | None = None


def customer_id(key: str | None, salesforce_id: str | None, erp_id: str | None) -> str:
    if key:
        return "cus:" + quote(key, safe="-_.~")
    if salesforce_id:
        return "cus:sf:" + salesforce_id
    if erp_id:
        return "cus:erp:" + _encoded(erp_id)
    raise ValueError("a customer has a key, a Salesforce id or an ERP id")


def parse_customer_id(value: str) -> CustomerRef:
    if not value.startswith("cus:") or len(value) <= 4:
        raise InvalidId(f"{value!r} is not a Customer id (expected cus:<key>)")
    rest = value[4:]
    if rest.startswith("sf:"):
        return CustomerRef(salesforce_id=parse_salesforce_id(rest[3:], "Account"))
    if rest.startswith("erp:"):
        return CustomerRef(erp_id=parse_erp_id(rest[4:], "Customer"))
    key = unquote(rest)
    if not key.strip() or len(key) > 80 or any(ord(char) < 32 for char in key):
        raise InvalidId(f"{value!r} is not a Customer id")
    return CustomerRef(key=key)


# The key prefix (first three characters) of the Salesforce objects Accord takes ids of.
_KEY_PREFIXES = {"Account": "001", "Opportunity": "006"}


def parse_salesforce_id(value: str, what: str = "record") -> str:
    """The 18-character form of a Salesforce id of object ``what`` (``Account``,
    ``Opportunity``; any object for ``record``): a well-formed id of another object is as
    invalid as a malformed one."""
    try:
        found = sfid.to18(value)
    except sfid.ChecksumMismatch:
        raise InvalidId(
            f"{value!r} is not a Salesforce {what} id: its last three characters fail the"
            " checksum of the first fifteen (a mistyped or altered id)"
        ) from None
    except ValueError:
        raise InvalidId(
            f"{value!r} is not a Salesforce {what} id (15 or 18 letters and digits)"
        ) from None
    prefix = _KEY_PREFIXES.get(what)
    if prefix is not None and not found.startswith(prefix):
        raise InvalidId(f"{value!r} is not a Salesforce {what} id (those start with {prefix})")
    return found


MAX_ERP_ID = 80
_SAFE = "-_.~"

Accepts = Callable[[str], bool]


def _encoded(erp_id: str) -> str:
    return quote(erp_id, safe=_SAFE)


def parse_erp_id(
    value: str, what: str = "record", accepts: Accepts | None = None, shape: str = ""
) -> str:
    """The ERP id ``value`` (as given, or percent-encoded as canonical ids hold it); with
    ``accepts``, only an id the ERP can have (``shape`` says what those look like)."""
    erp_id = unquote(value)
    if (
        not erp_id
        or len(erp_id) > MAX_ERP_ID
        or any(ord(char) < 32 or char.isspace() for char in erp_id)
    ):
        raise InvalidId(f"{value!r} is not an ERP {what} id")
    if accepts is not None and not accepts(erp_id):
        raise InvalidId(f"{value!r} is not an ERP {what} id ({shape or 'unknown to the ERP'})")
    return erp_id


_ERP_PREFIXES = {"Order": "ord", "Invoice": "inv", "Payment": "pay", "LegalEntity": "le"}


def erp_object_id(type_name: str, erp_id: str) -> str:
    return f"{_ERP_PREFIXES[type_name]}:{_encoded(erp_id)}"


def parse_erp_object_id(
    type_name: str, value: str, accepts: Accepts | None = None, shape: str = ""
) -> str:
    prefix = _ERP_PREFIXES[type_name] + ":"
    if not value.startswith(prefix):
        raise InvalidId(f"{value!r} is not an {type_name} id (expected {prefix}<ERP id>)")
    return parse_erp_id(value[len(prefix) :], type_name, accepts, shape)


def opportunity_id(salesforce_id: str) -> str:
    return "opp:" + salesforce_id


def parse_opportunity_id(value: str) -> str:
    if not value.startswith("opp:"):
        raise InvalidId(f"{value!r} is not an Opportunity id (expected opp:<Salesforce id>)")
    return parse_salesforce_id(value[4:], "Opportunity")
