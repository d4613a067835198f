"""A process loads only the clients its configuration uses: Accord at rest stays small.

The Redis client, PyJWT (with cryptography) and simple-salesforce (with requests, zeep and
lxml) are some 30 MiB of resident memory between them; they load when Redis is configured,
when bearer tokens are checked, and for Salesforce's password and JWT logins.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("redis", "jwt", "cryptography", "simple_salesforce", "requests", "zeep", "lxml")


def loaded_after(code: str) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return {name.split(".")[0] for name in json.loads(out.stdout.splitlines()[-1])}


def test_the_server_module_and_its_settings_load_no_client_they_do_not_use() -> None:
    loaded = loaded_after(
        "import server\nfrom config.settings import load_settings\n"
        "server.options_from(load_settings({}))"
    )

    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert "httpx" in loaded  # the clients every configuration uses


def test_redis_loads_once_a_redis_backend_is_opened() -> None:
    loaded = loaded_after(
        "from state.backend import open_backend\nopen_backend('redis://127.0.0.1:6379/0')"
    )

    assert "redis" in loaded
