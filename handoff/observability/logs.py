"""Logs: one handler for the whole process, JSON or text, with the request id and
without secrets.

- `request_id_middleware` takes the caller's `X-Request-Id` when it is short and
  of a safe charset (else makes one), keeps it in a context variable for the
  request's task — every record logged while handling it carries `request_id` —
  and sends it back in the response's `X-Request-Id` header.
- `configure_logging(format, level)` installs the handler (`log.format`: `json`
  one object per line, or `text`), with two filters: the request id, and the
  redaction of `token=` values and `Authorization` headers from every record — the
  access log's request line included, since WebSocket URLs carry the token
  (`redact_access_log`, called by `create_app`, also filters aiohttp's access
  logger itself, for processes that bring their own logging set-up).
- `AccessLogger` is aiohttp's access log as one record per request with fields
  (method, path without secrets, status, duration, request id).
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import uuid
from typing import IO, Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID = web.RequestKey("request_id", str)
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
REDACTED = "[redacted]"
# `token=…` (also `visitor_token=…`) in a query string or text, and an Authorization header's credentials.
_SECRETS = re.compile(r"(?i)(token=)[^&\s\"']+|(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic)?\s*)[^\s\"',}]+")
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

_current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("relais_request_id", default=None)


def current_request_id() -> str | None:
    return _current_request_id.get()


def request_id_of(request: web.BaseRequest) -> str:
    """The caller's `X-Request-Id` if it is safe to log and echo, else a new one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request_id_of(request)
    request[REQUEST_ID] = request_id
    reset = _current_request_id.set(request_id)
    try:
        return await handler(request)
    finally:
        _current_request_id.reset(reset)


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: every answer (errors, files and sockets too) names its request."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id


def redact(text: str) -> str:
    """`text` without `token=` values nor Authorization credentials."""
    if "oken" not in text and "uthorization" not in text:
        return text
    return _SECRETS.sub(lambda m: (m.group(1) or m.group(2)) + REDACTED, text)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (None outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


class RedactFilter(logging.Filter):
    """Removes secrets from the message and from every extra string field of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


class AccessLogger(AbstractAccessLogger):
    """One record per request: method, path (secrets redacted), status, duration, request id."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        path = redact(request.path_qs)
        self.logger.info(
            "%s %s %s %.1fms",
            request.method, path, response.status, time * 1000,
            extra={
                "request_id": request.get(REQUEST_ID),
                "method": request.method,
                "path": path,
                "status": response.status,
                "duration_ms": round(time * 1000, 2),
                "remote": request.remote,
            },
        )


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(
            "%(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",  # ISO 8601, UTC
        )
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")


def configure_logging(fmt: str = "text", level: str = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """Route every logger to one handler on `stream` (stderr) in `fmt`; returns the handler.
    Called once by `relais run`; calling it again replaces the handler it installed."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactFilter())
    handler.set_name("relais")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "relais"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def redact_access_log() -> None:
    """Redact aiohttp's access log at its logger, whatever handlers the process has
    (idempotent; called by `create_app`)."""
    access = logging.getLogger("aiohttp.access")
    if not any(isinstance(f, RedactFilter) for f in access.filters):
        access.addFilter(RedactFilter())


def access_log_options() -> dict[str, Any]:
    """What `web.AppRunner` (and `TestServer`) take to log requests as `AccessLogger` does."""
    return {"access_log_class": AccessLogger, "access_log": logging.getLogger("aiohttp.access")}
