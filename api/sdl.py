"""``GET /graphql/schema.graphql``: the schema as SDL, directives included.

Introspection leaves schema directives out, so a tool that wants to see who owns a field
(``@owner``), what it costs or what is deprecated downloads the SDL instead. It is the same
text as the committed ``schema/schema.graphql``, printed from the running schema; its ETag is
its digest, so a tool polling for changes gets 304 until the schema changes.

The SDL is the whole schema, so it is published to whoever may introspect
(``ACCORD_INTROSPECTION``): anyone when introspection is on (and then caches may keep it),
callers with credentials when it is ``authenticated`` (a missing or unknown credential is a
401, and the answer is private), nobody when it is off (404, as for a page that is not there).
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from api.auth import AuthenticationFailed, Authenticator
from api.pipeline import Introspection


class SchemaDocument:
    def __init__(
        self,
        sdl: str,
        authenticator: Authenticator,
        introspection: Introspection = Introspection.ON,
    ) -> None:
        self.body = sdl.encode()
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'
        self.authenticator = authenticator
        self.introspection = introspection

    async def handle(self, request: Request) -> Response:
        if self.introspection is Introspection.OFF:
            return PlainTextResponse("the schema is not published here", status_code=404)
        public = self.introspection is Introspection.ON
        if not public:
            try:
                caller = await self.authenticator.caller(request.headers.get("authorization"))
            except AuthenticationFailed as exc:
                return _unauthenticated(str(exc))
            if caller.anonymous:
                return _unauthenticated("send Authorization: Bearer <API key or token>")
        headers = {
            "ETag": self.etag,
            "Cache-Control": "public, max-age=300" if public else "private, max-age=300",
            "X-Content-Type-Options": "nosniff",
        }
        if not public:
            headers["Vary"] = "Authorization"
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        headers["Content-Disposition"] = 'inline; filename="accord.graphql"'
        return Response(self.body, media_type="text/plain; charset=utf-8", headers=headers)


def _unauthenticated(message: str) -> Response:
    return JSONResponse(
        {"error": "UNAUTHENTICATED", "message": message},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="accord"'},
    )
