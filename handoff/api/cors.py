"""Cross-origin access for the widget, which runs on the brand's own site.

Only the visitor API, the availability endpoint and the widget's files are
shared with other origins, and only with the origins configured in
`relais.widget.allowed_origins` (`*` by default: the visitor API uses bearer
tokens, never cookies, so a foreign page learns nothing it did not already have).
The agents' API and console stay same-origin.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

SHARED_PREFIXES = ("/api/visitor/", "/widget/")
SHARED_PATHS = ("/api/visitor/conversations", "/api/availability")
PREFLIGHT_MAX_AGE = "600"


def _shared(path: str) -> bool:
    return path in SHARED_PATHS or path.startswith(SHARED_PREFIXES)


def cors_middleware(allowed_origins: Sequence[str]) -> Middleware:
    allow_any = "*" in allowed_origins
    allowed = frozenset(allowed_origins)

    def allowed_origin(request: web.Request) -> str | None:
        origin = request.headers.get("Origin")
        if origin is None or not _shared(request.path):
            return None
        return origin if allow_any or origin in allowed else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = allowed_origin(request)
        if origin is not None and request.method == "OPTIONS":
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                    "Access-Control-Allow-Headers": "Authorization, Content-Type",
                    "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                    "Vary": "Origin",
                },
            )
        response = await handler(request)
        if origin is not None and not response.prepared:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    return middleware
