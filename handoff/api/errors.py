"""One place where failures become JSON answers.

Domain errors keep their status and code; aiohttp's own HTTP errors (unknown
path, wrong method, body too large) get the same JSON shape under /api; a
limit exceeded (`RateLimited`) is a 429 with `Retry-After`; a
dependency that is unreachable (the database, Redis: `handoff.unavailable`) is a
503 `unavailable` with `Retry-After` and one log line without a traceback;
anything else unexpected is logged and answered with a 500 that reveals nothing
internal.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from handoff.api.context import SERVICES
from handoff.domain import DomainError, RateLimited
from handoff.unavailable import describe, unavailable_dependency

log = logging.getLogger(__name__)

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
RETRY_AFTER_SECONDS = 2


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return web.json_response(body, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RateLimited as exc:
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except DomainError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith(("/api/", "/ws/")):
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        return error_response(exc.status, code, exc.reason)
    except Exception as exc:
        dependency = unavailable_dependency(exc)
        if dependency is None:
            log.exception("unhandled error on %s %s", request.method, request.path)
            return error_response(500, "internal_error", "internal error; it has been logged")
        log.warning("%s %s: %s unavailable (%s)", request.method, request.path, dependency, describe(exc))
        services = request.app.get(SERVICES)
        if services is not None:
            services.handoffs.note_outage()  # the use case may be half done: reconciled once it is back
        response = error_response(503, "unavailable", f"the {dependency} is unreachable; try again shortly",
                                  {"dependency": dependency})
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
