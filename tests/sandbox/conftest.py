"""Emulator test support: an authenticated client of the Salesforce emulator's REST API, and
a webhook receiver for the emulators' webhook tests."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from sandbox.endpoints import Endpoints
from tests.events.http_support import Receiver, serve


@pytest.fixture(scope="module")
def api(sandbox: Endpoints) -> Iterator[httpx.Client]:
    """httpx on the Salesforce emulator with the sandbox's session id; one per test module."""
    endpoint = sandbox.salesforce
    client = httpx.Client(
        base_url=endpoint.instance_url,
        verify=ssl.create_default_context(cafile=endpoint.ca_file),
        headers={"Authorization": f"Bearer {endpoint.session_id}"},
        timeout=30.0,
    )
    yield client
    client.close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    """A recording webhook endpoint on a loopback port, and its URL; one per test module."""
    recorder = Receiver()
    with serve(recorder.app) as url:
        yield recorder, f"{url}/hook"
