"""Query values every edge shares: `after=SEQ` (also read by the WebSocket edges), and
the middleware that refuses path and query values no store can hold. Bodies are read
with `handoff.api.contract.read_body`."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from handoff.api import safe_json
from handoff.api.contract import read_query
from handoff.api.contract.visitor import After


def after_param(request: web.Request) -> int:
    """`?after=SEQ` (0 when absent): a sequence number the store can hold."""
    return read_query(request, After).after


@web.middleware
async def storable_params_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Path and query values reach the store as they are: refuse what it cannot hold
    (a `%00` in a conversation id would otherwise fail deep in PostgreSQL)."""
    for value in (*request.match_info.values(), *request.query.values()):
        safe_json.check_text(value)
    return await handler(request)
