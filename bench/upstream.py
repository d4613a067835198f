"""The benchmark's own view of the upstream systems: a bare client of the emulators.

It reads the emulators directly (`sandbox.emulator_client`), with none of Accord's code in
the way. The benchmarks use it to find ids to ask Accord about, to post the payment of the
freshness scenario, and as the baseline of the cold scenario: the two upstream calls of a
credit lookup by Salesforce id, one after the other, exactly as Accord's plan makes them.
"""

from __future__ import annotations

import time

from sandbox.emulator_client import EmulatorClient
from sources.netsuite import CUSTOMER_COLUMNS
from sources.salesforce_records import ACCOUNT_FIELDS


class Upstream(EmulatorClient):
    def salesforce_ids(self, limit: int) -> list[str]:
        """Ids of accounts that have an ERP customer, in a stable order."""
        return [
            str(record["Id"])
            for record in self.soql(
                "SELECT Id FROM Account WHERE ERP_Customer_Id__c != null "
                f"ORDER BY ERP_Customer_Id__c LIMIT {int(limit)}"
            )
        ]

    def known_to_both(self, limit: int) -> list[str]:
        """Ids of accounts whose ERP customer exists (the seed's drift leaves some keys that
        the ERP does not know), in a stable order."""
        keys = {
            str(row["externalid"])
            for row in self.suiteql("SELECT c.externalid FROM customer c")
            if row.get("externalid")
        }
        return [
            str(record["Id"])
            for record in self.soql(
                "SELECT Id, ERP_Customer_Id__c FROM Account WHERE ERP_Customer_Id__c != null "
                "ORDER BY ERP_Customer_Id__c"
            )
            if record["ERP_Customer_Id__c"] in keys
        ][:limit]

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

    def post_payment(self, customer_id: str, invoice_id: str, amount: str) -> str:
        """A customer payment applied to one invoice, through the NetSuite record API;
        the new payment's internal id."""
        return self.ns_create(
            "customerPayment",
            {
                "customer": {"id": customer_id},
                "payment": float(amount),
                "apply": {
                    "items": [{"doc": {"id": invoice_id}, "apply": True, "amount": float(amount)}]
                },
            },
        )
