"""The sandbox's seed: one deterministic world that both emulators are loaded from.

A `World` describes a company's customers as they exist across Salesforce and the ERP, with
each side's identifiers already assigned (18-character Salesforce ids, NetSuite internal ids,
the shared cross-reference key). `sandbox.salesforce.seed` and `sandbox.netsuite.seed`
project it into their systems' native records, so the two emulators agree on everything
except the deliberate drift recorded here:

- a customer that exists in one system only (an ERP customer no account links to; a
  prospect's account with no ERP link);
- an account whose ERP link points to no ERP customer, and an account that lacks the link
  to the ERP customer that stands for it (the ERP customer holds the key, the account not);
- the credit status mirrored on the account differs from the ERP's;
- the ERP holds a different company name or billing street;
- a Closed Won opportunity with no ERP sales order; an ERP sales order whose opportunity was
  deleted from the CRM; an opportunity changed after booking, so its amount and the order's
  total differ.

`World.drift` lists all of it, by kind. The drift that came later to the world (links, the
credit mirror, deleted and changed opportunities) is laid on after the rest is generated,
from a random stream of its own, so the rest of the world is what it always was.

The same ``seed``, ``customers`` and start instant always give the same world. Dates are laid
out around the day the sandbox starts (``as_of``), and no record is stamped later than the start
itself (`World.stamp`), whatever the hour: a change feed that starts from the newest record
never starts in the future. Sizes scale from a
few hundred customers (the default) to tens of thousands (benchmarks) in well under a minute.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from domain import sfid
from sandbox.clock import SandboxClock
from sandbox.tax_ids import tax_id_for

CENT = Decimal("0.01")
_SEED_MARGIN = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Subsidiary:
    """An ERP subsidiary: the legal entity that books a customer's transactions."""

    ns_id: int
    name: str
    country: str  # ISO 3166-1 alpha-2
    currency: str  # ISO 4217


@dataclass(frozen=True)
class Currency:
    ns_id: int
    code: str
    name: str


@dataclass(frozen=True)
class Terms:
    ns_id: int
    name: str
    days: int


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    family: str
    list_price_usd: Decimal
    sf_product_id: str
    ns_item_id: int


@dataclass(frozen=True)
class Address:
    street: str
    city: str
    state: str | None
    postal_code: str
    country: str  # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class Contact:
    sf_id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    title: str


@dataclass(frozen=True)
class Line:
    product: Product
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(CENT)


@dataclass
class Opportunity:
    sf_id: str
    name: str
    stage: str
    close_date: dt.date
    currency: str
    lines: list[Line]
    line_sf_ids: list[str]
    sales_order: SalesOrder | None = None  # set when the ERP booked it

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


@dataclass
class SalesOrder:
    ns_id: int
    tran_id: str
    external_id: str | None  # the Salesforce opportunity id when booked from one
    date: dt.date
    # NetSuite sales order status letter: B pending fulfillment, F pending billing, G billed.
    status: str
    currency: str
    lines: list[Line]
    sf_order_id: str | None = None  # a Salesforce Order mirrors some booked orders
    sf_order_item_ids: list[str] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


@dataclass
class Invoice:
    ns_id: int
    tran_id: str
    sales_order: SalesOrder | None
    date: dt.date
    due_date: dt.date
    currency: str
    lines: list[Line]
    amount_paid: Decimal = Decimal("0.00")

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def amount_remaining(self) -> Decimal:
        return self.total - self.amount_paid


@dataclass(frozen=True)
class Application:
    invoice: Invoice
    amount: Decimal


@dataclass
class Payment:
    ns_id: int
    tran_id: str
    date: dt.date
    currency: str
    amount: Decimal
    applications: list[Application]
    memo: str


@dataclass
class Customer:
    """One customer as both systems know it; ``key`` is the shared cross-reference."""

    index: int
    key: str | None  # Account.ERP_Customer_Id__c == customer.externalId
    name: str
    industry: str
    owner: str
    phone: str
    website: str
    address: Address
    subsidiary: Subsidiary
    terms: Terms
    credit_limit: Decimal
    credit_hold: str  # NetSuite creditHoldOverride: AUTO, ON, OFF
    tax_id: str | None
    created: dt.datetime
    sf_account_id: str | None  # None: the account is missing from Salesforce
    ns_id: int | None  # None: the customer is missing from the ERP
    erp_name: str | None = None  # set when the ERP's company name drifted
    erp_street: str | None = None  # set when the ERP's billing street drifted
    account_unlinked: bool = False  # the account lacks the key the ERP customer holds
    crm_credit_status: str | None = None  # set when the account's mirrored status drifted
    contacts: list[Contact] = field(default_factory=list)
    opportunities: list[Opportunity] = field(default_factory=list)
    sales_orders: list[SalesOrder] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.subsidiary.currency

    @property
    def account_key(self) -> str | None:
        """The key the Salesforce account holds (``ERP_Customer_Id__c``)."""
        return None if self.account_unlinked else self.key

    def balance(self) -> Decimal:
        return sum((inv.amount_remaining for inv in self.invoices), Decimal("0.00"))

    def overdue_balance(self, as_of: dt.date) -> Decimal:
        return sum(
            (inv.amount_remaining for inv in self.invoices if inv.due_date < as_of),
            Decimal("0.00"),
        )


@dataclass
class World:
    seed: int
    clock: SandboxClock  # the emulators' clock; it read ``clock.start`` when the world was built
    org_id: str
    users: list[tuple[str, str]]  # (Salesforce user id, full name)
    currencies: list[Currency]
    subsidiaries: list[Subsidiary]
    terms: list[Terms]
    products: list[Product]
    pricebook_id: str
    pricebook_entry_ids: dict[tuple[str, str], str]  # (sku, currency) -> PricebookEntry id
    customers: list[Customer]

    @property
    def as_of(self) -> dt.date:
        """The day the sandbox starts: dates are generated around it."""
        return self.clock.start.date()

    @property
    def started(self) -> dt.datetime:
        return self.clock.start

    def stamp(self, day: dt.date, at: dt.time) -> dt.datetime:
        """When a seeded record dated ``day`` was saved: at ``at`` (UTC) that day, but never
        later than a minute before the start (nor before that day began), so a record of today
        is already in the past at any hour the sandbox starts."""
        stamp = dt.datetime.combine(day, at, dt.UTC)
        start = self.clock.start
        latest = max(dt.datetime.combine(start.date(), dt.time(0), dt.UTC), start - _SEED_MARGIN)
        return min(stamp, latest)

    def drift(self) -> dict[str, list[str]]:
        """What differs between the systems, by kind: each kind lists its subjects' ids, as a
        reconciliation names them (sorted).

        - ``LINK_MISSING``, ``LINK_BROKEN``: Salesforce account ids (no ERP link; a link to no
          ERP customer);
        - ``ERP_CUSTOMER_UNLINKED``: ERP customer ids no account links to;
        - ``CREDIT_STATUS_MISMATCH``, ``NAME_MISMATCH``, ``BILLING_STREET_MISMATCH``: the
          account ids of linked customers whose systems disagree;
        - ``ORDER_MISSING``, ``AMOUNT_MISMATCH``: opportunity ids;
        - ``OPPORTUNITY_MISSING``: ERP sales order ids.
        """
        report: dict[str, list[str]] = {kind: [] for kind in DRIFT_KINDS}
        opportunities = {o.sf_id for c in self.customers for o in c.opportunities}
        for customer in self.customers:
            account = customer.sf_account_id
            linked = account is not None and customer.ns_id is not None
            if account is not None and (customer.key is None or customer.account_unlinked):
                report["LINK_MISSING"].append(account)
            elif account is not None and customer.ns_id is None:
                report["LINK_BROKEN"].append(account)
            if customer.ns_id is not None and (account is None or customer.account_unlinked):
                report["ERP_CUSTOMER_UNLINKED"].append(str(customer.ns_id))
            if linked and not customer.account_unlinked:
                assert account is not None
                if customer.crm_credit_status is not None:
                    report["CREDIT_STATUS_MISMATCH"].append(account)
                if customer.erp_name is not None:
                    report["NAME_MISMATCH"].append(account)
                if customer.erp_street is not None:
                    report["BILLING_STREET_MISMATCH"].append(account)
            for opp in customer.opportunities:
                order = opp.sales_order
                if opp.stage == "Closed Won" and order is None:
                    report["ORDER_MISSING"].append(opp.sf_id)
                elif order is not None and (
                    order.total != opp.amount or order.currency != opp.currency
                ):
                    report["AMOUNT_MISMATCH"].append(opp.sf_id)
            for order in customer.sales_orders:
                if order.external_id is not None and order.external_id not in opportunities:
                    report["OPPORTUNITY_MISSING"].append(str(order.ns_id))
        return {kind: sorted(subjects) for kind, subjects in report.items()}


DRIFT_KINDS = (
    "LINK_MISSING",
    "LINK_BROKEN",
    "ERP_CUSTOMER_UNLINKED",
    "CREDIT_STATUS_MISMATCH",
    "ORDER_MISSING",
    "OPPORTUNITY_MISSING",
    "AMOUNT_MISMATCH",
    "NAME_MISMATCH",
    "BILLING_STREET_MISMATCH",
)
"""Every kind of drift the world may hold, as `World.drift` names them."""


# --------------------------------------------------------------------------- reference data

CURRENCIES = [
    Currency(1, "USD", "US Dollar"),
    Currency(2, "GBP", "British pound"),
    Currency(3, "CAD", "Canadian Dollar"),
    Currency(4, "EUR", "Euro"),
    Currency(5, "JPY", "Japanese Yen"),
    Currency(6, "AUD", "Australian Dollar"),
]

SUBSIDIARIES = [
    Subsidiary(1, "Accord Demo Inc.", "US", "USD"),
    Subsidiary(2, "Accord Demo Ltd", "GB", "GBP"),
    Subsidiary(3, "Accord Demo GmbH", "DE", "EUR"),
    Subsidiary(4, "Accord Demo SAS", "FR", "EUR"),
    Subsidiary(5, "Accord Demo Canada Inc.", "CA", "CAD"),
    Subsidiary(6, "Accord Demo K.K.", "JP", "JPY"),
    Subsidiary(7, "Accord Demo Pty Ltd", "AU", "AUD"),
]

TERMS = [
    Terms(1, "Net 15", 15),
    Terms(2, "Net 30", 30),
    Terms(3, "Net 45", 45),
    Terms(4, "Net 60", 60),
    Terms(5, "Due on receipt", 0),
]

# Country names by ISO 3166-1 alpha-2 code: the world's countries and others an address may
# be changed to.
COUNTRY_NAMES = {
    "US": "United States",
    "GB": "United Kingdom",
    "DE": "Germany",
    "FR": "France",
    "CA": "Canada",
    "JP": "Japan",
    "AU": "Australia",
    "IE": "Ireland",
    "NL": "Netherlands",
    "ES": "Spain",
    "IT": "Italy",
    "CH": "Switzerland",
    "SE": "Sweden",
    "NZ": "New Zealand",
    "SG": "Singapore",
    "IN": "India",
    "MX": "Mexico",
    "BR": "Brazil",
}

# Rough conversion from USD list prices; JPY has no minor unit.
FX_FROM_USD = {
    "USD": Decimal("1"),
    "GBP": Decimal("0.79"),
    "EUR": Decimal("0.92"),
    "CAD": Decimal("1.36"),
    "JPY": Decimal("150"),
    "AUD": Decimal("1.52"),
}

STAGES = [
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

INDUSTRIES = [
    "Manufacturing",
    "Retail",
    "Technology",
    "Healthcare",
    "Finance",
    "Energy",
    "Transportation",
    "Hospitality",
    "Education",
    "Construction",
]

_NAME_HEADS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Aperture",
    "Gringotts",
    "Oscorp",
    "Nakatomi",
    "Monarch",
    "Dunder",
    "Pied Piper",
    "Sterling",
    "Bluth",
    "Prestige",
    "Zenith",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Litware",
    "Adventure",
    "Wingtip",
    "Proseware",
    "Lucerne",
    "Alpine",
    "Blue Yonder",
    "Coho",
    "Fourth Coffee",
    "Graphic",
    "Humongous",
    "Margie",
    "Trey",
    "Woodgrove",
    "Halcyon",
    "Meridian",
    "Juniper",
    "Cobalt",
    "Saffron",
    "Quarry",
]
_NAME_TAILS = [
    "Industries",
    "Corporation",
    "Systems",
    "Holdings",
    "Labs",
    "Logistics",
    "Foods",
    "Partners",
    "Dynamics",
    "Works",
    "Trading",
    "Energy",
    "Health",
    "Retail",
    "Analytics",
]
_LEGAL_SUFFIX = {
    "US": "Inc.",
    "GB": "Ltd",
    "DE": "GmbH",
    "FR": "SAS",
    "CA": "Inc.",
    "JP": "K.K.",
    "AU": "Pty Ltd",
}
_CITIES: dict[str, list[tuple[str, str | None, str]]] = {
    "US": [
        ("New York", "NY", "100"),
        ("Austin", "TX", "787"),
        ("Chicago", "IL", "606"),
        ("Seattle", "WA", "981"),
        ("Denver", "CO", "802"),
    ],
    "GB": [("London", None, "EC1A"), ("Manchester", None, "M1"), ("Leeds", None, "LS1")],
    "DE": [("Berlin", None, "10"), ("Munich", None, "80"), ("Hamburg", None, "20")],
    "FR": [("Paris", None, "75"), ("Lyon", None, "69"), ("Nantes", None, "44")],
    "CA": [("Toronto", "ON", "M5V"), ("Vancouver", "BC", "V6B"), ("Montreal", "QC", "H2X")],
    "JP": [("Tokyo", None, "100-"), ("Osaka", None, "530-")],
    "AU": [("Sydney", "NSW", "20"), ("Melbourne", "VIC", "30")],
}
_COUNTRY_WEIGHTS = [
    ("US", 40),
    ("GB", 15),
    ("DE", 12),
    ("FR", 10),
    ("CA", 10),
    ("JP", 6),
    ("AU", 7),
]
_STREETS = [
    "Market St",
    "High Street",
    "Main St",
    "Hauptstrasse",
    "Rue de Rivoli",
    "King St",
    "Queen St",
    "Harbour Rd",
    "Station Rd",
    "Park Ave",
    "Elm St",
    "Bay St",
]
_FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Ken",
    "Radia",
    "Linus",
    "Frances",
    "John",
    "Hedy",
    "Tim",
    "Sophie",
    "Katherine",
    "Dennis",
    "Yuki",
]
_LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Thompson",
    "Perlman",
    "Torvalds",
    "Allen",
    "Backus",
    "Lamarr",
    "Berners-Lee",
    "Wilson",
    "Johnson",
    "Ritchie",
    "Tanaka",
]
_TITLES = ["CFO", "Controller", "AP Manager", "Procurement Lead", "CTO", "VP Operations"]
_PRODUCTS = [
    ("ACC-PLAT", "Accord Platform Subscription", "Software", "12000.00"),
    ("ACC-SEAT", "User Seat", "Software", "480.00"),
    ("ACC-CONN-SF", "Salesforce Connector", "Software", "3600.00"),
    ("ACC-CONN-ERP", "ERP Connector", "Software", "4800.00"),
    ("SVC-ONBOARD", "Onboarding Package", "Services", "7500.00"),
    ("SVC-TRAIN", "Training Day", "Services", "1800.00"),
    ("SVC-PREM", "Premium Support", "Support", "6000.00"),
    ("HW-GATEWAY", "Edge Gateway Appliance", "Hardware", "2450.00"),
    ("HW-SENSOR", "Sensor Pack", "Hardware", "129.99"),
    ("SVC-AUDIT", "Compliance Audit", "Services", "9800.00"),
]


# --------------------------------------------------------------------------- generation


class _Ids:
    """Deterministic identifier counters, one per Salesforce key prefix and NetSuite type."""

    def __init__(self) -> None:
        self._sf: dict[str, int] = {}
        self._ns: dict[str, int] = {}

    def sf(self, prefix: str) -> str:
        self._sf[prefix] = self._sf.get(prefix, 0) + 1
        return sfid.make(prefix, 1_000_000 + self._sf[prefix] * 7919)

    def ns(self, kind: str, start: int) -> int:
        self._ns[kind] = self._ns.get(kind, start) + 1
        return self._ns[kind]


def _money(value: Decimal, currency: str) -> Decimal:
    converted = value * FX_FROM_USD[currency]
    if currency == "JPY":
        return converted.quantize(Decimal("1"))
    return converted.quantize(CENT)


def build_world(
    seed: int = 42,
    customers: int = 300,
    *,
    now: dt.datetime | SandboxClock | None = None,
    drift_rate: float = 0.04,
) -> World:
    """Generate the world for ``seed`` as of ``now``: a start instant (default: the real time,
    in UTC) or a running clock. Every date is laid out around the start's UTC day."""
    if customers < 0:
        raise ValueError("customers must not be negative")
    clock = now if isinstance(now, SandboxClock) else SandboxClock(now)
    rng = random.Random(seed)
    as_of = clock.start.date()
    ids = _Ids()
    org_id = sfid.make("00D", 1000 + seed)
    users = [
        (ids.sf("005"), f"{first} {last}")
        for first, last in [
            ("Sam", "Seller"),
            ("Casey", "Closer"),
            ("Robin", "Renewals"),
            ("Alex", "Accounts"),
        ]
    ]

    products: list[Product] = []
    for number, (sku, name, family, price) in enumerate(_PRODUCTS, start=1):
        products.append(Product(sku, name, family, Decimal(price), ids.sf("01t"), 100 + number))
    pricebook_id = ids.sf("01s")
    entry_ids = {
        (product.sku, currency.code): ids.sf("01u")
        for product in products
        for currency in CURRENCIES
    }

    countries = [country for country, weight in _COUNTRY_WEIGHTS for _ in range(weight)]
    subsidiaries = {sub.country: sub for sub in SUBSIDIARIES}
    result: list[Customer] = []
    used_names: set[str] = set()
    for index in range(1, customers + 1):
        country = rng.choice(countries)
        sub = subsidiaries[country]
        name = _company_name(rng, country, index, used_names)
        city, state, postal_prefix = rng.choice(_CITIES[country])
        address = Address(
            street=f"{rng.randint(1, 999)} {rng.choice(_STREETS)}",
            city=city,
            state=state,
            postal_code=postal_prefix + "".join(rng.choice("0123456789") for _ in range(2)),
            country=country,
        )
        roll = rng.random()
        erp_only = roll < drift_rate / 2
        crm_only = drift_rate / 2 <= roll < drift_rate * 1.5  # prospects never set up in the ERP
        customer = Customer(
            index=index,
            key=None if crm_only else f"CUST-{index:06d}",
            name=name,
            industry=rng.choice(INDUSTRIES),
            owner=rng.choice(users)[1],
            phone=f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000000, 9999999)}",
            website=f"https://www.{name.split()[0].lower()}{index}.example",
            address=address,
            subsidiary=sub,
            terms=rng.choice(TERMS[:4]) if rng.random() < 0.95 else TERMS[4],
            credit_limit=_money(
                Decimal(rng.choice([25, 50, 100, 150, 250, 500])) * 1000, sub.currency
            ),
            credit_hold=rng.choices(["AUTO", "ON", "OFF"], weights=[90, 4, 6])[0],
            tax_id=None if rng.random() < 0.05 else tax_id_for(country, rng),
            created=dt.datetime.combine(
                as_of - dt.timedelta(days=rng.randint(60, 1500)), dt.time(9, 30), dt.UTC
            ),
            sf_account_id=None if erp_only else ids.sf("001"),
            ns_id=None if crm_only else 1000 + index,
        )
        if customer.ns_id and customer.sf_account_id:
            if rng.random() < drift_rate:
                customer.erp_name = (
                    name.replace(" ", "  ", 1) if rng.random() < 0.3 else name.upper()
                )
            if rng.random() < drift_rate:
                customer.erp_street = f"{rng.randint(1000, 1999)} {rng.choice(_STREETS)}"
        _populate(customer, rng, ids, users, products, as_of, drift_rate)
        result.append(customer)
    _later_drift(result, random.Random(f"drift:{seed}"), round(customers * drift_rate / 4))

    return World(
        seed=seed,
        clock=clock,
        org_id=org_id,
        users=users,
        currencies=list(CURRENCIES),
        subsidiaries=list(SUBSIDIARIES),
        terms=list(TERMS),
        products=products,
        pricebook_id=pricebook_id,
        pricebook_entry_ids=entry_ids,
        customers=result,
    )


def _company_name(rng: random.Random, country: str, index: int, used: set[str]) -> str:
    base = f"{rng.choice(_NAME_HEADS)} {rng.choice(_NAME_TAILS)}"
    if base in used:
        base = f"{base} {index}"
    used.add(base)
    return f"{base} {_LEGAL_SUFFIX[country]}"


def _lines(rng: random.Random, products: list[Product], currency: str) -> list[Line]:
    chosen = rng.sample(products, rng.randint(1, 4))
    return [
        Line(
            product,
            rng.randint(1, 3) if product.list_price_usd >= 1000 else rng.randint(1, 25),
            _money(product.list_price_usd, currency),
        )
        for product in chosen
    ]


def _populate(
    customer: Customer,
    rng: random.Random,
    ids: _Ids,
    users: list[tuple[str, str]],
    products: list[Product],
    as_of: dt.date,
    drift_rate: float,
) -> None:
    in_crm = customer.sf_account_id is not None
    in_erp = customer.ns_id is not None
    currency = customer.currency

    if in_crm:
        for _ in range(rng.randint(0, 3)):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            domain = customer.website.removeprefix("https://www.")
            customer.contacts.append(
                Contact(
                    sf_id=ids.sf("003"),
                    first_name=first,
                    last_name=last,
                    email=f"{first.lower()}.{last.lower()}@{domain}",
                    phone=f"+1 555 {rng.randint(1000, 9999)}",
                    title=rng.choice(_TITLES),
                )
            )

    order_number = 0
    for _ in range(rng.randint(0, 4) if in_crm else 0):
        stage = (
            rng.choice(STAGES[:8])
            if rng.random() < 0.45
            else rng.choice(STAGES[8:] * 3 + STAGES[8:9])
        )
        closed = stage.startswith("Closed")
        close_date = (
            as_of - dt.timedelta(days=rng.randint(5, 400))
            if closed
            else as_of + dt.timedelta(days=rng.randint(7, 180))
        )
        lines = _lines(rng, products, currency)
        opp = Opportunity(
            sf_id=ids.sf("006"),
            name=f"{customer.name.split()[0]} - {lines[0].product.name}",
            stage=stage,
            close_date=close_date,
            currency=currency,
            lines=lines,
            line_sf_ids=[ids.sf("00k") for _ in lines],
        )
        customer.opportunities.append(opp)
        if stage == "Closed Won" and in_erp and rng.random() >= drift_rate * 2:
            order_number += 1
            order = _sales_order(customer, ids, opp.sf_id, close_date, lines, rng)
            opp.sales_order = order
            if rng.random() < 0.3:
                order.sf_order_id = ids.sf("801")
                order.sf_order_item_ids = [ids.sf("802") for _ in lines]

    if in_erp and not customer.sales_orders:
        # Customers known only to the ERP, or migrated before the CRM: orders with no opportunity.
        for _ in range(rng.randint(0, 2)):
            date = as_of - dt.timedelta(days=rng.randint(10, 300))
            _sales_order(customer, ids, None, date, _lines(rng, products, currency), rng)

    for order in customer.sales_orders:
        if order.status not in ("F", "G"):
            continue
        invoice_date = order.date + dt.timedelta(days=rng.randint(0, 10))
        if invoice_date > as_of:
            invoice_date = as_of
        invoice = Invoice(
            ns_id=ids.ns("transaction", 50_000),
            tran_id=f"INV{ids.ns('invoice_number', 10_000):06d}",
            sales_order=order,
            date=invoice_date,
            due_date=invoice_date + dt.timedelta(days=customer.terms.days),
            currency=currency,
            lines=list(order.lines),
        )
        customer.invoices.append(invoice)

    for invoice in customer.invoices:
        fate = rng.random()
        if fate < 0.45:
            paid = invoice.total  # paid in full
        elif fate < 0.6:
            paid = (invoice.total * Decimal(rng.choice(["0.25", "0.5", "0.75"]))).quantize(
                Decimal("1") if currency == "JPY" else CENT
            )
        else:
            continue  # open, overdue or not depending on the due date
        pay_date = min(as_of, invoice.date + dt.timedelta(days=rng.randint(3, 60)))
        invoice.amount_paid = paid
        customer.payments.append(
            Payment(
                ns_id=ids.ns("transaction", 50_000),
                tran_id=f"PYMT{ids.ns('payment_number', 20_000):06d}",
                date=pay_date,
                currency=currency,
                amount=paid,
                applications=[Application(invoice, paid)],
                memo=f"Remittance for {invoice.tran_id}",
            )
        )


def _sales_order(
    customer: Customer,
    ids: _Ids,
    opportunity_id: str | None,
    date: dt.date,
    lines: list[Line],
    rng: random.Random,
) -> SalesOrder:
    order = SalesOrder(
        ns_id=ids.ns("transaction", 50_000),
        tran_id=f"SO{ids.ns('order_number', 30_000):06d}",
        external_id=opportunity_id,
        date=date,
        status=rng.choices(["B", "F", "G"], weights=[15, 20, 65])[0],
        currency=customer.currency,
        lines=lines,
    )
    customer.sales_orders.append(order)
    return order


_MIRROR = ("Good Standing", "Over Limit", "On Hold")


def _later_drift(customers: list[Customer], rng: random.Random, count: int) -> None:
    """Up to ``count`` customers each of: a broken link, a missing link, a stale credit
    mirror, an opportunity deleted after booking and one changed after booking.

    Chosen from the end of the list and never twice, so each drifted customer shows one kind
    of it (and the first customers, which examples and tests pick, stay as they were).
    """
    taken: set[int] = set()

    def pick(fits: Callable[[Customer], bool]) -> list[Customer]:
        found = [c for c in reversed(customers) if c.index not in taken and fits(c)]
        chosen = found[: count * 3 : 3]  # spread out, not the last few in a row
        taken.update(c.index for c in chosen)
        return chosen

    def clean(customer: Customer) -> bool:
        return (
            customer.sf_account_id is not None
            and customer.ns_id is not None
            and customer.erp_name is None
            and customer.erp_street is None
        )

    for customer in pick(lambda c: c.sf_account_id is not None and c.ns_id is None):
        customer.key = f"CUST-{customer.index:06d}"  # the ERP customer it named is gone
    for customer in pick(clean):
        customer.account_unlinked = True
    for customer in pick(clean):
        true = credit_mirror(customer)
        customer.crm_credit_status = rng.choice([value for value in _MIRROR if value != true])
    for customer in pick(lambda c: clean(c) and any(o.sales_order for o in c.opportunities)):
        booked = [o for o in customer.opportunities if o.sales_order is not None]
        customer.opportunities.remove(rng.choice(booked))
    for customer in pick(lambda c: clean(c) and any(o.sales_order for o in c.opportunities)):
        opp = rng.choice([o for o in customer.opportunities if o.sales_order is not None])
        first = opp.lines[0]
        opp.lines = [Line(first.product, first.quantity + 1, first.unit_price), *opp.lines[1:]]


def credit_mirror(customer: Customer) -> str | None:
    """The credit status an integration mirrors from the ERP, as Salesforce's picklist says
    it (None: the customer is not in the ERP)."""
    if customer.ns_id is None:
        return None
    if customer.credit_hold == "ON":
        return "On Hold"
    if customer.credit_hold == "OFF":
        return "Good Standing"
    if customer.balance() > customer.credit_limit:
        return "Over Limit"
    return "Good Standing"
