"""What analytics tools read about the schema: the SDL with its directives, and the ownership
registry at run time."""

from __future__ import annotations

from graphql import build_schema

from domain.ownership import REGISTRY
from schema.__main__ import SDL_FILE
from tests.accord import AccordServer


def test_the_sdl_is_downloadable_with_every_directive(accord: AccordServer) -> None:
    with accord.client() as client:
        answer = client.get("/graphql/schema.graphql")
        again = client.get(
            "/graphql/schema.graphql", headers={"If-None-Match": answer.headers["etag"]}
        )

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == SDL_FILE.read_text()
    assert "@owner(system: ERP, ttlSeconds: 30, classification: CONFIDENTIAL)" in answer.text
    assert '@cost(weight: "' in answer.text
    assert '@listSize(slicingArguments: ["first"]' in answer.text
    assert 'scalar Decimal @specifiedBy(url: "' in answer.text
    build_schema(answer.text)  # a client tool can build a schema from it
    assert again.status_code == 304
    assert again.content == b""


def test_the_registry_is_readable_at_run_time(accord: AccordServer) -> None:
    query = """{ _accord {
        fields { path typeName fieldName owner ownerName classification ttlSeconds writableBy input }
        systems { role product } } }"""
    answer = accord.graphql(query)

    assert "errors" not in answer, answer
    fields = {f["path"]: f for f in answer["data"]["_accord"]["fields"]}
    assert set(fields) == {entry.path for entry in REGISTRY}
    tax_id = fields["Customer.taxId"]
    assert tax_id == {
        "path": "Customer.taxId",
        "typeName": "Customer",
        "fieldName": "taxId",
        "owner": "ERP",
        "ownerName": "the ERP",
        "classification": "CONFIDENTIAL",
        "ttlSeconds": 3600,
        "writableBy": ["finance"],
        "input": "taxId",
    }
    assert fields["Customer.id"]["owner"] == "ACCORD"
    assert answer["data"]["_accord"]["systems"] == [
        {"role": "CRM", "product": "salesforce"},
        {"role": "ERP", "product": "netsuite"},
    ]


def test_the_registry_can_be_read_a_type_or_an_owner_at_a_time(accord: AccordServer) -> None:
    answer = accord.graphql(
        '{ _accord { fields(typeName: "CreditSummary", owner: ERP) { path } } }'
    )
    assert [f["path"] for f in answer["data"]["_accord"]["fields"]] == [
        e.path for e in REGISTRY if e.type_name == "CreditSummary" and e.owner.value == "ERP"
    ]
