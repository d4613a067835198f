"""Request paths: the stats key of a path, and the parts of a record API path."""

from __future__ import annotations

from urllib.parse import unquote

RECORD_PREFIX = "/services/rest/record/v1"


def _is_id(segment: str) -> bool:
    return (segment.isascii() and segment.isdigit()) or segment.lower().startswith("eid:")


def normalize(path: str) -> str:
    """The stats key of a path: internal ids and ``eid:`` segments become ``{id}``.

    ``/services/rest/record/v1/customer/1001`` -> ``/services/rest/record/v1/customer/{id}``;
    ``/services/rest/record/v1/salesOrder/eid:SO-1/item/2`` ->
    ``/services/rest/record/v1/salesOrder/{id}/item/{id}``.
    """
    return "/".join("{id}" if _is_id(segment) else segment for segment in path.split("/"))


def record_segments(raw_path: bytes) -> list[str] | None:
    """The decoded segments after ``/services/rest/record/v1/``; None for other paths.

    Works on the raw path so that an external id holding an encoded ``/`` stays one segment.
    """
    text = raw_path.decode("latin-1")
    if not text.startswith(RECORD_PREFIX):
        return None
    rest = text[len(RECORD_PREFIX) :]
    if rest and not rest.startswith("/"):
        return None
    segments = [unquote(part) for part in rest.strip("/").split("/")]
    return [s for s in segments if s] if any(segments) else []
