"""A visitor who waits too long, in a real browser: told once, offered the choice to keep
waiting or leave a message (routing.max_wait_seconds); the place in line is kept until the
message is sent, which ends the wait."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from handoff.config import RoutingSettings
from handoff.domain import AgentRole, Pool
from tests.browser.a11y import audit
from tests.browser.conftest import BrowserService, make_agent, new_context, open_widget, shot_path

pytestmark = pytest.mark.browser

LONG_WAIT = {
    "routing": RoutingSettings(sweep_interval_seconds=0.1, max_wait_seconds=1),
    # The one ambassador is busy: the widget still offers the community (a wait, not nobody).
    "min_available": {Pool.AMBASSADOR: 0, Pool.ADVISOR: 1},
}


@pytest.mark.parametrize("settings_overrides", [LONG_WAIT], indirect=True)
async def test_a_long_wait_offers_to_leave_a_message_and_keeps_the_place(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "wes")
    wes = await service.go_online("wes")
    await service.call("POST", "/api/agents/me/presence", token=wes, json={"status": "away"})  # there, not answering

    page = await (await new_context(browser)).new_page()
    await page.goto(service.url + "/")
    root = await open_widget(page)
    await root.get_by_role("button", name="Talk to the community").click()
    await expect(root.locator(".msg.system", has_text="in line")).to_be_visible()
    told = root.locator(".msg.system", has_text="Sorry for the wait")
    await expect(told).to_be_visible()
    choice = root.get_by_role("group", name="Keep waiting or leave a message")
    await expect(choice).to_be_visible()
    await make_agent(service, "boss", role=AgentRole.ADVISOR)  # never online: sees the whole queue
    boss = await service.token("boss")
    _, queue = await service.call("GET", "/api/queue", token=boss)
    assert len(queue["waiting"]) == 1
    await choice.get_by_role("button", name="Leave us a message").click()
    form = root.locator("form[data-kind=offline]")
    await expect(form).to_be_visible()
    await expect(form.get_by_label("Your email")).to_be_focused()
    await expect(form.get_by_role("button", name="Keep waiting")).to_be_visible()  # never a dead end
    await expect(root.locator("p.status")).to_have_text("You are number 1 in line.")  # the place is kept
    await page.screenshot(path=shot_path("widget-long-wait"))
    await audit(page, "widget, long wait, leaving a message")
    await form.get_by_label("Your email").fill("sam@example.org")
    await form.get_by_label("Your question").fill("Do you ship the F45 awning to Belgium?")
    await form.get_by_role("button", name="Send my message").click()
    await expect(root.locator(".msg.system", has_text="sam@example.org")).to_be_visible()
    await expect(told).to_have_count(1)
    # Leaving a message ended the wait (the engine's cancel): out of the line.
    await expect(root.locator("p.status")).to_be_hidden()
    _, queue = await service.call("GET", "/api/queue", token=boss)
    assert queue["waiting"] == []
