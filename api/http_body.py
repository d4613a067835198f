"""Request bodies read within a limit, and JSON decoded without letting its nesting crash us:
shared by the GraphQL endpoint and the event stream."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

MAX_BODY_BYTES = 1_000_000


class BodyTooLarge(Exception):
    """The body is over the limit; nothing more of it was read."""


class UnusableJson(ValueError):
    """The text is not JSON, or is nested too deeply to decode; the message says which."""


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused as soon as it is known to be over ``limit``: from its
    declared length before reading anything, else while it streams in, so an oversized one is
    never held in memory."""
    too_large = BodyTooLarge(f"the request body is over {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def decode_json(text: str | bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise UnusableJson(f"{what} is nested too deeply") from None
    except ValueError:
        raise UnusableJson(f"{what} is not valid JSON") from None
