"""Persisted queries: Apollo's automatic protocol, and the registered-operations-only mode.

Each protocol error is checked as a client sees it over HTTP: an unknown hash, a document
whose SHA-256 is not the hash sent with it, and, with registered operations only, a document
or hash that is not registered. Replicas sharing Redis know each other's registered hashes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from api.auth import DEMO_KEYS
from api.persisted import (
    Mode,
    PersistedQueries,
    PersistedQueryError,
    PersistedQueryOptions,
    RegisteredOperationsError,
    load_registered,
)
from config.settings import SettingsError, load_settings
from sandbox.endpoints import Endpoints
from server import AppOptions
from state.redis_backend import RedisBackend
from tests.accord import AccordServer
from tests.redis_keys import unique_prefix
from tests.workers import WorkersAccord

COUNT = "query Count { customers(first: 1) { totalCount } }"
FIRST = "query First($n: Int!) { customers(first: $n) { edges { node { name } } } }"
MUTATION = "mutation Nothing { __typename }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


def post(server: AccordServer | WorkersAccord, body: dict[str, Any]) -> Any:
    with server.client() as client:
        return client.post("/graphql", json=body)


def get(server: AccordServer, **params: Any) -> Any:
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    with server.client() as client:
        return client.get("/graphql", params=encoded)


def only_error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert "data" not in body, body
    [error] = body["errors"]
    return dict(error)


# ------------------------------------------------------------------ automatic persisted queries


def test_an_unknown_hash_is_persisted_query_not_found(accord: AccordServer) -> None:
    unknown = f"query Unknown{uuid.uuid4().hex} {{ __typename }}"

    response = post(accord, {"extensions": persisted(unknown)})

    assert response.status_code == 200
    error = only_error(response)
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert response.headers["cache-control"] == "no-store"


def test_a_document_that_does_not_match_its_hash_is_refused(accord: AccordServer) -> None:
    response = post(accord, {"query": COUNT, "extensions": persisted(COUNT + " ")})

    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    assert error["message"] == "provided sha does not match query"


def test_a_registered_hash_runs_alone_over_post_and_get(accord: AccordServer) -> None:
    document = f"query Registered{uuid.uuid4().hex}($n: Int!) {{ customers(first: $n) {{ edges {{ node {{ name }} }} }} }}"
    extensions = persisted(document)
    before = post(accord, {"extensions": extensions, "variables": {"n": 2}})

    registered = post(accord, {"query": document, "extensions": extensions, "variables": {"n": 2}})
    by_post = post(accord, {"extensions": extensions, "variables": {"n": 2}})
    by_get = get(accord, extensions=extensions, variables={"n": 3})

    assert only_error(before)["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert registered.status_code == 200
    assert by_post.status_code == 200
    assert by_post.json() == registered.json()
    assert len(by_post.json()["data"]["customers"]["edges"]) == 2
    assert by_get.status_code == 200
    assert len(by_get.json()["data"]["customers"]["edges"]) == 3
    # a cache in front may keep the hash-only GET, per Accept and caller
    assert "no-store" not in by_get.headers.get("cache-control", "")
    assert by_get.headers["vary"] == "Accept, Authorization"


def test_a_hash_only_get_that_is_refused_is_never_cached(accord: AccordServer) -> None:
    unknown = f"query Unknown{uuid.uuid4().hex} {{ __typename }}"

    response = get(accord, extensions=persisted(unknown))

    assert only_error(response)["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["vary"] == "Accept, Authorization"


def test_a_document_that_fails_validation_is_not_registered(accord: AccordServer) -> None:
    broken = f"query Broken{uuid.uuid4().hex} {{ customers(first: 1) {{ nope }} }}"

    first = post(accord, {"query": broken, "extensions": persisted(broken)})
    again = post(accord, {"extensions": persisted(broken)})

    assert first.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert only_error(again)["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_a_persisted_mutation_is_not_run_over_get(accord: AccordServer) -> None:
    post(accord, {"query": MUTATION, "extensions": persisted(MUTATION)})

    response = get(accord, extensions=persisted(MUTATION))

    assert response.status_code == 405


@pytest.mark.parametrize(
    ("extension", "message"),
    [
        ({"version": 2, "sha256Hash": sha(COUNT)}, "version"),
        ({"version": 1, "sha256Hash": "abc"}, "sha256Hash"),
        ({"version": 1}, "sha256Hash"),
        ("v1", "object"),
    ],
)
def test_a_malformed_persisted_query_extension_is_a_bad_request(
    accord: AccordServer, extension: Any, message: str
) -> None:
    response = post(accord, {"extensions": {"persistedQuery": extension}})

    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert message in error["message"]


def test_a_request_with_neither_query_nor_hash_is_still_refused(accord: AccordServer) -> None:
    response = post(accord, {"extensions": {"other": True}})

    assert response.status_code == 400
    assert only_error(response)["message"] == "the request has no GraphQL query"


# ------------------------------------------------------------------ replicas sharing Redis


@pytest.fixture
def shared_prefix(redis_url: str) -> Iterator[str]:
    prefix = unique_prefix()
    yield prefix
    client = redis.Redis.from_url(redis_url)
    stale = list(client.scan_iter(match=f"{prefix}*", count=500))
    if stale:
        client.delete(*stale)
    client.close()


@pytest.mark.parametrize("replicas", ["servers", "workers"])
def test_a_hash_registered_on_one_replica_runs_on_another(
    replicas: str, sandbox: Endpoints, redis_url: str, shared_prefix: str
) -> None:
    options = AppOptions(api_keys=DEMO_KEYS, redis_url=redis_url, state_prefix=shared_prefix)
    document = f"query Shared{uuid.uuid4().hex} {{ customers(first: 1) {{ totalCount }} }}"
    with contextlib.ExitStack() as stack:
        first: AccordServer | WorkersAccord
        second: AccordServer | WorkersAccord
        if replicas == "workers":  # two workers behind one port; a connection per request
            first = second = stack.enter_context(WorkersAccord(sandbox, redis_url, shared_prefix))
        else:
            first = stack.enter_context(AccordServer(sandbox, options=options))
            second = stack.enter_context(AccordServer(sandbox, options=options))
        unknown = post(second, {"extensions": persisted(document)})
        registered = post(first, {"query": document, "extensions": persisted(document)})
        known = [post(second, {"extensions": persisted(document)}) for _ in range(4)]

    assert only_error(unknown)["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert registered.status_code == 200
    for answer in known:
        assert answer.status_code == 200
        assert answer.json() == registered.json()


@pytest.fixture
async def redis_replicas(redis_url: str) -> AsyncIterator[tuple[RedisBackend, RedisBackend]]:
    prefix = unique_prefix()
    backends = (RedisBackend(redis_url, prefix=prefix), RedisBackend(redis_url, prefix=prefix))
    yield backends
    for backend in backends:
        await backend.close()
    client = aioredis.Redis.from_url(redis_url)
    stale = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
    if stale:
        await client.delete(*stale)
    await client.aclose()


async def test_a_registered_document_expires_from_redis_after_its_ttl(
    redis_replicas: tuple[RedisBackend, RedisBackend],
) -> None:
    options = PersistedQueryOptions(ttl=2.0)  # the first resolve lands well within it
    one, other = (PersistedQueries(options, backend) for backend in redis_replicas)
    await one.register(sha(COUNT), COUNT)

    found = await other.resolve(None, persisted(COUNT))
    await asyncio.sleep(2.1)
    late = PersistedQueries(options, redis_replicas[1])
    with pytest.raises(PersistedQueryError) as expired:
        await late.resolve(None, persisted(COUNT))

    assert found.document == COUNT
    assert expired.value.code == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_value_in_redis_that_is_not_the_hashed_document_is_not_run(
    redis_replicas: tuple[RedisBackend, RedisBackend],
) -> None:
    writer, reader = redis_replicas
    await writer.set("apq:" + sha(COUNT), "mutation Evil { __typename }")
    queries = PersistedQueries(PersistedQueryOptions(), reader)

    with pytest.raises(PersistedQueryError) as refused:
        await queries.resolve(None, persisted(COUNT))

    assert refused.value.code == "PERSISTED_QUERY_NOT_FOUND"


# ------------------------------------------------------------------ registered operations only


@pytest.fixture(scope="module")
def operations_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("operations")
    (folder / "count.graphql").write_text(COUNT)
    (folder / "lists").mkdir()
    (folder / "lists" / "first.graphql").write_text(FIRST + "\n")
    return folder


@pytest.fixture(scope="module")
def registered_only(sandbox: Endpoints, operations_dir: Path) -> Iterator[AccordServer]:
    options = AppOptions(
        api_keys=DEMO_KEYS,
        persisted_queries=PersistedQueryOptions(Mode.REGISTERED, load_registered(operations_dir)),
    )
    with AccordServer(sandbox, options=options) as server:
        yield server


def test_registered_operations_run_by_hash_or_by_text(registered_only: AccordServer) -> None:
    by_hash = post(registered_only, {"extensions": persisted(FIRST + "\n"), "variables": {"n": 1}})
    by_text = post(registered_only, {"query": COUNT})
    by_get = get(registered_only, extensions=persisted(COUNT))

    assert len(by_hash.json()["data"]["customers"]["edges"]) == 1
    assert by_text.json()["data"]["customers"]["totalCount"] > 0
    assert by_get.json() == by_text.json()


def test_an_unregistered_document_is_refused_before_it_is_parsed(
    registered_only: AccordServer,
) -> None:
    valid = post(registered_only, {"query": "{ customers(first: 1) { totalCount } }"})
    unparsable = post(registered_only, {"query": "{ customers(first: "})

    for response in (valid, unparsable):
        assert response.status_code == 400
        error = only_error(response)
        assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
        assert "registered operations only" in error["message"]


def test_an_unregistered_hash_is_refused_and_not_registered(registered_only: AccordServer) -> None:
    document = "{ customers(first: 1) { totalCount } }"

    with_document = post(registered_only, {"query": document, "extensions": persisted(document)})
    hash_only = post(registered_only, {"extensions": persisted(document)})

    for response in (with_document, hash_only):
        assert response.status_code == 400
        assert only_error(response)["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"


def test_a_mismatched_hash_is_refused_in_registered_mode_too(
    registered_only: AccordServer,
) -> None:
    response = post(registered_only, {"query": COUNT, "extensions": persisted(FIRST + "\n")})

    assert only_error(response)["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"


async def test_with_persisted_queries_off_the_extension_is_not_supported() -> None:
    queries = PersistedQueries(PersistedQueryOptions(Mode.OFF))

    with pytest.raises(PersistedQueryError) as refused:
        await queries.resolve(None, persisted(COUNT))
    plain = await queries.resolve(COUNT, None)

    assert (refused.value.code, refused.value.message) == (
        "PERSISTED_QUERY_NOT_SUPPORTED",
        "PersistedQueryNotSupported",
    )
    assert plain.document == COUNT


# ------------------------------------------------------------------ the registered file


def test_registered_operations_load_from_a_json_map_and_an_apollo_manifest(
    tmp_path: Path,
) -> None:
    mapping = tmp_path / "operations.json"
    mapping.write_text(json.dumps({sha(COUNT): COUNT}))
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": sha(FIRST), "name": "First", "type": "query", "body": FIRST}],
            }
        )
    )

    assert load_registered(mapping) == {sha(COUNT): COUNT}
    assert load_registered(manifest) == {sha(FIRST): FIRST}


def test_a_registered_file_whose_id_is_not_the_documents_hash_is_refused(tmp_path: Path) -> None:
    wrong = tmp_path / "operations.json"
    wrong.write_text(json.dumps({sha(FIRST): COUNT}))

    with pytest.raises(RegisteredOperationsError, match="not the SHA-256 of its document"):
        load_registered(wrong)


def test_registered_mode_settings_fail_at_start_without_a_usable_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")

    with pytest.raises(SettingsError) as missing:
        load_settings({"ACCORD_PERSISTED_QUERIES": "registered"})
    with pytest.raises(SettingsError) as unreadable:
        load_settings(
            {"ACCORD_PERSISTED_QUERIES": "registered", "ACCORD_PERSISTED_QUERIES_FILE": str(broken)}
        )
    with pytest.raises(SettingsError) as unknown:
        load_settings({"ACCORD_PERSISTED_QUERIES": "sometimes"})

    assert "needs ACCORD_PERSISTED_QUERIES_FILE" in str(missing.value)
    assert "not JSON" in str(unreadable.value)
    assert "use apq, registered or off" in str(unknown.value)


def test_registered_mode_settings_load_the_operations(operations_dir: Path) -> None:
    settings = load_settings(
        {
            "ACCORD_PERSISTED_QUERIES": "registered",
            "ACCORD_PERSISTED_QUERIES_FILE": str(operations_dir),
        }
    )

    assert settings.persisted_queries.mode is Mode.REGISTERED
    assert set(settings.persisted_queries.registered) == {sha(COUNT), sha(FIRST + "\n")}
