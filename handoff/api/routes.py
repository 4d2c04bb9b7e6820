"""Registers every edge on an application."""

from __future__ import annotations

from aiohttp import web

from handoff.api import admin, agents, openapi, ops, pages, records, review, tools, visitor, ws


def setup_routes(app: web.Application) -> None:
    for table in (
        admin.routes, review.routes, visitor.routes, agents.routes, records.routes, tools.routes,
        ws.routes, openapi.routes, ops.routes, pages.routes,
    ):
        app.router.add_routes(table)
    pages.add_static_routes(app)
