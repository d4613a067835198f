"""The endpoints file: everything a client needs to reach a running sandbox.

``python -m sandbox --endpoints-file F`` writes it once its systems listen; ``python
server.py --sandbox F`` and the tests read it. Shape::

    {"salesforce": {"instance_url", "username", "password", "security_token", "session_id",
                    "client_id", "client_secret", "ca_file"},
     "netsuite":   {"base_url", "account_id", "token_url", "client_id", "client_secret",
                    "ca_file"},
     "sandbox":    {"pid", "seed", "customers", "as_of", "now", "erp"}}

A sandbox runs one ERP (``sandbox.erp``): the NetSuite emulator (the default, section
``netsuite``) or a real Tryton server (``--erp tryton``), whose section replaces it::

     "tryton":     {"url", "database", "user", "password", "ca_file", "version", "backend",
                    "prepared", "prepare_seconds", "pid", "work_dir"}

``url`` is the server's root (JSON-RPC at ``<url>/<database>/rpc/``); ``user``/``password``
log in the integration user; ``backend`` is ``sqlite`` or ``postgresql``; ``prepared`` says
whether this start seeded its database (``seeded``) or copied a prepared one (``reused``),
``prepare_seconds`` how long that took; ``pid`` is the trytond process and ``work_dir`` its
directory, both gone once the sandbox stops.

``as_of`` is the UTC date the data was generated around, ``now`` the instant the sandbox's
clock read when it started (ISO 8601, UTC).

``ca_file`` is null where a system serves plain http.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SalesforceEndpoint:
    instance_url: str
    username: str
    password: str
    security_token: str
    session_id: str
    client_id: str
    client_secret: str
    ca_file: str | None


@dataclass(frozen=True)
class NetSuiteEndpoint:
    base_url: str
    account_id: str
    token_url: str
    client_id: str
    client_secret: str
    ca_file: str | None


@dataclass(frozen=True)
class TrytonEndpoint:
    url: str
    database: str
    user: str
    password: str
    ca_file: str | None
    version: str
    backend: str
    prepared: str
    prepare_seconds: float
    pid: int
    work_dir: str


@dataclass(frozen=True)
class SandboxInfo:
    pid: int
    seed: int
    customers: int
    as_of: str
    now: str
    erp: str = "netsuite"


class ErpNotInSandbox(ValueError):
    """The sandbox runs another ERP than the one asked for."""


@dataclass(frozen=True)
class Endpoints:
    salesforce: SalesforceEndpoint
    erp: NetSuiteEndpoint | TrytonEndpoint
    sandbox: SandboxInfo

    @property
    def netsuite(self) -> NetSuiteEndpoint:
        if isinstance(self.erp, NetSuiteEndpoint):
            return self.erp
        raise ErpNotInSandbox(
            f"this sandbox runs {self.sandbox.erp} as its ERP, not NetSuite "
            "(start it with --erp netsuite)"
        )

    @property
    def tryton(self) -> TrytonEndpoint:
        if isinstance(self.erp, TrytonEndpoint):
            return self.erp
        raise ErpNotInSandbox(
            f"this sandbox runs {self.sandbox.erp} as its ERP, not Tryton "
            "(start it with --erp tryton)"
        )

    def to_json(self) -> dict[str, Any]:
        erp = "tryton" if isinstance(self.erp, TrytonEndpoint) else "netsuite"
        return {
            "salesforce": asdict(self.salesforce),
            erp: asdict(self.erp),
            "sandbox": asdict(self.sandbox),
        }

    @classmethod
    def from_json(cls, data: Any) -> Endpoints:
        if not isinstance(data, dict):
            raise ValueError("an endpoints file holds a JSON object")
        try:
            erp: NetSuiteEndpoint | TrytonEndpoint = (
                TrytonEndpoint(**data["tryton"])
                if "tryton" in data
                else NetSuiteEndpoint(**data["netsuite"])
            )
            return cls(
                salesforce=SalesforceEndpoint(**data["salesforce"]),
                erp=erp,
                sandbox=SandboxInfo(**data["sandbox"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a sandbox endpoints file: {exc}") from exc

    def write(self, path: Path) -> None:
        """Write atomically, so a reader polling for the file never sees half of it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as handle:
            json.dump(self.to_json(), handle, indent=2)
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> Endpoints:
        try:
            return cls.from_json(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON: {exc}") from exc
