"""A throwaway certificate authority for the emulators' HTTPS listeners.

simple-salesforce always builds ``https://`` URLs, so the emulators serve TLS on loopback with
a CA generated at start. The CA's PEM file is published in the endpoints file (``ca_file``) for
clients to trust; nothing here is meant to protect anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path


def issue_loopback_certificates(directory: Path, host: str) -> TlsFiles:
    """Create a CA and a server certificate for ``host``, ``localhost`` and the loopbacks."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="Accord sandbox")
    names = sorted({host, "localhost", "127.0.0.1", "::1"})
    server = ca.issue_cert(*names)
    files = TlsFiles(
        ca_file=directory / "sandbox-ca.pem",
        cert_file=directory / "sandbox-server.pem",
        key_file=directory / "sandbox-server.key",
    )
    ca.cert_pem.write_to_path(str(files.ca_file))
    server.cert_chain_pems[0].write_to_path(str(files.cert_file))
    for extra in server.cert_chain_pems[1:]:
        extra.write_to_path(str(files.cert_file), append=True)
    server.private_key_pem.write_to_path(str(files.key_file))
    return files
