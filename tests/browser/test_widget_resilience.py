"""The widget in hostile conditions: a host page whose CSS attacks it, remote text
that tries to run script, a page reload, a network drop; and its French face,
its offline form, keyboard use and phone-width layout."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.async_api import Browser, Dialog, Locator, Page, WebSocketRoute, expect

from tests.browser.a11y import PHONE, audit
from tests.browser.conftest import (
    BrowserService,
    console_login,
    make_agent,
    new_context,
    open_widget,
    shot_path,
    visitor_says,
    widget,
    widget_state,
)
from tests.support.service import UNREACHABLE_BOT, wait_for

pytestmark = pytest.mark.browser

XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'

HOSTILE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hostile host</title>
<style>
  body * { display: none !important; font-size: 0 !important; }
  html, body { font-size: 2px !important; color: transparent !important; }
  button { all: unset !important; width: 1px !important; height: 1px !important; background: red !important; }
  div, section, form { position: static !important; opacity: .05 !important; transform: scale(.1) !important; }
  textarea { display: none !important; }
</style></head>
<body><p id="host-text">The host page's own content</p>
<script src="/widget/relais-widget.js" data-brand="Évasion Van" data-lang="en"></script>
</body></html>"""


def watch_dialogs(page: Page) -> list[str]:
    """Record (and dismiss) every alert/confirm a page opens."""
    opened: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        opened.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    return opened


async def offer_for(service: BrowserService, username: str, conversation_id: str) -> dict[str, Any]:
    token = await service.token(username)
    found: dict[str, Any] = {}

    async def offered() -> bool:
        _, body = await service.call("GET", "/api/agents/me/conversations", token=token)
        found.update(next((o for o in body["offers"] if o["conversation_id"] == conversation_id), {}))
        return bool(found)

    await wait_for(offered, seconds=15)
    return found


async def talk_to_community(service: BrowserService, page: Page, root: Locator, username: str) -> str:
    """The visitor presses "Talk to the community"; the ambassador accepts over the API."""
    await root.get_by_role("button", name="Talk to the community").click()
    await expect(root.locator(".msg.system", has_text="in line")).to_be_visible()

    async def has_conversation() -> bool:
        return bool((await widget_state(page, service)).get("conversationId"))

    await wait_for(has_conversation)
    conversation_id = str((await widget_state(page, service))["conversationId"])
    await offer_for(service, username, conversation_id)
    status, body = await service.call(
        "POST", f"/api/conversations/{conversation_id}/accept", token=await service.token(username)
    )
    assert status == 200, body
    await expect(root.locator("header .subtitle")).to_contain_text("community member")
    return conversation_id


async def agent_says(service: BrowserService, username: str, conversation_id: str, text: str) -> None:
    status, body = await service.call(
        "POST", f"/api/conversations/{conversation_id}/messages", token=await service.token(username), json={"text": text}
    )
    assert status == 201, body


async def test_hostile_host_css_cannot_hide_or_break_the_widget(service: BrowserService, browser: Browser) -> None:
    context = await new_context(browser)
    page = await context.new_page()
    service.host_pages["hostile.html"] = HOSTILE_PAGE
    await page.goto(service.url + "/test-pages/hostile.html")
    await expect(page.locator("#host-text")).to_be_hidden()  # the hostile CSS is in force

    root = await open_widget(page)
    launcher = root.locator("button.launcher")
    box = await launcher.bounding_box()
    assert box and box["width"] >= 56 and box["height"] >= 56
    input_box = root.locator("textarea#relais-input")
    await expect(input_box).to_be_visible()
    font_size = await input_box.evaluate("node => getComputedStyle(node).fontSize")
    assert font_size == "16px"  # the widget's own size (the page's font-size: 0 does not reach it), 16 px in fields for iOS
    await visitor_says(root, "how long does shipping take?")
    await expect(root.locator(".msg.bot[data-seq]").first).to_contain_text(re.compile(r"deliver|shipping", re.I))
    await expect(root.locator(".conn")).to_be_hidden()  # the live socket works from this page too
    await audit(page, "widget on a hostile host page", page_rules=False)  # the host hides its own h1 and main
    await page.screenshot(path=shot_path("widget-hostile-css"))

    # And the widget leaves the host page alone: one element added, no global style.
    added = await page.evaluate(
        "() => [document.querySelectorAll('style, link[rel=stylesheet]').length,"
        " [...document.body.children].filter(n => n.id === 'relais-widget').length]"
    )
    assert added == [1, 1]  # the host's own <style> only; one widget host element
    await context.close()


async def test_markup_in_messages_is_shown_as_text_and_never_runs(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "bruno")
    agent_context = await new_context(browser)
    console = await console_login(agent_context, service, "bruno")
    console_dialogs = watch_dialogs(console)

    visitor_context = await new_context(browser)
    shop = await visitor_context.new_page()
    shop_dialogs = watch_dialogs(shop)
    await shop.goto(service.url + "/")
    root = await open_widget(shop)
    await root.get_by_role("button", name="Talk to the community").click()
    offer = console.locator("#offers .card")
    await expect(offer).to_be_visible()
    await offer.get_by_role("button", name="Accept").click()
    await expect(root.locator("header .subtitle")).to_have_text("\u2068Bruno\u2069 · community member")

    # Visitor → agent.
    await visitor_says(root, XSS)
    await expect(root.locator(".msg.visitor[data-seq] .bubble").last).to_have_text(XSS)
    await expect(console.locator("#chat-log .msg.visitor .text").last).to_have_text(XSS)
    # Agent → visitor.
    await console.locator("#composer-input").fill("Echo: " + XSS)
    await console.locator("#composer-input").press("Enter")
    await expect(root.locator(".msg.ambassador .bubble").last).to_have_text("Echo: " + XSS)
    await audit(shop, "widget, markup shown as text")
    await audit(console, "console, markup shown as text")

    for page in (shop, console):
        assert await page.locator("img[src=x]").count() == 0
        assert await page.evaluate("() => document.querySelectorAll('script:not([src])').length") == 0
    assert await root.locator("img").count() == 0
    assert shop_dialogs == [] and console_dialogs == []
    await visitor_context.close()
    await agent_context.close()


async def test_a_reload_keeps_the_conversation_and_navigation_updates_the_page(
    service: BrowserService, browser: Browser
) -> None:
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(service.url + "/")
    root = await open_widget(page)
    await visitor_says(root, "how long does shipping take?")
    await expect(root.locator(".msg.bot[data-seq]").first).to_contain_text(re.compile(r"deliver|shipping", re.I))
    before = await widget_state(page, service)
    await root.locator("textarea#relais-input").fill("a draft I have not sent")

    await page.reload()
    root = widget(page)
    await expect(root.locator("section.panel")).to_be_visible()  # still open
    await expect(root.locator(".msg.visitor[data-seq] .bubble").first).to_have_text("how long does shipping take?")
    await expect(root.locator(".msg.bot[data-seq]").first).to_contain_text(re.compile(r"deliver|shipping", re.I))
    await expect(root.locator("textarea#relais-input")).to_have_value("a draft I have not sent")
    await audit(page, "widget after a reload, with a draft")
    after = await widget_state(page, service)
    assert after["conversationId"] == before["conversationId"]
    assert after["visitorId"] == before["visitorId"]

    # Navigating to another page of the shop: same conversation, page URL updated.
    await page.goto(service.url + "/demo/solar-kit-200w.html")
    root = widget(page)
    await visitor_says(root, "what payment methods do you accept?")
    await expect(root.locator(".msg.visitor[data-seq]")).to_have_count(2)
    conversation_id = after["conversationId"]
    token = after["token"]

    async def page_updated() -> bool:
        _, body = await service.call("GET", f"/api/visitor/conversations/{conversation_id}/messages", token=token)
        return bool(body["conversation"]["page_url"] == service.url + "/demo/solar-kit-200w.html")

    await wait_for(page_updated)
    assert (await widget_state(page, service))["conversationId"] == conversation_id
    await context.close()


async def test_a_network_drop_loses_nothing_either_way(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "chloe")
    await service.go_online("chloe")
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(service.url + "/demo/awning-fiamma-f45.html")
    root = await open_widget(page)
    await expect(root.get_by_role("button", name="Talk to the community")).to_be_visible()
    conversation_id = await talk_to_community(service, page, root, "chloe")
    await agent_says(service, "chloe", conversation_id, "Hi, Chloe here, how can I help?")
    await expect(root.locator(".msg.ambassador")).to_have_count(1)

    await context.set_offline(True)
    await expect(root.locator(".conn")).to_be_visible()
    await agent_says(service, "chloe", conversation_id, "First message while you were away")
    await agent_says(service, "chloe", conversation_id, "Second message while you were away")
    await visitor_says(root, "Typed while offline")
    pending = root.locator(".msg.visitor.pending")
    await expect(pending).to_have_text(re.compile("Typed while offline.*Sending…"))
    await audit(page, "widget offline, a message pending")
    await page.screenshot(path=shot_path("widget-offline"))

    await context.set_offline(False)
    await expect(root.locator(".msg.ambassador")).to_have_count(3)
    await expect(root.locator(".msg.ambassador").nth(1)).to_contain_text("First message while you were away")
    await expect(root.locator(".msg.ambassador").nth(2)).to_contain_text("Second message while you were away")
    await expect(pending).to_have_count(0)
    await expect(root.locator(".msg.visitor[data-seq] .bubble").last).to_have_text("Typed while offline")
    await expect(root.locator(".conn")).to_be_hidden()

    # The server has each message exactly once, and the socket is live again.
    status, body = await service.call(
        "GET", f"/api/conversations/{conversation_id}/messages", token=await service.token("chloe")
    )
    texts = [m["text"] for m in body["messages"]]
    assert texts.count("Typed while offline") == 1
    seqs = [int(s) for s in await root.locator(".msg[data-seq]").evaluate_all("ns => ns.map(n => n.dataset.seq)")]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))

    # With the panel closed, a new answer shows on the launcher's badge.
    await root.locator("header").get_by_role("button", name="Close the chat").click()
    await agent_says(service, "chloe", conversation_id, "Welcome back")
    launcher = root.locator("button.launcher")
    await expect(launcher.locator(".badge")).to_have_text("1")
    await expect(launcher).to_have_attribute("aria-label", "Open the chat — 1 new messages")
    await audit(page, "launcher with an unread badge")
    await page.reload()  # the history shown again after a reload is not "new"
    await expect(launcher.locator(".badge")).to_be_hidden()
    await launcher.click()
    await expect(root.locator(".msg.ambassador").last).to_contain_text("Welcome back")
    await context.close()


async def test_without_websocket_the_widget_polls_and_still_gets_everything(
    service: BrowserService, browser: Browser
) -> None:
    await make_agent(service, "eliott")
    await service.go_online("eliott")
    context = await new_context(browser)
    page = await context.new_page()
    refused: list[str] = []

    def refuse(socket: WebSocketRoute) -> None:  # a proxy that does not pass WebSockets
        refused.append(socket.url)
        asyncio.ensure_future(socket.close(code=1011))

    await page.route_web_socket(re.compile(r".*/ws/visitor.*"), refuse)
    await page.goto(service.url + "/")
    root = await open_widget(page)
    conversation_id = await talk_to_community(service, page, root, "eliott")
    await expect(root.locator(".conn")).to_be_visible()
    await agent_says(service, "eliott", conversation_id, "Hello from the console, over plain HTTP polling")
    await expect(root.locator(".msg.ambassador")).to_contain_text("over plain HTTP polling")
    await visitor_says(root, "Got it")
    await expect(root.locator(".msg.visitor[data-seq] .bubble").last).to_have_text("Got it")
    await audit(page, "widget polling, connection notice")
    assert refused  # the widget did try the socket first
    await context.close()


async def test_a_message_acknowledged_past_unseen_ones_does_not_hide_them(
    service: BrowserService, browser: Browser
) -> None:
    # The widget resumes from its last seq; its own message's seq, acknowledged while it
    # has not yet seen what the agent wrote meanwhile, must not move it past those.
    await make_agent(service, "fanny")
    await service.go_online("fanny")
    context = await new_context(browser)
    page = await context.new_page()

    def refuse(socket: WebSocketRoute) -> None:  # polling only: the catch-up is the one path
        asyncio.ensure_future(socket.close(code=1011))

    await page.route_web_socket(re.compile(r".*/ws/visitor.*"), refuse)
    await page.goto(service.url + "/")
    root = await open_widget(page)
    conversation_id = await talk_to_community(service, page, root, "fanny")
    await agent_says(service, "fanny", conversation_id, "First, before the gap")
    await expect(root.locator(".msg.ambassador")).to_have_count(1)

    reads = re.compile(r".*/messages\?after=.*")
    await page.route(reads, lambda route: route.abort())  # the catch-up fails for a while
    await agent_says(service, "fanny", conversation_id, "Second, unseen")
    await agent_says(service, "fanny", conversation_id, "Third, unseen")
    await visitor_says(root, "Mine, acknowledged past them")
    await expect(root.locator(".msg.visitor[data-seq] .bubble").last).to_have_text("Mine, acknowledged past them")
    await page.unroute(reads)
    await expect(root.locator(".msg.ambassador")).to_have_count(3)
    texts = await root.locator(".msg[data-seq] .bubble").all_inner_texts()
    assert texts[-3:] == ["Second, unseen", "Third, unseen", "Mine, acknowledged past them"], texts
    await context.close()


async def test_french_page_offline_form_then_the_community_when_available(
    service: BrowserService, browser: Browser
) -> None:
    context = await new_context(browser, locale="fr-FR")
    page = await context.new_page()
    await page.goto(service.url + "/demo/fr.html")
    root = widget(page)
    await expect(root.get_by_role("button", name="Ouvrir la discussion")).to_be_visible()
    root = await open_widget(page)
    await expect(root.locator("textarea#relais-input")).to_have_attribute("placeholder", "Écrivez votre message…")
    await expect(root.get_by_role("log")).to_have_attribute("aria-label", "Messages")
    await expect(root.locator("header .subtitle")).to_have_text("Assistant virtuel")

    await visitor_says(root, "combien coûte la livraison ?")
    await expect(root.locator(".msg.bot[data-seq]").first).to_contain_text(re.compile("livr", re.I))

    # Nobody online: no "talk to" button, the offline form instead.
    await expect(root.get_by_role("button", name="Parler à la communauté")).to_have_count(0)
    await root.get_by_role("button", name="Laissez-nous un message").click()
    form = root.locator("form[data-kind=offline]")
    await form.get_by_label("Votre e-mail").fill("pas-un-email")
    await form.get_by_label("Votre question").fill("Avez-vous le store F45 en 4 m ?")
    await form.get_by_role("button", name="Envoyer mon message").click()
    await expect(form.locator(".error")).to_have_text("Veuillez saisir une adresse e-mail valide.")
    await audit(page, "offline form with an error, French")
    await form.get_by_label("Votre e-mail").fill("camille@example.org")
    await form.get_by_role("button", name="Envoyer mon message").click()
    await expect(root.locator(".msg.system", has_text="camille@example.org")).to_contain_text("Merci")
    await expect(form).to_have_count(0)
    await audit(page, "offline message sent, French")

    # An ambassador comes online: reopening the widget offers the community.
    await make_agent(service, "dora")
    await service.go_online("dora")
    await root.get_by_role("button", name="Fermer la discussion").first.click()
    await root.get_by_role("button", name="Ouvrir la discussion").click()
    await expect(root.get_by_role("button", name="Parler à la communauté")).to_be_visible()
    await page.screenshot(path=shot_path("widget-fr"))
    await context.close()


async def test_keyboard_and_phone_width(service: BrowserService, browser: Browser) -> None:
    context = await new_context(browser, viewport=PHONE, has_touch=True, reduced_motion="reduce")
    page = await context.new_page()
    await page.goto(service.url + "/")
    root = widget(page)
    launcher = root.locator("button.launcher")
    await expect(launcher).to_be_visible()
    await launcher.focus()
    await page.keyboard.press("Enter")
    panel = root.get_by_role("dialog", name="Évasion Van")
    await expect(panel).to_be_visible()
    await expect(root.locator("textarea#relais-input")).to_be_focused()
    await expect(root.get_by_label("Your message")).to_be_visible()
    box = await panel.bounding_box()
    assert box and {k: round(v) for k, v in box.items()} == {"x": 0, "y": 0, **PHONE}  # full screen
    await page.keyboard.type("how long does shipping take?")
    await page.keyboard.press("Enter")
    await expect(root.locator(".msg.bot[data-seq]").first).to_contain_text(re.compile(r"deliver|shipping", re.I))
    await audit(page, "widget at phone width, bot answer")
    await page.screenshot(path=shot_path("widget-phone"))
    await page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(launcher).to_be_focused()
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    await context.close()


@pytest.mark.parametrize("settings_overrides", [{"rasa_url": UNREACHABLE_BOT}], indirect=True)
async def test_when_the_bot_is_down_the_widget_offers_a_person(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "hugo")
    await service.go_online("hugo")
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(service.url + "/")
    root = await open_widget(page)
    await visitor_says(root, "do you ship to Belgium?")
    notice = root.locator(".msg.system", has_text="Our assistant is unavailable")
    await expect(notice).to_be_visible()
    # The message carries data.offer_handoff: an offer card right below it.
    offer_card = root.locator(".card[data-trailing]")
    await expect(offer_card).to_be_visible()
    await audit(page, "widget, bot down, offer of a person")
    await offer_card.get_by_role("button", name="Talk to the community").click()
    await expect(root.locator(".msg.system", has_text="number 1 in line")).to_be_visible()
    await expect(root.locator(".status")).to_have_text("You are number 1 in line.")
    await audit(page, "widget, bot down, waiting in line")
    await expect(offer_card).to_have_count(0)
    await context.close()


async def test_the_page_can_ask_for_more_available_people_than_the_server(
    service: BrowserService, browser: Browser
) -> None:
    await make_agent(service, "ines")
    await make_agent(service, "jules")
    await service.go_online("ines")
    service.host_pages["strict.html"] = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Strict</title></head>'
        "<body><main><h1>Strict</h1></main>"
        '<script src="/widget/relais-widget.js" data-brand="Évasion Van" data-min-available="ambassador:2"></script>'
        "</body></html>"
    )
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(service.url + "/test-pages/strict.html")
    root = await open_widget(page)
    # One ambassador online is enough for the server (min_available 1), not for this page.
    await expect(root.get_by_role("button", name="Leave us a message")).to_be_visible()
    await expect(root.get_by_role("button", name="Talk to the community")).to_have_count(0)
    await audit(page, "widget, not enough people for this page")
    await service.go_online("jules")
    await root.get_by_role("button", name="Close the chat").first.click()
    await root.get_by_role("button", name="Open the chat").click()
    await expect(root.get_by_role("button", name="Talk to the community")).to_be_visible()
    await context.close()
