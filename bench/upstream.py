"""A bare HTTP client of the emulators: the benchmark's own view of the upstream systems.

It reads the emulators directly (Salesforce SOQL with the sandbox's session, NetSuite SuiteQL
with a client-credentials token, the NetSuite record API for writes), with none of Accord's
code in the way. The benchmarks use it to find ids to ask Accord about, to post the payment
of the freshness scenario, and as the baseline of the cold scenario: the two upstream calls
of a credit lookup by Salesforce id, one after the other, exactly as Accord's plan makes them.
"""

from __future__ import annotations

import ssl
import time
from typing import Any

import httpx

from sandbox.endpoints import Endpoints
from sources.netsuite import CUSTOMER_COLUMNS
from sources.salesforce import ACCOUNT_FIELDS

SF_QUERY = "/services/data/v59.0/query/"
SUITEQL = "/services/rest/query/v1/suiteql"
RECORDS = "/services/rest/record/v1"


class Upstream:
    def __init__(self, endpoints: Endpoints) -> None:
        sf, ns = endpoints.salesforce, endpoints.netsuite
        self.sf = httpx.Client(
            base_url=sf.instance_url,
            verify=_verify(sf.ca_file),
            timeout=30.0,
            headers={"Authorization": f"Bearer {sf.session_id}"},
        )
        self.ns = httpx.Client(base_url=ns.base_url, verify=_verify(ns.ca_file), timeout=30.0)
        token = self.ns.post(
            ns.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": ns.client_id,
                "client_secret": ns.client_secret,
            },
        )
        token.raise_for_status()
        self.ns.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    # ------------------------------------------------------------------ reads

    def soql(self, text: str) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        response = self.sf.get(SF_QUERY, params={"q": text})
        while True:
            response.raise_for_status()
            page = response.json()
            records.extend(page["records"])
            if page.get("done", True):
                return records
            response = self.sf.get(page["nextRecordsUrl"])

    def suiteql(self, text: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            response = self.ns.post(
                SUITEQL,
                params={"limit": 1000, "offset": len(rows)},
                json={"q": text},
                headers={"Prefer": "transient"},
            )
            response.raise_for_status()
            page = response.json()
            rows.extend(page["items"])
            if not page["hasMore"]:
                return rows

    def salesforce_ids(self, limit: int) -> list[str]:
        """Ids of accounts that have an ERP customer, in a stable order."""
        return [
            str(record["Id"])
            for record in self.soql(
                "SELECT Id FROM Account WHERE ERP_Customer_Id__c != null "
                f"ORDER BY ERP_Customer_Id__c LIMIT {int(limit)}"
            )
        ]

    def credit_critical_path(self, salesforce_id: str) -> float:
        """The two upstream calls of a credit lookup by Salesforce id, one after the other,
        as Accord's adapters make them; the seconds they took."""
        started = time.perf_counter()
        accounts = self.soql(
            f"SELECT {', '.join(ACCOUNT_FIELDS)} FROM Account WHERE Id IN ('{salesforce_id}')"
        )
        if len(accounts) != 1 or not accounts[0].get("ERP_Customer_Id__c"):
            raise RuntimeError(f"account {salesforce_id} has no ERP customer")
        key = accounts[0]["ERP_Customer_Id__c"]
        rows = self.suiteql(
            f"SELECT {CUSTOMER_COLUMNS} FROM customer c WHERE c.externalid IN ('{key}')"
        )
        if len(rows) != 1:
            raise RuntimeError(f"no ERP customer with external id {key}")
        return time.perf_counter() - started

    # ------------------------------------------------------------------ writes

    def post_payment(self, customer_id: str, invoice_id: str, amount: str) -> str:
        """A customer payment applied to one invoice, through the NetSuite record API;
        the new payment's internal id."""
        response = self.ns.post(
            f"{RECORDS}/customerPayment",
            json={
                "customer": {"id": customer_id},
                "payment": float(amount),
                "apply": {
                    "items": [{"doc": {"id": invoice_id}, "apply": True, "amount": float(amount)}]
                },
            },
        )
        if response.status_code != 204:
            raise RuntimeError(f"posting a payment failed: {response.status_code} {response.text}")
        return response.headers["Location"].rsplit("/", 1)[-1]

    def close(self) -> None:
        self.sf.close()
        self.ns.close()


def _verify(ca_file: str | None) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=ca_file) if ca_file else True
