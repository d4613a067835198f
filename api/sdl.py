"""``GET /graphql/schema.graphql``: the schema as SDL, directives included.

Introspection leaves schema directives out, so a tool that wants to see who owns a field
(``@owner``), what it costs or what is deprecated downloads the SDL instead. It is the same
text as the committed ``schema/schema.graphql``, printed from the running schema; its ETag is
its digest, so a tool polling for changes gets 304 until the schema changes.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response


class SchemaDocument:
    def __init__(self, sdl: str) -> None:
        self.body = sdl.encode()
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'

    async def handle(self, request: Request) -> Response:
        headers = {
            "ETag": self.etag,
            "Cache-Control": "public, max-age=300",
            "X-Content-Type-Options": "nosniff",
        }
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        headers["Content-Disposition"] = 'inline; filename="accord.graphql"'
        return Response(self.body, media_type="text/plain; charset=utf-8", headers=headers)
