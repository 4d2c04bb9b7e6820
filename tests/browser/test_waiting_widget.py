"""A visitor who waits is never left alone, in a real browser (issue 13): the estimated
wait and the keep-waiting / leave-a-message choice, who can answer pushed at once,
the rating stars, focus after "Talk to the community", a message over the limit, and
the JavaScript API for the host page."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from handoff.config import RoutingSettings
from handoff.domain import Pool
from tests.browser.a11y import audit
from tests.browser.conftest import (
    BrowserService,
    make_agent,
    new_context,
    open_widget,
    shot_path,
    visitor_says,
    widget,
    widget_state,
)
from tests.support.service import add_agent

pytestmark = pytest.mark.browser

SHORT_WAIT = {
    "routing": RoutingSettings(sweep_interval_seconds=0.1, max_wait_seconds=2),
    # The one ambassador is full: the widget still offers the community (a wait, not nobody).
    "min_available": {Pool.AMBASSADOR: 0, Pool.ADVISOR: 1},
}
# Well under the widget's 30-second poll: only the push can meet it on a loaded machine.
PUSHED_MS = 10_000


async def _ask_community(service: BrowserService, page: Page, root: Locator) -> str:
    await root.get_by_role("button", name="Talk to the community").click()
    await expect(root.locator("header .subtitle")).to_have_text("Finding someone for you…")
    return str((await widget_state(page, service))["conversationId"])


async def _held_by(service: BrowserService, cid: str, token: str) -> None:
    await service.await_offer(token, cid)
    status, body = await service.call("POST", f"/api/conversations/{cid}/accept", token=token)
    assert status == 200, body


@pytest.mark.parametrize("settings_overrides", [SHORT_WAIT], indirect=True)
async def test_a_waiting_visitor_gets_an_estimate_then_the_choice_to_keep_waiting(
    service: BrowserService, browser: Browser
) -> None:
    await add_agent(service.settings, "wes", capacity=1)
    wes = await service.go_online("wes")
    earlier = await service.start_conversation()  # taken at once: the pool's history
    await service.ask_human(earlier)
    await _held_by(service, earlier["conversation_id"], wes)

    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(service.url + "/")
    root = await open_widget(page)
    cid = await _ask_community(service, page, root)
    # wes is full: number 1, and about how long (the last handoff took well under a minute).
    await expect(root.locator("p.status")).to_have_text("You are number 1 in line. About a minute.")
    await audit(page, "widget, waiting with an estimate")

    # After routing.max_wait_seconds: keep waiting, or leave a message.
    choice = root.get_by_role("group", name="Keep waiting or leave a message")
    await expect(choice).to_be_visible()
    await expect(choice.get_by_role("button", name="Leave us a message")).to_be_visible()
    await page.screenshot(path=shot_path("widget-wait-choice"))
    await audit(page, "widget, the choice after a long wait")
    await choice.get_by_role("button", name="Keep waiting").focus()
    await page.keyboard.press("Enter")
    await expect(choice).to_have_count(0)
    await expect(root.locator("textarea#relais-input")).to_be_focused()
    await expect(root.locator("p.status")).to_have_text("You are number 1 in line. About a minute.")
    state = await widget_state(page, service)
    _, body = await service.call("GET", f"/api/visitor/conversations/{cid}/messages", token=state["token"])
    assert body["conversation"]["status"] == "waiting"  # still in line
    await context.close()


async def test_talk_to_the_community_follows_presence_at_once_and_keeps_the_focus(
    service: BrowserService, browser: Browser
) -> None:
    await make_agent(service, "wes")
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(service.url + "/")
    root = await open_widget(page)
    talk = root.get_by_role("button", name="Talk to the community")
    leave = root.locator(".actions").get_by_role("button", name="Leave us a message")
    await expect(leave).to_be_visible()  # nobody online
    await expect(talk).to_have_count(0)

    # Before the conversation exists (/ws/availability), then on the conversation's socket.
    wes = await service.go_online("wes")
    await expect(talk).to_be_visible(timeout=PUSHED_MS)
    await audit(page, "widget, someone came online")
    await service.call("POST", "/api/agents/me/presence", token=wes, json={"status": "away"})
    await expect(leave).to_be_visible(timeout=PUSHED_MS)
    await expect(talk).to_have_count(0)
    await visitor_says(root, "how long does shipping take?")
    await expect(root.locator(".msg.bot[data-seq]").first).to_be_visible()
    await service.call("POST", "/api/agents/me/presence", token=wes, json={"status": "online"})
    await expect(talk).to_be_visible(timeout=PUSHED_MS)
    await service.call("POST", "/api/agents/me/presence", token=wes, json={"status": "away"})
    await expect(talk).to_have_count(0, timeout=PUSHED_MS)
    await service.call("POST", "/api/agents/me/presence", token=wes, json={"status": "online"})
    await expect(talk).to_be_visible(timeout=PUSHED_MS)

    # From the keyboard: the pressed button goes away, the focus stays in the widget.
    await talk.focus()
    await page.keyboard.press("Enter")
    await expect(root.locator("header .subtitle")).to_have_text("Finding someone for you…")
    await expect(root.locator("textarea#relais-input")).to_be_focused()
    await _held_by(service, str((await widget_state(page, service))["conversationId"]), wes)
    await expect(root.locator("header .subtitle")).to_contain_text("community member")
    await expect(root.locator("textarea#relais-input")).to_be_focused()
    assert await page.evaluate("() => document.activeElement.id") == "relais-widget"
    # The volunteer disclosure, once: the notice (the "joined" message does not repeat it).
    await expect(root.get_by_text("answer voluntarily")).to_have_count(1)
    await expect(root.locator("p.notice")).to_be_visible()
    await context.close()


async def test_the_rating_stars_keep_the_header_in_view_and_the_arrows_move_the_right_way(
    service: BrowserService, browser: Browser
) -> None:
    await make_agent(service, "wes")
    wes = await service.go_online("wes")
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(service.url + "/")
    root = await open_widget(page)
    cid = await _ask_community(service, page, root)
    await _held_by(service, cid, wes)
    for n in range(12):  # a conversation longer than the panel: the log scrolls
        await service.call("POST", f"/api/conversations/{cid}/messages", token=wes, json={"text": f"Answer {n}: " + "words " * 20})
    await expect(root.locator(".msg.ambassador", has_text="Answer 11")).to_be_visible()
    await service.call("POST", f"/api/conversations/{cid}/close", token=wes, json={})
    stars = root.get_by_role("group", name="How was your conversation?")
    await expect(stars).to_be_visible()

    panel, header, close = root.locator("section.panel"), root.locator("section.panel header"), root.locator("header button.icon")
    await stars.locator("label[for=relais-star-3]").click()
    three = stars.get_by_role("radio", name="3 out of 5")
    await expect(three).to_be_checked()
    assert await panel.evaluate("p => p.scrollTop") == 0
    panel_box, header_box = await panel.bounding_box(), await header.bounding_box()
    assert panel_box and header_box and header_box["y"] == panel_box["y"]
    await expect(close).to_be_in_viewport()
    await audit(page, "widget, rating with a star chosen")

    await three.focus()
    await page.keyboard.press("ArrowRight")
    await expect(stars.get_by_role("radio", name="4 out of 5")).to_be_checked()
    await page.keyboard.press("ArrowUp")
    await expect(stars.get_by_role("radio", name="5 out of 5")).to_be_checked()
    await page.keyboard.press("ArrowRight")  # the top stays the top
    await expect(stars.get_by_role("radio", name="5 out of 5")).to_be_checked()
    await page.keyboard.press("ArrowLeft")
    await page.keyboard.press("ArrowDown")
    await expect(three).to_be_checked()
    assert await panel.evaluate("p => p.scrollTop") == 0
    await expect(close).to_be_in_viewport()
    await page.screenshot(path=shot_path("widget-rating-stars"))
    await context.close()


async def test_a_message_over_the_limit_is_explained_kept_and_not_sent(service: BrowserService, browser: Browser) -> None:
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(service.url + "/")
    root = await open_widget(page)
    box = root.locator("textarea#relais-input")
    # 16 px at least: iOS Safari zooms the page into smaller fields.
    assert await box.evaluate("b => parseFloat(getComputedStyle(b).fontSize)") >= 16
    text = "Bonjour, " + "x" * 4491  # 4,500 characters, pasted
    await box.fill(text)
    await box.press("Enter")
    alert = root.locator("#relais-compose-error")
    await expect(alert).to_have_text("Your message is 4,500 characters long; the limit is 4,000. Shorten it: nothing was sent.")
    await expect(alert).to_have_attribute("role", "alert")
    await expect(box).to_have_value(text)
    await expect(box).to_have_attribute("aria-invalid", "true")
    await expect(root.locator(".msg.visitor")).to_have_count(0)
    assert "conversationId" not in await widget_state(page, service)  # nothing went to the server
    await audit(page, "widget, a message over the limit")
    await box.fill(text[:4000])
    await expect(alert).to_be_hidden()
    await context.close()


async def test_the_host_page_opens_closes_and_listens_to_the_widget(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "wes")
    await service.go_online("wes")
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(service.url + "/")
    root = widget(page)
    await expect(root.locator("button.launcher")).to_be_visible()
    await page.evaluate("""() => {
        window.seen = [];
        for (const type of ["opened", "closed", "message", "handoff"])
            RelaisWidget.addEventListener(type, (e) => window.seen.push({ type, ...e.detail }));
        window.callbacks = [];
        RelaisWidget.on("message", (detail) => window.callbacks.push(detail.sender_kind));
    }""")
    await page.evaluate("() => RelaisWidget.open()")
    await expect(root.locator("section.panel")).to_be_visible()
    await page.evaluate("() => RelaisWidget.close()")
    await expect(root.locator("section.panel")).to_be_hidden()
    assert [e["type"] for e in await page.evaluate("() => window.seen")] == ["opened", "closed"]

    await page.evaluate("() => RelaisWidget.setLanguage('fr')")
    await expect(root.get_by_role("button", name="Ouvrir la discussion")).to_be_visible()
    await page.evaluate("() => RelaisWidget.open()")
    await expect(root.locator("textarea#relais-input")).to_have_attribute("placeholder", "Écrivez votre message…")
    await expect(root.locator("header .subtitle")).to_have_text("Assistant virtuel")
    await visitor_says(root, "combien coûte la livraison ?")
    await expect(root.locator(".msg.bot[data-seq]").first).to_contain_text("livr")
    await page.wait_for_function("() => window.callbacks.includes('visitor') && window.callbacks.includes('bot')")
    await root.get_by_role("button", name="Parler à la communauté").click()
    await page.wait_for_function("() => window.seen.some((e) => e.type === 'handoff' && e.status === 'waiting')")
    messages = [e for e in await page.evaluate("() => window.seen") if e["type"] == "message"]
    assert messages[0]["sender_kind"] == "visitor" and messages[0]["text"] == "combien coûte la livraison ?"
    await audit(page, "widget in French after setLanguage")
    await context.close()
