"""Cross-origin access for the widget, which runs on the brand's own site.

Only the visitor API, the availability endpoint and the widget's files are
shared with other origins, and only with the origins configured in
`relais.widget.allowed_origins` (`*` by default: the visitor API uses bearer
tokens, never cookies, so a foreign page learns nothing it did not already have).
The agents' API and console stay same-origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

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


def same_origin(request: web.Request, origin: str, public_url: str) -> bool:
    """Whether a browser's `Origin` is this service's own (as reached, or as published)."""
    published = urlsplit(public_url)
    seen = urlsplit(origin)
    return seen.netloc == request.host or (seen.scheme, seen.netloc) == (published.scheme, published.netloc)


def socket_origin_allowed(request: web.Request, *, shared: bool, allowed_origins: Sequence[str], public_url: str) -> bool:
    """A WebSocket's `Origin`: browsers always send one, so a page of another site
    cannot open an agent's socket, nor a visitor's unless that site may embed the widget.
    Clients that are not browsers send none and are judged by their token alone."""
    origin = request.headers.get("Origin")
    if origin is None or same_origin(request, origin, public_url):
        return True
    return shared and ("*" in allowed_origins or origin in allowed_origins)
