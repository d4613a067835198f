"""The endpoints file: everything a client needs to reach a running sandbox.

``python -m sandbox --endpoints-file F`` writes it once both emulators listen; ``python
server.py --sandbox F`` and the tests read it. Shape::

    {"salesforce": {"instance_url", "username", "password", "security_token", "session_id",
                    "client_id", "client_secret", "ca_file"},
     "netsuite":   {"base_url", "account_id", "token_url", "client_id", "client_secret",
                    "ca_file"},
     "sandbox":    {"pid", "seed", "customers", "as_of", "now"}}

``as_of`` is the UTC date the data was generated around, ``now`` the instant the sandbox's
clock read when it started (ISO 8601, UTC).

``ca_file`` is null where an emulator serves plain http.
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
class SandboxInfo:
    pid: int
    seed: int
    customers: int
    as_of: str
    now: str


@dataclass(frozen=True)
class Endpoints:
    salesforce: SalesforceEndpoint
    netsuite: NetSuiteEndpoint
    sandbox: SandboxInfo

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Endpoints:
        if not isinstance(data, dict):
            raise ValueError("an endpoints file holds a JSON object")
        try:
            return cls(
                salesforce=SalesforceEndpoint(**data["salesforce"]),
                netsuite=NetSuiteEndpoint(**data["netsuite"]),
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
