"""Files a page of Accord's loads (scripts, styles), served from a folder of the package."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope


class Assets(StaticFiles):
    """A folder's files, with their caching rule and ``nosniff`` (a script is never taken
    for anything else)."""

    def __init__(self, directory: Path, cache_control: str) -> None:
        super().__init__(directory=directory)
        self.cache_control = cache_control

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = self.cache_control
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response
