"""The docs tell the truth: every GraphQL example runs (as the finance role, as the docs send
them), and generated tables are current."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from schema.__main__ import access_table, ownership_table
from tests.accord import AccordServer, Emulators

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLE = re.compile(r"```graphql\n(.*?)```", re.S)


def examples(page: Path) -> list[str]:
    """The operations among a page's GraphQL blocks (schema excerpts are not run)."""
    found = []
    for block in EXAMPLE.findall(page.read_text()):
        lines = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
        if lines and lines[0].lstrip().startswith(("query", "{")):
            found.append(block)
    return found


def sample_variables(emulators: Emulators) -> dict[str, Any]:
    account = emulators.soql(
        "SELECT Id, ERP_Customer_Id__c FROM Account WHERE ERP_Customer_Id__c != null "
        "ORDER BY ERP_Customer_Id__c LIMIT 1"
    )[0]
    return {
        "salesforceId": account["Id"],
        "id": f"cus:{account['ERP_Customer_Id__c']}",
        "after": None,
    }


@pytest.mark.parametrize(
    ("page", "least"),
    [(DOCS / "schema.md", 5), (ROOT / "README.md", 1), (DOCS / "analytics.md", 1)],
)
def test_every_example_runs_without_errors(
    page: Path, least: int, accord: AccordServer, emulators: Emulators
) -> None:
    values = sample_variables(emulators)
    found = examples(page)
    assert len(found) >= least
    for document in found:
        declared = re.search(r"# variables: (\{.*\})", document)
        names = json.loads(re.sub(r'"<[^>]*>"', "null", declared.group(1))) if declared else {}
        variables = {name: values[name] for name in names}
        body = accord.graphql(document, variables)
        assert "errors" not in body, (document, body.get("errors"))
        assert body["data"]
        assert all(value is not None for value in body["data"].values())


def test_every_federation_example_runs_on_the_subgraph(
    accord: AccordServer, emulators: Emulators
) -> None:
    values = sample_variables(emulators)
    found = examples(DOCS / "federation.md")
    assert found
    for document in found:
        declared = re.search(r"# variables: (\{.*\})", document)
        names = json.loads(re.sub(r'"<[^>]*>"', "null", declared.group(1))) if declared else {}
        with accord.client() as client:
            body = client.post(
                "/graphql/federation",
                json={"query": document, "variables": {name: values[name] for name in names}},
                headers={"Authorization": "Bearer demo-finance"},
            ).json()
        assert "errors" not in body, (document, body.get("errors"))
        assert all(value is not None for value in body["data"].values())
        assert None not in body["data"].get("_entities", [])


KEY = re.compile(r"^# key: (\S+)$", re.M)


def test_the_operations_examples_run_with_the_keys_they_name(accord: AccordServer) -> None:
    # given the GraphQL examples of docs/operations.md, each naming the key it needs
    found = EXAMPLE.findall((DOCS / "operations.md").read_text())
    assert len(found) >= 2
    for document in found:
        named = KEY.search(document)
        assert named, f"an example without its key: {document}"

        # when each runs as the holder of that key, then it answers without errors
        body = accord.graphql(document, key=named.group(1))
        assert "errors" not in body, (document, body.get("errors"))
        assert all(value is not None for value in body["data"].values())
        payload = next(iter(body["data"].values()))
        assert payload.get("errors", []) == []


PYTHON = re.compile(r"```python\n(.*?)```", re.S)


def test_the_python_client_example_pages_through_every_overdue_invoice(
    accord: AccordServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the example of docs/analytics.md, pointed at this Accord, with pages of 50 so
    # that the sandbox's overdue invoices take several
    code = PYTHON.findall((DOCS / "analytics.md").read_text())[0]
    code = code.replace("http://127.0.0.1:8000", accord.url).replace("first: 500", "first: 50")

    # when it runs as a reader would run it
    exec(compile(code, "docs/analytics.md", "exec"), {})

    # then it printed as many overdue invoices as the list holds
    printed = capsys.readouterr().out.split()
    total = accord.graphql(
        "{ invoices(first: 1, filter: {status: OVERDUE}) { totalCount } }", key="demo-finance"
    )["data"]["invoices"]["totalCount"]
    assert printed[1:] == ["overdue", "invoices"]
    assert int(printed[0]) == total > 50


def test_ownership_table_is_current() -> None:
    text = (DOCS / "schema.md").read_text()
    table = text.split("<!-- ownership:begin -->\n", 1)[1].split("<!-- ownership:end -->", 1)[0]
    assert table.strip() == ownership_table().strip(), "run python -m schema --ownership"


def test_field_access_table_is_current() -> None:
    text = (DOCS / "security.md").read_text()
    table = text.split("<!-- access:begin -->\n", 1)[1].split("<!-- access:end -->", 1)[0]
    assert table.strip() == access_table().strip(), "run python -m schema --access"
