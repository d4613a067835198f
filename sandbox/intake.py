"""Point the sandbox emulators' webhooks at an Accord process's change intake.

Accord on its embedded sandbox (and tests that run an intake) register here: each emulator
then posts its signed change notifications to ``<Accord>/events/<source>``.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

from sandbox.endpoints import Endpoints, NetSuiteEndpoint
from sources.upstream_http import upstream_client


async def register_intake(
    endpoints: Endpoints,
    url: str,
    secret: str | Sequence[str],
    *,
    enabled: bool = True,
) -> dict[str, Any]:
    """Point both emulators' webhooks at the Accord intake served at base ``url``.

    Idempotent (a target is keyed by its URL); ``enabled=False`` switches them off. Returns
    each emulator's answer, by source.
    """
    base = url.rstrip("/")
    targets: dict[str, tuple[str, str | None]] = {
        "salesforce": (endpoints.salesforce.instance_url, endpoints.salesforce.ca_file),
    }
    if isinstance(endpoints.erp, NetSuiteEndpoint):  # Tryton sends no webhooks
        targets["netsuite"] = (endpoints.erp.base_url, endpoints.erp.ca_file)
    answers: dict[str, Any] = {}
    for source, (emulator, ca_file) in targets.items():
        verify_tls: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_file) if ca_file else True
        )
        body: dict[str, Any] = {"url": f"{base}/events/{source}", "enabled": enabled}
        if enabled:
            body["secret"] = secret if isinstance(secret, str) else list(secret)
        async with upstream_client(verify=verify_tls, trust_env=False, timeout=10.0) as client:
            response = await client.post(f"{emulator}/__sandbox__/webhooks", json=body)
            response.raise_for_status()
            answers[source] = response.json()
    return answers
