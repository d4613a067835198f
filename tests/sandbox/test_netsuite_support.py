"""Helpers shared by the NetSuite emulator tests (no tests here).

`NetSuiteHttp` is a thin httpx client for the emulator: it fetches a token the way any client
does and speaks the record API and SuiteQL over real HTTPS. `serve_in_thread` runs an emulator
with non-default settings on a loopback port, for the few tests that need them (signed JWT
assertions, short-lived tokens).
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from sandbox.clock import parse_instant
from sandbox.endpoints import Endpoints
from sandbox.netsuite import NetSuiteEmulator, NetSuiteSettings
from sandbox.world import World, build_world
from tests.events.http_support import serve

RECORD = "/services/rest/record/v1"
SUITEQL = "/services/rest/query/v1/suiteql"
TOKEN = "/services/rest/auth/oauth2/v1/token"
ERROR_MEDIA_TYPE = "application/vnd.oracle.resource+json; type=error"


class NetSuiteHttp:
    """An authenticated client of one emulator."""

    def __init__(self, base_url: str, ca_file: str | None, client_id: str, secret: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, verify=tls(ca_file), timeout=30.0)
        answer = self.http.post(
            TOKEN,
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        )
        answer.raise_for_status()
        self.token = str(answer.json()["access_token"])
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    @classmethod
    def connect(cls, endpoints: Endpoints) -> NetSuiteHttp:
        ns = endpoints.netsuite
        return cls(ns.base_url, ns.ca_file, ns.client_id, ns.client_secret)

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ record API

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.http.get(RECORD + path, params=params)

    def record(self, path: str, **params: str) -> dict[str, Any]:
        answer = self.get(path, **params)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def post(
        self, path: str, body: Any, *, key: str | None = None, **params: str
    ) -> httpx.Response:
        headers = {"X-NetSuite-Idempotency-Key": key} if key else {}
        return self.http.post(RECORD + path, json=body, headers=headers, params=params)

    def patch(
        self, path: str, body: Any, *, key: str | None = None, **params: str
    ) -> httpx.Response:
        headers = {"X-NetSuite-Idempotency-Key": key} if key else {}
        return self.http.patch(RECORD + path, json=body, headers=headers, params=params)

    def put(self, path: str, body: Any, **params: str) -> httpx.Response:
        return self.http.put(RECORD + path, json=body, params=params)

    def delete(self, path: str) -> httpx.Response:
        return self.http.delete(RECORD + path)

    def create(self, path: str, body: Any, **params: str) -> str:
        """POST a record and answer its internal id, read from the Location header."""
        answer = self.post(path, body, **params)
        assert answer.status_code == 204, answer.text
        return location_id(answer)

    # ------------------------------------------------------------------ SuiteQL

    def suiteql(self, q: str, **params: str) -> httpx.Response:
        return self.http.post(
            SUITEQL, json={"q": q}, params=params, headers={"Prefer": "transient"}
        )

    def rows(self, q: str) -> list[dict[str, Any]]:
        """Every row of a query, following the pages."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            answer = self.suiteql(q, limit="1000", offset=str(offset))
            assert answer.status_code == 200, answer.text
            page = answer.json()
            rows.extend(page["items"])
            if not page["hasMore"]:
                return rows
            offset += page["count"]


def tls(ca_file: str | None) -> ssl.SSLContext | bool:
    """What httpx should verify the emulator's certificate with."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else True


def location_id(answer: httpx.Response) -> str:
    return answer.headers["Location"].rsplit("/", 1)[-1]


def error_detail(answer: httpx.Response) -> dict[str, Any]:
    """The single error detail of a NetSuite error answer, after checking the error shape."""
    assert answer.headers["content-type"] == ERROR_MEDIA_TYPE, answer.headers
    body = answer.json()
    assert body["status"] == answer.status_code
    assert body["type"].startswith("https://www.rfc-editor.org/rfc/")
    assert isinstance(body["title"], str)
    assert body["title"]
    (detail,) = body["o:errorDetails"]
    assert isinstance(detail["detail"], str)
    assert detail["detail"]
    return dict(detail)


def world_of(endpoints: Endpoints) -> World:
    """The world the sandbox was seeded with."""
    info = endpoints.sandbox
    return build_world(info.seed, info.customers, now=parse_instant(info.now))


def new_key() -> str:
    return str(uuid.uuid4())


def new_customer(ns: NetSuiteHttp, **fields: Any) -> str:
    """A fresh customer of the US subsidiary (tests write to their own records)."""
    body = {"companyName": f"Test {uuid.uuid4().hex[:8]} Inc.", "subsidiary": {"id": "1"}}
    body.update(fields)
    return ns.create("/customer", body)


@contextmanager
def serve_in_thread(world: World, settings: NetSuiteSettings) -> Iterator[str]:
    """An emulator with ``settings`` on a loopback port (plain HTTP); yields its base URL."""
    with serve(NetSuiteEmulator(world, settings).app) as url:
        yield url
