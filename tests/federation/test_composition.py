"""Accord's subgraph composes into a supergraph (Apollo's composition library, in node), the
composed supergraph is committed and current, and every SDL Accord commits survives graphql-js
introspection."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLObjectType, build_schema

from schema.__main__ import SDL_FILE, SUBGRAPH_FILE, subgraph_sdl
from tests.federation.node import run_json
from tests.federation.supergraph import SUPERGRAPH_FILE, compose


def test_accord_composes_with_a_subgraph_that_extends_customer() -> None:
    composed = compose(subgraph_sdl())

    assert composed.errors == []
    assert composed.hints == []
    assert composed.supergraph is not None
    supergraph = build_schema(composed.supergraph)
    customer = supergraph.type_map["Customer"]
    assert isinstance(customer, GraphQLObjectType)
    assert {"credit", "tickets", "salesforceId", "erpId"} <= set(customer.fields)
    assert '@join__type(graph: ACCORD, key: "salesforceId")' in composed.supergraph
    assert '@join__type(graph: TICKETS, key: "id")' in composed.supergraph


def test_committed_supergraph_is_the_composition_of_the_committed_subgraphs() -> None:
    composed = compose()

    assert SUPERGRAPH_FILE.read_text() == composed.supergraph, (
        "schema/supergraph.graphql is out of date: run `python -m schema --write`, then "
        "`python -m tests.federation.supergraph --write`, and review the diff"
    )


def test_a_broken_subgraph_fails_composition_with_its_reason() -> None:
    # given Accord's subgraph with a key on a field Customer does not have
    broken = subgraph_sdl().replace('@key(fields: "erpId")', '@key(fields: "noSuchField")')

    composed = compose(broken)

    assert composed.supergraph is None
    assert [error["code"] for error in composed.errors] == ["KEY_INVALID_FIELDS"]


def round_trip(name: str, sdl: str, *, subgraph: bool = False) -> dict[str, Any]:
    report: dict[str, Any] = run_json(
        "roundtrip.mjs", [{"name": name, "sdl": sdl, "subgraph": subgraph}]
    )[0]
    return report


def test_every_committed_sdl_round_trips_through_graphql_js_introspection() -> None:
    standalone = round_trip("accord", SDL_FILE.read_text())
    subgraph = round_trip("accord-subgraph", SUBGRAPH_FILE.read_text(), subgraph=True)
    supergraph = round_trip("supergraph", SUPERGRAPH_FILE.read_text())

    for report in (standalone, subgraph, supergraph):
        assert report["errors"] == [], report["name"]
        assert report["identical"], report["name"]
    assert "owner" in standalone["directives"]
    assert "key" not in standalone["directives"]
    assert {"key", "shareable", "inaccessible", "link"} <= set(subgraph["directives"])
    assert "join__type" in supergraph["directives"]
    # a client of the standalone schema never meets federation's types
    assert "_Entity" not in standalone["printed"]
    assert "union _Entity = Customer | Invoice | Order | Payment" in subgraph["printed"]


def test_a_round_trip_that_loses_something_is_reported() -> None:
    # graphql-js cannot build a schema that uses a type it does not define
    report = round_trip("broken", "type Query { customer: Customer }")

    assert report["identical"] is False
    assert report["errors"]
