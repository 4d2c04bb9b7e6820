"""Static faces of the product: the demo shop with the widget, the widget script
itself and the agents' console."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from handoff.api.context import services

PACKAGE_DIR = Path(__file__).resolve().parent.parent
CONSOLE_DIR = PACKAGE_DIR / "console"
WIDGET_DIR = PACKAGE_DIR.parent / "widget"
DEMO_DIR = WIDGET_DIR / "demo"

routes = web.RouteTableDef()


@routes.get("/")
async def demo_home(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(DEMO_DIR / "index.html")


@routes.get("/console")
async def console(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(CONSOLE_DIR / "templates" / "console.html")


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    svc = services(request)
    checks = {"store": "ok", "backend": "ok", "bot": "ok"}
    try:
        await svc.conversations.ping()
    except Exception:
        checks["store"] = "down"
    try:
        await svc.engine.availability()
    except Exception:
        checks["backend"] = "down"
    if not await svc.bot.healthy():
        checks["bot"] = "down"
    healthy = checks["store"] == "ok" and checks["backend"] == "ok"
    return web.json_response({"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503)


def add_static_routes(app: web.Application) -> None:
    app.router.add_static("/widget/", WIDGET_DIR, show_index=False, follow_symlinks=False)
    app.router.add_static("/demo/", DEMO_DIR, show_index=False, follow_symlinks=False)
    app.router.add_static("/console/static/", CONSOLE_DIR / "static", show_index=False, follow_symlinks=False)
