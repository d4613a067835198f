"""A bare HTTP client of a running sandbox: both emulators over their own vendor APIs.

Built from the endpoints file, it reads and writes the emulators' data directly (Salesforce
REST with the sandbox's session id, NetSuite REST and SuiteQL with a client-credentials
token), with none of Accord's code in the way. The tests use it to check what Accord answers
against what the systems hold and to change data behind Accord's back; the benchmarks, to
find ids, post payments and time a bare client's upstream calls.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from sandbox.endpoints import Endpoints, ErpNotInSandbox, NetSuiteEndpoint

SOBJECTS = "/services/data/v59.0/sobjects"
SOQL = "/services/data/v59.0/query/"
SUITEQL = "/services/rest/query/v1/suiteql"
RECORDS = "/services/rest/record/v1"


class EmulatorClient:
    """``sf`` and ``ns`` are the two authenticated httpx clients, for calls not wrapped here."""

    def __init__(self, endpoints: Endpoints) -> None:
        sf = endpoints.salesforce
        self.sf = httpx.Client(
            base_url=sf.instance_url,
            verify=trust(sf.ca_file),
            timeout=30.0,
            headers={"Authorization": f"Bearer {sf.session_id}"},
        )
        self._ns: httpx.Client | None = None
        self._erp = endpoints
        if isinstance(endpoints.erp, NetSuiteEndpoint):  # a Tryton sandbox has no emulator
            self._ns = self._netsuite(endpoints.erp)

    @property
    def ns(self) -> httpx.Client:
        """The NetSuite emulator's client; `ErpNotInSandbox` when the sandbox runs Tryton."""
        if self._ns is None:
            raise ErpNotInSandbox(f"this sandbox runs {self._erp.sandbox.erp}, not NetSuite")
        return self._ns

    @staticmethod
    def _netsuite(ns: NetSuiteEndpoint) -> httpx.Client:
        client = httpx.Client(base_url=ns.base_url, verify=trust(ns.ca_file), timeout=30.0)
        token = client.post(
            ns.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": ns.client_id,
                "client_secret": ns.client_secret,
            },
        )
        token.raise_for_status()
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        return client

    # ------------------------------------------------------------------ Salesforce

    def soql(self, text: str) -> list[dict[str, Any]]:
        """Every record of a SOQL query, following ``nextRecordsUrl``."""
        records: list[dict[str, Any]] = []
        response = self.sf.get(SOQL, params={"q": text})
        while True:
            response.raise_for_status()
            page = response.json()
            records.extend(page["records"])
            if page.get("done", True):
                return records
            response = self.sf.get(page["nextRecordsUrl"])

    def sf_create(self, sobject: str, fields: dict[str, Any]) -> str:
        """The new record's id."""
        response = _expect(self.sf.post(f"{SOBJECTS}/{sobject}/", json=fields), 201)
        return str(response.json()["id"])

    def sf_update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        _expect(self.sf.patch(f"{SOBJECTS}/{sobject}/{record_id}", json=fields), 204)

    def sf_delete(self, sobject: str, record_id: str) -> None:
        _expect(self.sf.delete(f"{SOBJECTS}/{sobject}/{record_id}"), 204)

    def sf_get(self, sobject: str, record_id: str) -> dict[str, Any]:
        response = self.sf.get(f"{SOBJECTS}/{sobject}/{record_id}")
        response.raise_for_status()
        record: dict[str, Any] = response.json()
        return record

    # ------------------------------------------------------------------ NetSuite

    def suiteql(self, text: str) -> list[dict[str, Any]]:
        """Every row of a SuiteQL query, a page of 1000 at a time."""
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

    def ns_create(self, record_type: str, body: dict[str, Any]) -> str:
        """The new record's internal id (from the ``Location`` of the 204)."""
        response = _expect(self.ns.post(f"{RECORDS}/{record_type}", json=body), 204)
        return response.headers["Location"].rsplit("/", 1)[-1]

    def ns_update(self, record_type: str, record_id: str, body: dict[str, Any]) -> None:
        _expect(self.ns.patch(f"{RECORDS}/{record_type}/{record_id}", json=body), 204)

    def ns_get(self, record_type: str, record_id: str) -> dict[str, Any] | None:
        """The record, or None where NetSuite answers 404."""
        response = self.ns.get(f"{RECORDS}/{record_type}/{record_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        record: dict[str, Any] = response.json()
        return record

    def close(self) -> None:
        self.sf.close()
        if self._ns is not None:
            self._ns.close()


def trust(ca_file: str | None) -> ssl.SSLContext | bool:
    """What httpx is to verify an emulator's certificate with: its CA where it serves TLS."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else True


def _expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: expected {status}, "
            f"got {response.status_code} {response.text}"
        )
    return response
