"""Static faces of the product: the demo shop with the widget, the widget script
itself, the agents' console and its review page for admins (docs/maintainers.md)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

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


@routes.get("/console/admin")
async def console_admin(request: web.Request) -> web.StreamResponse:
    """The admins' page (agents, settings); its API answers 403 to anyone else."""
    return web.FileResponse(CONSOLE_DIR / "templates" / "admin.html")


@routes.get("/console/review")
async def review_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(CONSOLE_DIR / "templates" / "review.html")


@routes.get("/console/history")
async def console_history(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(CONSOLE_DIR / "templates" / "history.html")


@routes.get("/console/inbox")
async def console_inbox(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(CONSOLE_DIR / "templates" / "inbox.html")


def add_static_routes(app: web.Application) -> None:
    app.router.add_static("/widget/", WIDGET_DIR, show_index=False, follow_symlinks=False)
    app.router.add_static("/demo/", DEMO_DIR, show_index=False, follow_symlinks=False)
    app.router.add_static("/console/static/", CONSOLE_DIR / "static", show_index=False, follow_symlinks=False)
