"""Fixtures for the browser tests: the real service, the real bot, a real Chromium.

- `service`: `handoff.app.create_app` on a fresh SQLite file with the in-memory
  backend, served by aiohttp's `TestServer` on a free port *inside the test's
  event loop* (Playwright's async API shares that loop), talking to the real Rasa
  server of the session fixture `rasa_server` (tests/support/rasa.py).
- `browser`: Debian's /usr/bin/chromium launched by Playwright with the settings
  verified in BROWSER_TESTS.md (never a downloaded browser).
- helpers to open the demo shop with the widget and to log an agent into the
  console, and `shot_path()` for screenshots under reports/screenshots/.
  The accessibility checks (axe-core, focus, motion, text size) are in a11y.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, Locator, Page, async_playwright, expect

from handoff.app import create_app
from handoff.config import RoutingSettings, Settings
from handoff.domain import AgentRole
from tests.browser.a11y import DESKTOP
from tests.support.service import (
    PASSWORD,
    REAL_BOT_TIMEOUT_SECONDS,
    WAIT_SECONDS,
    RunningService,
    add_agent,
    wait_for,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "reports" / "screenshots"
CHROMIUM = os.environ.get("RELAIS_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# The bot's first answers (model loading, TensorFlow warm-up) can take seconds.
expect.set_options(timeout=WAIT_SECONDS * 1000)


@dataclass
class BrowserService(RunningService):
    """A running instance, plus the API sessions tests opened on it."""

    tokens: dict[str, str] = field(default_factory=dict)
    host_pages: dict[str, str] = field(default_factory=dict)

    async def token(self, username: str) -> str:
        """An API session for `username`, for checks and API-side agent actions."""
        if username not in self.tokens:
            self.tokens[username] = await self.login(username)
        return self.tokens[username]


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings fields a test changes, with `@pytest.mark.parametrize(..., indirect=True)`."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
async def service(
    tmp_path: Path, rasa_server: str, rasa_token: str, settings_overrides: dict[str, Any]
) -> AsyncIterator[BrowserService]:
    """One instance on SQLite + memory, with the real bot."""
    settings = replace(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'relais.db'}",
            backend="memory",
            rasa_url=rasa_server,
            rasa_token=rasa_token,
            rasa_timeout_seconds=REAL_BOT_TIMEOUT_SECONDS,
            routing=RoutingSettings(sweep_interval_seconds=0.1),
        ),
        **settings_overrides,
    )
    host_pages: dict[str, str] = {}

    async def host_page(request: web.Request) -> web.Response:
        """Test-only host pages (e.g. one with hostile CSS), served from the same origin
        as the demo so the browser treats them like any site embedding the widget."""
        name = request.match_info["name"]
        if name not in host_pages:
            raise web.HTTPNotFound()
        return web.Response(text=host_pages[name], content_type="text/html")

    app = create_app(settings)
    app.router.add_get("/test-pages/{name}", host_page)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield BrowserService(url=str(server.make_url("")).rstrip("/"), settings=settings, http=http,
                             host_pages=host_pages)
    await server.close()


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (scripts/ensure_services.sh does it)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        yield launched
        await launched.close()


async def new_context(browser: Browser, **options: Any) -> BrowserContext:
    options.setdefault("viewport", DESKTOP)
    options.setdefault("reduced_motion", "reduce")  # no opening animation in screenshots
    return await browser.new_context(**options)


def shot_path(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")


# --- the widget ----------------------------------------------------------------


def widget(page: Page) -> Locator:
    """The widget's host element; chained locators pierce its open shadow root."""
    return page.locator("#relais-widget")


async def open_widget(page: Page) -> Locator:
    root = widget(page)
    launcher = root.locator("button.launcher")
    await expect(launcher).to_be_visible()
    if await launcher.get_attribute("aria-expanded") != "true":
        await launcher.click()
    await expect(root.locator("section.panel")).to_be_visible()
    return root


async def visitor_says(root: Locator, text: str) -> None:
    box = root.locator("textarea#relais-input")
    await box.fill(text)
    await box.press("Enter")


async def widget_state(page: Page, service: RunningService) -> dict[str, Any]:
    """What the widget keeps in localStorage (conversation id, token, visitor id…)."""
    raw = await page.evaluate("key => localStorage.getItem(key)", "relais:v1:" + service.url)
    return dict(json.loads(raw or "{}"))


# --- the console -------------------------------------------------------------------


async def make_agent(service: RunningService, username: str, role: AgentRole = AgentRole.AMBASSADOR,
                     skills: tuple[str, ...] = ()) -> None:
    await add_agent(service.settings, username, role=role, languages=("fr", "en"), skills=skills, capacity=3)


async def console_login(context: BrowserContext, service: BrowserService, username: str, *, online: bool = True) -> Page:
    """Open the console in `context`, log in through the form and (by default) go online."""
    page = await context.new_page()
    await page.goto(service.url + "/console")
    await page.locator("#login-username").fill(username)
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#app-view")).to_be_visible()
    if online:
        await page.locator("#presence label").filter(has=page.locator("input[value=online]")).click()
        await expect(page.locator("#presence input[value=online]")).to_be_checked()
        token = await service.token(username)

        async def online_now() -> bool:
            _, body = await service.call("GET", "/api/agents/online", token=token)
            return any(a["agent"]["username"] == username and a["presence"] == "online" for a in body["agents"])

        await wait_for(online_now)
    return page


async def advisor_transcript(service: BrowserService, conversation_id: str) -> dict[str, Any]:
    """The full transcript, read as an advisor would (an advisor created on first use, never online)."""
    if "auditor" not in service.tokens:
        await make_agent(service, "auditor", role=AgentRole.ADVISOR)
    status, body = await service.call(
        "GET", f"/api/conversations/{conversation_id}/transcript", token=await service.token("auditor")
    )
    assert status == 200, body
    return dict(body)
