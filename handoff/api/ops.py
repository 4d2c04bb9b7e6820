"""Operations edges: liveness `GET /healthz`, readiness `GET /readyz`, metrics `GET /metrics`.

Liveness says only that the process answers (a probe that restarts the process
must not fail because PostgreSQL, Redis or Rasa is down); readiness runs the
checks `app.py` chose and answers 503 naming what is down (200 "degraded" when
only an optional one, Rasa, is); metrics reads the
queues from the router, then renders the instance's registry (docs/operations.md).
"""

from __future__ import annotations

import time

from aiohttp import web

from handoff.api.context import services
from handoff.api.contract import Api
from handoff.api.contract import ops as m
from handoff.observability.metrics import CONTENT_TYPE

api = Api()
routes = api.routes


@api.route("GET", "/healthz", summary="Liveness: the process answers (no dependency is checked)", response=m.Alive)
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@api.route("GET", "/readyz", response=m.Readiness, also={503: m.Readiness},
           summary="Readiness: store, Redis (when configured) and Rasa reachable; 503 names what is down")
async def readyz(request: web.Request) -> web.Response:
    report = await services(request).readiness.report()
    if report.degraded and report.ready:
        return web.json_response({"status": "degraded", "degraded": report.degraded, "checks": report.checks})
    if report.ready:
        return web.json_response({"status": "ready", "checks": report.checks})
    return web.json_response({"status": "not_ready", "down": report.down, "checks": report.checks}, status=503)


@api.route("GET", "/metrics", summary="Prometheus metrics (text exposition format)", content_type="text/plain")
async def metrics(request: web.Request) -> web.Response:
    svc = services(request)
    waiting = [(ticket.pool.value, ticket.enqueued_at) for ticket in await svc.handoffs.waiting_everywhere()]
    svc.metrics.observe_queues(waiting, time.time())
    return web.Response(body=svc.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})
