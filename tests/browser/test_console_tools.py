"""The console's desk tools in a real browser, with the real service and bot: an offer
accepted by shortcut, a canned response inserted by typing `/` and a keyword, an internal
note shown to the agent and never in the visitor's widget, and the `?` help (FR/EN,
focus kept inside, Escape closes it)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from handoff.domain import AgentRole
from tests.browser.a11y import audit
from tests.browser.conftest import (
    BrowserService,
    console_login,
    make_agent,
    new_context,
    open_widget,
    shot_path,
    widget_state,
)

pytestmark = pytest.mark.browser

CANNED = "Delivery takes 2 to 4 working days; you get a tracking link by email."
NOTE = "Returning customer, bought a Fiamma F45 last year (NOTE-7731)."


async def focused_id(page: Page) -> str:
    return str(await page.evaluate("() => document.activeElement && document.activeElement.id"))


async def test_accept_by_shortcut_canned_response_and_a_note_the_visitor_never_sees(
    service: BrowserService, browser: Browser
) -> None:
    await make_agent(service, "victor", role=AgentRole.ADVISOR)
    await make_agent(service, "amelie")
    victor = await service.token("victor")
    for language, shortcut, text in (("en", "delivery", CANNED), ("fr", "livraison", "La livraison prend 2 à 4 jours."),
                                     ("en", "returns", "You have 30 days to return an item.")):
        status, body = await service.call("POST", "/api/canned", token=victor,
                                          json={"language": language, "shortcut": shortcut, "text": text, "title": shortcut})
        assert status == 201, body

    console = await console_login(await new_context(browser, locale="en-GB"), service, "amelie")
    shop = await (await new_context(browser, locale="en-GB")).new_page()
    await shop.goto(service.url + "/demo/awning-fiamma-f45.html")
    root = await open_widget(shop)
    await root.get_by_role("button", name="Talk to the community").click()
    await expect(root.locator(".msg.system", has_text="in line")).to_be_visible()
    conversation_id = (await widget_state(shop, service))["conversationId"]

    # Alt+A accepts the offer, wherever the focus is; the message box gets it.
    offer = console.locator(f"#offers .card[data-conversation-id='{conversation_id}']")
    await expect(offer).to_be_visible()
    await console.locator("#chat-view").focus()
    await console.keyboard.press("Alt+KeyA")
    await expect(offer).to_be_hidden()
    await expect(console.locator(f"#chat-tabs [data-conversation-id='{conversation_id}']")).to_have_attribute("aria-selected", "true")
    box = console.locator("#composer-input")
    await expect(box).to_be_focused()

    # "/" and a keyword list the conversation's language's responses; Enter inserts, Enter sends.
    await box.press_sequentially("Hello! /deli")
    options = console.locator("#canned-list [role=option]")
    await expect(options).to_have_count(1)
    await expect(options.first).to_contain_text("/delivery")
    await expect(options.first).to_have_attribute("aria-selected", "true")
    await expect(box).to_have_attribute("aria-activedescendant", "canned-option-0")
    await audit(console, "console, canned responses listed")
    await console.screenshot(path=shot_path("console-canned-responses"))
    await box.press("Enter")
    await expect(box).to_have_value("Hello! " + CANNED)
    await expect(console.locator("#canned-list")).to_be_hidden()
    await box.press("Enter")
    await expect(root.locator(".msg.ambassador").last).to_contain_text("Hello! " + CANNED)
    # Tab inserts too; Escape closes the list and leaves the text as typed.
    await box.press_sequentially("/ret")
    await expect(options).to_have_count(1)
    await box.press("Escape")
    await expect(console.locator("#canned-list")).to_be_hidden()
    await expect(box).to_have_value("/ret")
    await box.press_sequentially("u")
    await expect(options.first).to_contain_text("/returns")
    await box.press("Tab")
    await expect(box).to_have_value("You have 30 days to return an item.")
    await box.fill("")

    # An internal note: shown to the agent, never in the visitor's widget.
    await console.locator("#note-input").fill(NOTE)
    await console.locator("#note-form").get_by_role("button", name="Add note").click()
    await expect(console.locator("#notes-list .note")).to_have_count(1)
    await expect(console.locator("#notes-list .note")).to_contain_text(NOTE)
    await expect(console.locator("#notes-list .note")).to_contain_text("Amelie")
    await audit(console, "console, an internal note")
    await console.screenshot(path=shot_path("console-internal-note"))
    await box.fill("Which van do you have?")
    await box.press("Enter")
    # The message written after the note reached the widget: the note, had it been sent, would be there too.
    await expect(root.locator(".msg.ambassador").last).to_contain_text("Which van do you have?")
    assert "NOTE-7731" not in await root.inner_text()
    assert "NOTE-7731" not in await shop.content()
    assert not [m for m in await service.messages({"conversation_id": conversation_id,
                                                     "visitor_token": (await widget_state(shop, service))["token"]})
                if "NOTE-7731" in m["text"]]


async def test_the_shortcuts_help_traps_the_focus_closes_on_escape_and_speaks_french(
    service: BrowserService, browser: Browser
) -> None:
    await make_agent(service, "flore")
    console = await console_login(await new_context(browser, locale="fr-FR"), service, "flore", online=False)
    opener = console.locator("#shortcuts-open")
    await expect(opener).to_contain_text("Raccourcis clavier")
    await console.locator("#chat-view").focus()
    await console.keyboard.press("?")
    dialog = console.get_by_role("dialog", name="Raccourcis clavier")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Accepter la plus ancienne demande entrante")
    await expect(dialog.locator("kbd", has_text="Alt").first).to_be_visible()
    await expect(console.locator("#shortcuts-close")).to_be_focused()
    for key in ("Tab", "Shift+Tab", "Tab"):
        await console.keyboard.press(key)
        assert await dialog.evaluate("node => node.contains(document.activeElement)")
    await audit(console, "console, shortcuts help, French")
    await console.screenshot(path=shot_path("console-shortcuts-help"))
    await console.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    assert await focused_id(console) == "chat-view"  # the focus goes back where it was

    # In English, opened with its button from the keyboard.
    await console.locator("#app-view .lang-select").select_option("en")
    await opener.focus()
    await console.keyboard.press("Enter")
    dialog = console.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(dialog).to_contain_text("Accept the oldest incoming request")
    await console.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(opener).to_be_focused()


async def test_an_advisor_manages_canned_responses_an_ambassador_does_not(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "victor", role=AgentRole.ADVISOR)
    await make_agent(service, "amelie")
    ambassador = await console_login(await new_context(browser, locale="en-GB"), service, "amelie", online=False)
    advisor = await console_login(await new_context(browser, locale="en-GB"), service, "victor", online=False)
    await expect(advisor.locator("#manage-section")).to_be_visible()
    await expect(advisor.locator("#manage-section")).to_contain_text("No canned response yet.")
    form = advisor.locator("#manage-form")
    await form.get_by_label("Language").select_option("en")
    await form.get_by_label("Shortcut (after /)").fill("/hours")
    await form.get_by_label("Title").fill("Opening hours")
    await form.get_by_label("Text").fill("Our advisors answer from 9 am to 7 pm, Monday to Saturday.")
    await form.get_by_role("button", name="Add").click()
    await expect(advisor.locator("#manage-status")).to_have_text("/hours added.")
    item = advisor.locator("#manage-list .manage-item")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("/hours")
    await audit(advisor, "console, advisor managing canned responses")
    amelie = await service.token("amelie")
    _, found = await service.call("GET", "/api/canned?q=hours&language=en", token=amelie)
    assert [r["text"] for r in found["responses"]] == ["Our advisors answer from 9 am to 7 pm, Monday to Saturday."]
    await expect(ambassador.locator("#manage-section")).to_be_hidden()

    await item.get_by_role("button", name="Delete /hours (EN)").click()
    await expect(advisor.locator("#manage-status")).to_have_text("/hours deleted.")
    await expect(item).to_have_count(0)
    _, found = await service.call("GET", "/api/canned?q=hours", token=amelie)
    assert found["responses"] == []


RECORD_NOTIFICATIONS = """
window.__shown = [];
if (window.Notification) {
  window.Notification = new Proxy(window.Notification, {
    construct(target, args) { window.__shown.push({ title: args[0], body: (args[1] || {}).body }); return new target(...args); },
  });
}
"""
HIDE_THE_TAB = "() => Object.defineProperty(document, 'hidden', { configurable: true, get: () => true })"


async def test_desktop_notifications_when_the_tab_is_hidden(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "amelie")
    context = await new_context(browser, locale="en-GB")
    await context.grant_permissions(["notifications"], origin=service.url)
    await context.add_init_script(RECORD_NOTIFICATIONS)
    console = await console_login(context, service, "amelie")
    toggle = console.locator("#notify-toggle")
    await expect(toggle).to_have_text("Turn on desktop notifications")
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    await toggle.click()  # the permission is asked from this user gesture
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await expect(toggle).to_have_text("Desktop notifications: on")

    # Visible tab: no desktop notification for a new request.
    visitor = await service.start_conversation("en")
    await service.ask_human(visitor)
    await expect(console.locator(f"#offers .card[data-conversation-id='{visitor['conversation_id']}']")).to_be_visible()
    assert await console.evaluate("() => window.__shown") == []
    await console.keyboard.press("Alt+KeyA")
    await expect(console.locator("#composer-input")).to_be_focused()

    # Hidden tab: a visitor's message and a new request each give one.
    await console.evaluate(HIDE_THE_TAB)
    await service.say(visitor, "Is the F45 awning in stock?")
    await console.wait_for_function("() => window.__shown.length === 1")
    assert await console.evaluate("() => window.__shown") == [
        {"title": "New message from a visitor", "body": "Is the F45 awning in stock?"}]
    other = await service.start_conversation("fr")
    await service.ask_human(other)
    await console.wait_for_function("() => window.__shown.length === 2")
    assert (await console.evaluate("() => window.__shown[1]")) == {"title": "New request", "body": "FR · no topic"}
    # Alt+A takes it, Alt+N goes back to the first chat, and on (it cycles).
    await console.keyboard.press("Alt+KeyA")
    second_tab = console.locator(f"#chat-tabs [data-conversation-id='{other['conversation_id']}']")
    first_tab = console.locator(f"#chat-tabs [data-conversation-id='{visitor['conversation_id']}']")
    await expect(second_tab).to_have_attribute("aria-selected", "true")
    await console.keyboard.press("Alt+KeyN")
    await expect(first_tab).to_have_attribute("aria-selected", "true")
    await expect(console.locator("#composer-input")).to_be_focused()
    await console.keyboard.press("Alt+KeyN")
    await expect(second_tab).to_have_attribute("aria-selected", "true")


async def test_the_transfer_note_stays_with_the_chat_after_the_advisor_accepts(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "amelie")
    await make_agent(service, "victor", role=AgentRole.ADVISOR)
    ambassador = await console_login(await new_context(browser, locale="en-GB"), service, "amelie")
    advisor = await console_login(await new_context(browser, locale="en-GB"), service, "victor")
    visitor = await service.start_conversation("en")
    await service.ask_human(visitor, pool="ambassador")
    cid = visitor["conversation_id"]
    await expect(ambassador.locator(f"#offers .card[data-conversation-id='{cid}']")).to_be_visible()
    await ambassador.keyboard.press("Alt+KeyA")
    await expect(ambassador.locator("#composer-input")).to_be_focused()

    # Alt+T: to the transfer's target; the note, then Enter, transfers.
    await ambassador.keyboard.press("Alt+KeyT")
    await expect(ambassador.locator("#transfer-target")).to_be_focused()
    await ambassador.locator("#transfer-note").fill("Order 4411 arrived broken: refund?")
    await ambassador.locator("#transfer-note").press("Enter")
    offer = advisor.locator(f"#offers .card[data-conversation-id='{cid}']")
    await expect(offer).to_be_visible()
    await advisor.keyboard.press("Alt+KeyA")
    await expect(offer).to_be_hidden()
    note = advisor.locator("#notes-list .note.transfer")
    await expect(note).to_contain_text("Transfer note · Amelie")
    await expect(note).to_contain_text("Order 4411 arrived broken: refund?")
    await audit(advisor, "console, a transferred chat with its note")
    assert not [m for m in await service.messages(visitor) if "4411" in m["text"]]
