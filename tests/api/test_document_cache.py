"""The pipeline's cache of parsed documents is bounded in memory, not only in entries.

A document padded with comments is a handful of tokens and passes every token limit, yet a
megabyte of text; a thousand such kept would be a gigabyte. The cache counts what each
document takes (its text and its parsed nodes) and forgets the oldest past its byte limit,
and the costs of a document's operations go with it.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

from api.pipeline import BYTES_PER_TOKEN, Limits, Pipeline, Prepared
from schema.build import build_schema

SCHEMA = build_schema()


def pipeline(cache_bytes: int) -> Pipeline:
    limits = Limits(document_cache_size=1_000, document_cache_bytes=cache_bytes)
    return Pipeline(SCHEMA._schema, limits=limits)


def padded(n: int, size: int) -> str:
    """A valid query of a few tokens behind ``size`` characters of comment."""
    return f"# {n} " + "x" * size + "\n{ __typename }"


def test_documents_padded_with_comments_are_held_within_the_byte_limit() -> None:
    # given a pipeline that may keep 1 MB of documents
    limit = 1_000_000
    runner = pipeline(limit)

    async def prepare_all() -> list[Prepared]:
        return [await runner.prepare(padded(n, 200_000)) for n in range(30)]

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # when 30 documents of 200 KB each (6 MB of text) are prepared
        prepared = asyncio.run(prepare_all())
        assert all(p.document is not None and not p.errors for p in prepared)
        del prepared
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        runner.close()

    # then what stays is about the limit, not the 6 MB sent, and the newest are the ones kept
    assert held < 2 * limit, f"{held} bytes held"
    assert runner.cached(padded(29, 200_000)) is not None
    assert runner.cached(padded(0, 200_000)) is None


def test_a_parsed_document_counts_its_nodes_not_only_its_text() -> None:
    runner = pipeline(10_000_000)
    fields = " ".join(f'a{n}: customer(id: "cus:C-{n}") {{ id name }}' for n in range(20))
    dense = "query Q { " + fields + " }"
    comment = "# " + "x" * (len(dense) - 2) + "\n{ __typename }"
    try:
        many_tokens = asyncio.run(runner.prepare(dense))
        few_tokens = asyncio.run(runner.prepare(comment))
    finally:
        runner.close()
    assert many_tokens.document is not None
    # the same length of text, but the dense document is some hundred tokens, each parsed
    assert many_tokens.size > 10 * few_tokens.size
    assert few_tokens.size < len(comment) + 10 * BYTES_PER_TOKEN


def test_a_document_larger_than_the_whole_cache_is_served_not_kept() -> None:
    runner = pipeline(100_000)
    text = padded(1, 500_000)
    try:
        prepared = asyncio.run(runner.prepare(text))
    finally:
        runner.close()
    assert prepared.document is not None
    assert runner.cached(text) is None
