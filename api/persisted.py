"""Persisted queries: documents sent by their SHA-256 instead of their text.

Automatic persisted queries (Apollo's protocol, ``mode="apq"``, the default): a client sends
``extensions.persistedQuery = {"version": 1, "sha256Hash": H}`` without the document. When
Accord knows ``H`` it runs the document; otherwise it answers ``PERSISTED_QUERY_NOT_FOUND``
(message ``PersistedQueryNotFound``) and the client sends the document again with the hash,
which registers it once it parses and validates. Hash-only requests fit in a URL, so a CDN
can cache ``GET /graphql?extensions=...&variables=...``. Registered documents are kept in the
process (LRU) and, when Accord shares state through Redis, there too (with a TTL), so every
replica knows a hash any of them learnt.

Registered operations only (``mode="registered"``), for production clients: the operations
are a file loaded at start (`load_registered`) and nothing else runs. A hash or a document
that is not in it is refused with ``PERSISTED_QUERY_NOT_IN_LIST`` before it is parsed;
nothing is registered at run time.

``mode="off"`` refuses the extension with ``PERSISTED_QUERY_NOT_SUPPORTED`` (a client then
stops sending hashes) and runs documents as sent.

Every refusal is a `PersistedQueryError` carrying the protocol's code, message and HTTP status:
a document whose SHA-256 is not the hash sent with it is ``PERSISTED_QUERY_HASH_MISMATCH``.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cache.bounded import SizedLRUCache
from state.backend import StateBackend
from state.errors import StateError

logger = logging.getLogger("accord.persisted")

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
KEY_PREFIX = "apq:"  # under the state backend's own prefix


class Mode(enum.StrEnum):
    APQ = "apq"
    REGISTERED = "registered"
    OFF = "off"


class PersistedQueryError(Exception):
    """A persisted-query request refused with the protocol's ``code``; ``status`` is HTTP."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def not_found() -> PersistedQueryError:
    # HTTP 200: the client's next move is to send the document, as with any GraphQL error.
    return PersistedQueryError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound", 200)


def hash_mismatch() -> PersistedQueryError:
    return PersistedQueryError(
        "PERSISTED_QUERY_HASH_MISMATCH", "provided sha does not match query", 400
    )


def not_supported() -> PersistedQueryError:
    return PersistedQueryError("PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported", 400)


def not_in_list(what: str) -> PersistedQueryError:
    return PersistedQueryError(
        "PERSISTED_QUERY_NOT_IN_LIST",
        f"{what} is not a registered operation: this server runs registered operations only",
        400,
    )


def bad_extension(message: str) -> PersistedQueryError:
    return PersistedQueryError("BAD_REQUEST", message, 400)


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PersistedQueryOptions:
    mode: Mode = Mode.APQ
    registered: Mapping[str, str] = field(default_factory=dict)  # sha256 -> document
    cache_size: int = 1_000  # documents kept in the process (apq)
    cache_bytes: int = 16 * 2**20  # and their size
    ttl: float = 86_400.0  # seconds a document registered in Redis is kept (apq)


@dataclass(frozen=True)
class Resolved:
    """The document to run, and the hash to register it under once it validates (apq).

    ``digest`` is the document's SHA-256 when it is a persisted or registered operation (the
    request named it by hash, or only registered operations run): the response cache keeps
    answers to those only."""

    document: str
    register: str | None = None
    digest: str | None = None


class PersistedQueries:
    def __init__(
        self,
        options: PersistedQueryOptions = PersistedQueryOptions(),
        backend: StateBackend | None = None,
    ) -> None:
        self.options = options
        self.mode = options.mode
        self._registered = dict(options.registered)
        self._known: SizedLRUCache[str, str] = SizedLRUCache(
            options.cache_size, options.cache_bytes, lambda text: 49 + len(text)
        )
        # An in-process backend would only duplicate the LRU, without its bound.
        self._backend = backend if backend is not None and backend.name != "memory" else None

    async def resolve(self, query: Any, extensions: Any) -> Resolved:
        """The document a request runs: ``query`` as sent, or the one its hash names.

        ``query`` is the request's text (None when absent); ``extensions`` its extensions
        object (None when absent). Raises `PersistedQueryError`."""
        extension = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if extension is None:
            if not isinstance(query, str):
                raise bad_extension("the request has no GraphQL query")
            if self.mode is Mode.REGISTERED:
                digest = sha256(query)
                document = self._registered.get(digest)
                if document is None:
                    raise not_in_list("the document")
                return Resolved(document, digest=digest)
            return Resolved(query)
        if self.mode is Mode.OFF:
            raise not_supported()
        digest = _hash_of(extension)
        if query is not None and (not isinstance(query, str) or sha256(query) != digest):
            raise hash_mismatch()
        if self.mode is Mode.REGISTERED:
            document = self._registered.get(digest)
            if document is None:
                raise not_in_list(f"the persisted query {digest}")
            return Resolved(document, digest=digest)
        if query is not None:
            return Resolved(query, None if digest in self._known else digest, digest)
        document = self._known.get(digest)
        if document is None:
            document = await self._load(digest)
            if document is None:
                raise not_found()
            self._known[digest] = document
        return Resolved(document, digest=digest)

    async def register(self, digest: str, document: str) -> None:
        """Keep ``document`` under ``digest`` (its SHA-256, checked by `resolve`)."""
        self._known[digest] = document
        if self._backend is None:
            return
        try:
            await self._backend.set(KEY_PREFIX + digest, document, ttl=self.options.ttl)
        except StateError as exc:  # other replicas miss it; their clients resend the document
            logger.warning("could not share persisted query %s: %s", digest, exc)

    async def _load(self, digest: str) -> str | None:
        if self._backend is None:
            return None
        try:
            value = await self._backend.get(KEY_PREFIX + digest)
        except StateError as exc:
            logger.warning("could not read persisted query %s: %s", digest, exc)
            return None
        return value if isinstance(value, str) and sha256(value) == digest else None


def _hash_of(extension: Any) -> str:
    if not isinstance(extension, dict):
        raise bad_extension("extensions.persistedQuery must be an object")
    if extension.get("version") != 1:
        raise bad_extension("Unsupported persisted query version: only version 1 is known")
    digest = extension.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise bad_extension("extensions.persistedQuery.sha256Hash must be a hex SHA-256")
    return digest.lower()


# ---------------------------------------------------------------------- the registered file


class RegisteredOperationsError(ValueError):
    """The file of registered operations cannot be used; the message says why and where."""


APOLLO_MANIFEST = "apollo-persisted-query-manifest"


def load_registered(path: Path) -> dict[str, str]:
    """The registered operations in ``path``, as {sha256: document}.

    ``path`` is one of:

    - a JSON object ``{"<sha256>": "<document>", ...}``;
    - an Apollo persisted query manifest (``{"format": "apollo-persisted-query-manifest",
      "operations": [{"id": "<sha256>", "body": "<document>", ...}]}``);
    - a directory of ``.graphql`` files (searched recursively), each one document, whose hash
      is the SHA-256 of the file's exact text.

    Each hash must be the SHA-256 of its document, as clients compute it; any problem raises
    `RegisteredOperationsError` naming the entry.
    """
    if path.is_dir():
        found = {}
        for file in sorted(path.rglob("*.graphql")):
            text = file.read_text(encoding="utf-8")
            if not text.strip():
                raise RegisteredOperationsError(f"{file}: empty document")
            found[sha256(text)] = text
        if not found:
            raise RegisteredOperationsError(f"{path}: no .graphql files")
        return found
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegisteredOperationsError(f"{path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise RegisteredOperationsError(f"{path}: not JSON ({exc})") from None
    if isinstance(data, dict) and data.get("format") == APOLLO_MANIFEST:
        operations = data.get("operations")
        if not isinstance(operations, list):
            raise RegisteredOperationsError(f"{path}: the manifest has no operations list")
        pairs = []
        for index, operation in enumerate(operations):
            if not isinstance(operation, dict):
                raise RegisteredOperationsError(f"{path}: operations[{index}] is not an object")
            pairs.append((operation.get("id"), operation.get("body"), f"operations[{index}]"))
    elif isinstance(data, dict):
        pairs = [(key, value, repr(key)) for key, value in data.items()]
    else:
        raise RegisteredOperationsError(f"{path}: expected a JSON object of sha256 -> document")
    found = {}
    for digest, document, where in pairs:
        if not isinstance(document, str) or not document.strip():
            raise RegisteredOperationsError(f"{path}: {where}: the document is not a string")
        if not isinstance(digest, str) or sha256(document) != digest.lower():
            raise RegisteredOperationsError(
                f"{path}: {where}: the id is not the SHA-256 of its document ({sha256(document)})"
            )
        found[digest.lower()] = document
    if not found:
        raise RegisteredOperationsError(f"{path}: no operations")
    return found
