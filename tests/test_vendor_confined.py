"""NetSuite is one adapter: its query language, its record types and its name as a system
appear in `sources/netsuite*` only. Everything else speaks of "the ERP" and takes the system's
name from the adapter (``source``), so that another ERP is another adapter.

The emulators (`sandbox/`), tests, benchmarks and the client examples are exempt: they speak
the vendor's wire format on purpose. Settings name the NetSuite connection's variables
(``ACCORD_NETSUITE_*``), which is configuration, not a string the code branches on.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXEMPT = ("sandbox", "tests", "bench", "clients", ".venv", "node_modules", "build")

VOCABULARY = re.compile(
    r"suiteql"  # the query language
    r"|\b(?:SalesOrd|CustInvc|CustPymt)\b"  # transaction type codes
    r"|\b(?:salesorder|customerpayment)\b",  # record types as notifications name them
    re.IGNORECASE,
)


def production_modules() -> list[Path]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in EXEMPT or relative.parts[0].startswith("."):
            continue
        if relative.parts[0] == "sources" and relative.name.startswith("netsuite"):
            continue
        found.append(path)
    return found


def vendor_words(text: str) -> list[str]:
    """The NetSuite words in ``text``, except the camel-case record names the audit trail
    has always used (``salesOrder``, ``customerPayment``)."""
    return [
        match.group(0)
        for match in VOCABULARY.finditer(text)
        if match.group(0) not in ("salesOrder", "customerPayment", "SalesOrder")
    ]


def netsuite_literals(text: str) -> list[int]:
    """Lines where the string ``"netsuite"`` is written as a value of its own."""
    lines = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.STRING and token.string.strip("'\"").lower() == "netsuite":
            lines.append(token.start[0])
    return lines


def test_the_scan_covers_the_house() -> None:
    names = {path.relative_to(ROOT).parts[0] for path in production_modules()}
    assert {"events", "mutations", "resolvers", "schema", "api", "domain", "server.py"} <= names
    assert all(not path.name.startswith("netsuite") for path in production_modules())


@pytest.mark.parametrize("path", production_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outside_the_netsuite_adapter_speaks_netsuite(path: Path) -> None:
    text = path.read_text()
    assert vendor_words(text) == [], f"{path.relative_to(ROOT)} names NetSuite's vocabulary"
    assert netsuite_literals(text) == [], (
        f'{path.relative_to(ROOT)} writes the system name "netsuite" itself; take the '
        "adapter's source"
    )


def test_the_check_finds_what_it_looks_for() -> None:
    assert vendor_words("SELECT id FROM transaction WHERE type = 'CustInvc'") == ["CustInvc"]
    assert vendor_words('rows = await client.suiteql(text)  # "customerpayment"') == [
        "suiteql",
        "customerpayment",
    ]
    assert vendor_words('record_type="salesOrder"') == []
    assert netsuite_literals('source = "netsuite"\n') == [1]
    assert netsuite_literals('"""The netsuite adapter."""\n') == []
