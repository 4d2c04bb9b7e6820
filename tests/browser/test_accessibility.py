"""The widget and the console by keyboard alone, with a visible focus at every step,
in both languages and at both widths; reduced motion; text at 200 %.

axe-core also runs on every state the other browser tests visit (a11y.audit)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.browser.a11y import (
    DESKTOP,
    PHONE,
    assert_focus_visible,
    audit,
    layout_problems,
    motion_in,
)
from tests.browser.conftest import (
    BrowserService,
    advisor_transcript,
    make_agent,
    new_context,
    open_widget,
    shot_path,
    widget,
    widget_state,
)
from tests.support.service import PASSWORD, wait_for

pytestmark = pytest.mark.browser

# What each language's pages say, for the steps that look for a text.
VISITOR = {
    "en": {"page": "/demo/awning-fiamma-f45.html", "locale": "en-GB", "question": "how long does shipping take?",
           "answer": re.compile(r"deliver|shipping", re.I), "community": "Talk to the community",
           "member": "community member", "thanks": "Thank you for your feedback!"},
    "fr": {"page": "/demo/fr.html", "locale": "fr-FR", "question": "combien coûte la livraison ?",
           "answer": re.compile("livr", re.I), "community": "Parler à la communauté",
           "member": "membre de la communauté", "thanks": "Merci pour votre avis !"},
}
WIDTHS = [pytest.param("en", DESKTOP, id="en-1280"), pytest.param("fr", PHONE, id="fr-390")]


async def is_focused(target: Locator) -> bool:
    return bool(await target.evaluate("n => n === n.getRootNode().activeElement"))


async def press_until(page: Page, key: str, target: Locator, step: str, limit: int = 25) -> None:
    """Press `key` until `target` has the focus, checking a visible focus at every stop."""
    for _ in range(limit):
        await page.keyboard.press(key)
        await assert_focus_visible(page, f"{step} ({key})")
        if await is_focused(target):
            return
    raise AssertionError(f"{step}: {limit} x {key} never reached {target}")


async def focused_in_widget(page: Page) -> bool:
    return bool(await page.evaluate("() => document.activeElement && document.activeElement.id === 'relais-widget'"))


async def accept_over_api(service: BrowserService, username: str, page: Page) -> str:
    """The ambassador accepts the offer of the widget's conversation (the console's side is tested below)."""
    conversation_id = str((await widget_state(page, service))["conversationId"])
    token = await service.token(username)

    async def offered() -> bool:
        _, body = await service.call("GET", "/api/agents/me/conversations", token=token)
        return any(o["conversation_id"] == conversation_id for o in body["offers"])

    await wait_for(offered, seconds=15)
    status, body = await service.call("POST", f"/api/conversations/{conversation_id}/accept", token=token)
    assert status == 200, body
    return conversation_id


@pytest.mark.parametrize(("lang", "viewport"), WIDTHS)
async def test_a_visitor_by_keyboard_alone(service: BrowserService, browser: Browser, lang: str,
                                           viewport: dict[str, int]) -> None:
    words = VISITOR[lang]
    await make_agent(service, "amelie")
    await service.go_online("amelie")
    context = await new_context(browser, viewport=viewport, locale=words["locale"])
    page = await context.new_page()
    await page.goto(service.url + words["page"])
    root = widget(page)
    launcher = root.locator("button.launcher")
    await expect(launcher).to_be_visible()

    # The launcher is the last stop of the page: Shift+Tab from the top reaches it.
    await press_until(page, "Shift+Tab", launcher, "to the launcher")
    await page.keyboard.press("Enter")
    box = root.locator("textarea#relais-input")
    await expect(box).to_be_focused()
    await assert_focus_visible(page, "the input after opening")
    await expect(root.get_by_role("button", name=words["community"])).to_be_visible()

    if viewport == PHONE:
        # Full screen: Tab and Shift+Tab stay in the panel, round and round.
        await expect(root.locator("section.panel")).to_have_attribute("aria-modal", "true")
        for key in ("Tab", "Shift+Tab"):
            seen = set()
            for _ in range(12):
                await page.keyboard.press(key)
                assert await focused_in_widget(page), f"{key} left the full-screen panel"
                seen.add(await assert_focus_visible(page, f"cycling with {key}"))
            assert any("relais-input" in s for s in seen) and any("icon" in s for s in seen), seen
        await press_until(page, "Tab", box, "back to the input")

    await page.keyboard.type(words["question"])
    await page.keyboard.press("Enter")
    await expect(root.locator(".msg.bot[data-seq]").first).to_contain_text(words["answer"])
    await expect(box).to_be_focused()

    # Handed to a person: the button before the composer.
    talk = root.locator(".actions").get_by_role("button", name=words["community"])
    await press_until(page, "Shift+Tab", talk, "to the community button")
    await page.keyboard.press("Enter")
    await expect(root.locator(".status")).to_be_visible()
    await expect(box).to_be_focused()  # the pressed button is gone; the focus is not lost
    await assert_focus_visible(page, "the input after asking for a person")
    conversation_id = await accept_over_api(service, "amelie", page)
    await expect(root.locator("header .subtitle")).to_contain_text(words["member"])
    await audit(page, f"widget by keyboard, {lang}, a person answers")
    await page.keyboard.type("Merci !" if lang == "fr" else "Thanks!")
    await page.keyboard.press("Enter")
    await expect(root.locator(".msg.visitor[data-seq]")).to_have_count(2)

    # The ambassador closes: the visitor rates by keyboard (arrows in the stars, Tab, Enter).
    status, body = await service.call("POST", f"/api/conversations/{conversation_id}/close",
                                      token=await service.token("amelie"), json={"outcome": "resolved"})
    assert status == 200, body
    rating = root.locator("form[data-kind=rating]")
    await expect(rating).to_be_visible()
    await audit(page, f"widget by keyboard, {lang}, rating")
    await press_until(page, "Shift+Tab", rating.locator("input[value='5']"), "to the stars")  # the group's last
    await page.keyboard.press("ArrowLeft")
    await expect(rating.locator("input[value='4']")).to_be_checked()
    await expect(rating.locator("input[value='4']")).to_be_focused()
    await assert_focus_visible(page, "four stars")
    await page.keyboard.press("Tab")
    await expect(rating.locator("textarea[name=comment]")).to_be_focused()
    await page.keyboard.type("Clair et rapide" if lang == "fr" else "Clear and quick")
    await page.keyboard.press("Tab")
    await assert_focus_visible(page, "the rating's send button")
    await page.keyboard.press("Enter")
    await expect(root.get_by_text(words["thanks"])).to_be_visible()
    await expect(box).to_be_focused()

    # Escape closes and gives the focus back to the launcher.
    await page.keyboard.press("Escape")
    await expect(root.locator("section.panel")).to_be_hidden()
    await expect(launcher).to_be_focused()
    await assert_focus_visible(page, "the launcher after closing")

    stored = (await advisor_transcript(service, conversation_id))["conversation"]
    assert (stored["rating"], stored["rating_comment"]) == (4, "Clair et rapide" if lang == "fr" else "Clear and quick")
    await context.close()


CONSOLE = {
    "en": {"locale": "en-GB", "reply": "Hello, Amelie here. Let me help you.", "note": "Order question"},
    "fr": {"locale": "fr-FR", "reply": "Bonjour, c'est Amelie. Je vous aide.", "note": "Question de commande"},
}

# Long enough questions that the offer's preview of the bot conversation has to scroll.
BOT_QUESTIONS = [
    "Hello, I would like to know how long shipping takes for a large parcel such as an awning to the south of France?",
    "And what payment methods do you accept for orders over five hundred euros, can I pay in several instalments?",
    "Can I return an item if it does not fit my van, and who pays for the return shipping in that case?",
    "Do you also ship to Belgium and Switzerland, and are there customs fees to pay on delivery there?",
]


async def visitor_asks(service: BrowserService, *, chat_first: bool) -> dict[str, Any]:
    visitor = await service.start_conversation("en", page_url="https://shop.example/en/awnings")
    if chat_first:
        for question in BOT_QUESTIONS:
            await service.say(visitor, question)
    status, body = await service.call(
        "POST", f"/api/visitor/conversations/{visitor['conversation_id']}/handoff",
        token=visitor["visitor_token"], json={"pool": "ambassador"},
    )
    assert status == 200, body
    return visitor


async def conversation_as_visitor(service: BrowserService, visitor: dict[str, Any]) -> dict[str, Any]:
    status, body = await service.call(
        "GET", f"/api/visitor/conversations/{visitor['conversation_id']}/messages", token=visitor["visitor_token"]
    )
    assert status == 200, body
    return dict(body)


@pytest.mark.parametrize(("lang", "viewport"), WIDTHS)
async def test_an_agent_by_keyboard_alone(service: BrowserService, browser: Browser, lang: str,
                                          viewport: dict[str, int]) -> None:
    words = CONSOLE[lang]
    await make_agent(service, "amelie")
    context = await new_context(browser, viewport=viewport, locale=words["locale"])
    page = await context.new_page()
    await page.goto(service.url + "/console")

    # Log in: the username has the focus, Tab to the password, Enter.
    await expect(page.locator("#login-username")).to_be_focused()
    await audit(page, f"console login, {lang}")
    await assert_focus_visible(page, "the username")
    await page.keyboard.type("amelie")
    await page.keyboard.press("Tab")
    await assert_focus_visible(page, "the password")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.locator("#app-view")).to_be_visible()

    # Go online: the presence switch has the focus; arrows move it (Offline -> Away -> Online).
    await expect(page.locator("#presence input[value=offline]")).to_be_focused()
    await assert_focus_visible(page, "the presence switch on Offline")
    token = await service.token("amelie")
    for presence in ("away", "online"):
        await page.keyboard.press("ArrowLeft")
        await expect(page.locator(f"#presence input[value={presence}]")).to_be_checked()
        await assert_focus_visible(page, f"the presence switch on {presence}")

        async def is_now(presence: str = presence) -> bool:
            _, body = await service.call("GET", "/api/agents/me", token=token)
            return bool(body["presence"] == presence)

        await wait_for(is_now)
        await audit(page, f"console by keyboard, {lang}, {presence}")

    # An offer: Tab to its bot transcript and scroll it with the keyboard.
    first = await visitor_asks(service, chat_first=True)
    card = page.locator(f"#offers .card[data-conversation-id='{first['conversation_id']}']")
    await expect(card).to_be_visible()
    await audit(page, f"console by keyboard, {lang}, offer")
    preview = card.locator(".preview")
    await press_until(page, "Tab", preview, "to the offer's preview")
    sizes = await preview.evaluate("n => [n.scrollTop, n.scrollHeight, n.clientHeight]")
    assert sizes[1] > sizes[2] and sizes[0] > 0, f"the preview should scroll and show its end first: {sizes}"
    await page.keyboard.press("Home")

    async def at_the_top() -> bool:
        return bool(await preview.evaluate("n => n.scrollTop === 0"))

    await wait_for(at_the_top)
    await expect(preview).to_be_focused()
    # Another request arrives meanwhile: the list is redrawn, the reader keeps its place.
    second = await visitor_asks(service, chat_first=False)
    await expect(page.locator(f"#offers .card[data-conversation-id='{second['conversation_id']}']")).to_be_visible()
    await expect(preview).to_be_focused()
    assert await preview.evaluate("n => n.scrollTop") == 0

    # Accept: the composer gets the focus; reply with Enter.
    await press_until(page, "Tab", card.locator("button.accept"), "to Accept")
    await page.keyboard.press("Enter")
    composer = page.locator("#composer-input")
    await expect(composer).to_be_focused()
    await assert_focus_visible(page, "the composer after accepting")
    await audit(page, f"console by keyboard, {lang}, chat")
    await page.keyboard.type(words["reply"])
    await page.keyboard.press("Enter")
    await expect(page.locator("#chat-log .msg.ambassador")).to_have_text(re.compile(re.escape(words["reply"])))
    assert (await conversation_as_visitor(service, first))["messages"][-1]["text"] == words["reply"]

    # Transfer to the advisors with a note, by keyboard.
    await press_until(page, "Tab", page.locator("#transfer-target"), "to the transfer target")
    await expect(page.locator("#transfer-target")).to_have_value("pool:advisor")
    await page.keyboard.press("Tab")
    await page.keyboard.type(words["note"])
    await press_until(page, "Tab", page.locator("#transfer-form button[type=submit]"), "to Transfer")
    await page.keyboard.press("Enter")
    await expect(page.locator(f"#chat-tabs [data-conversation-id='{first['conversation_id']}']")).to_have_count(0)
    await assert_focus_visible(page, "after the transfer")
    conversation = (await conversation_as_visitor(service, first))["conversation"]
    assert conversation["status"] == "waiting" and conversation["pool"] == "advisor"

    # The second request: accept, reply, close with an outcome, all by keyboard.
    card = page.locator(f"#offers .card[data-conversation-id='{second['conversation_id']}']")
    await expect(card).to_be_visible()
    await press_until(page, "Shift+Tab", card.locator("button.accept"), "back to the new offer's Accept")
    await page.keyboard.press("Enter")
    await expect(composer).to_be_focused()
    await page.keyboard.type(words["reply"])
    await page.keyboard.press("Enter")
    await expect(page.locator("#chat-log .msg.ambassador")).to_have_count(1)
    await press_until(page, "Tab", page.locator("#close-outcome"), "to the outcome")
    await page.keyboard.press("ArrowDown")  # resolved -> sale
    await expect(page.locator("#close-outcome")).to_have_value("sale")
    await press_until(page, "Tab", page.locator("#close-form button[type=submit]"), "to Close")
    await page.keyboard.press("Enter")
    await expect(page.locator("#chat-tabs .tab")).to_have_count(0)
    await assert_focus_visible(page, "after closing")
    conversation = (await conversation_as_visitor(service, second))["conversation"]
    assert conversation["outcome"] == "sale" and conversation["status"] == "bot"  # closed: the bot takes over again
    await context.close()


# --- motion and text size -----------------------------------------------------------------


async def test_reduced_motion_stops_every_animation(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "amelie")
    for preference, expected_moving in (("no-preference", True), ("reduce", False)):
        context = await new_context(browser, reduced_motion=preference)
        page = await context.new_page()
        await page.goto(service.url + "/")
        await open_widget(page)
        moving = await motion_in(page)
        # Without the preference the panel pops in (so the check does see motion)...
        assert bool(moving) is expected_moving, (preference, moving)
        # ... with it, nothing moves in the widget nor in the console.
        if not expected_moving:
            console = await context.new_page()
            await console.goto(service.url + "/console")
            await console.locator("#login-username").fill("amelie")
            await console.locator("#login-password").fill(PASSWORD)
            await console.locator("#login-password").press("Enter")
            await expect(console.locator("#app-view")).to_be_visible()
            assert await motion_in(console) == []
        await context.close()


async def with_large_text(page: Page) -> Page:
    """The user's default font size at 32 px (200 %), set the way a browser setting sets it
    (Chromium's Page.setFontSizes): rem, em and em media queries all follow it."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Page.enable")
    await cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 32, "fixed": 26}})
    return page


@pytest.mark.parametrize("viewport", [pytest.param(DESKTOP, id="1280"), pytest.param(PHONE, id="390")])
async def test_text_at_200_percent_is_neither_clipped_nor_overlapping(
    service: BrowserService, browser: Browser, viewport: dict[str, int]
) -> None:
    await make_agent(service, "amelie")
    await service.go_online("amelie")
    context = await new_context(browser, viewport=viewport)
    page = await with_large_text(await context.new_page())
    await page.goto(service.url + "/demo/fr.html")
    root = await open_widget(page)
    box = root.locator("textarea#relais-input")
    await expect(box).to_have_css("font-size", "30px")  # 15 px at the default 16 px
    await box.fill("Bonjour, avez-vous le store F45 en 4 mètres pour un fourgon ?")
    controls = [".compose textarea", ".compose button", "header .icon", ".actions .chip"]
    assert await layout_problems(page, "widget", controls) == []
    await page.screenshot(path=shot_path(f"widget-text-200-{viewport['width']}"))

    console = await with_large_text(await context.new_page())
    await console.goto(service.url + "/console")
    await console.locator("#login-username").fill("amelie")
    await console.locator("#login-password").fill(PASSWORD)
    await console.locator("#login-password").press("Enter")
    await expect(console.locator("#app-view")).to_be_visible()
    await expect(console.locator("body")).to_have_css("font-size", "30px")
    visitor = await visitor_asks(service, chat_first=False)
    await console.locator(f"#offers .card[data-conversation-id='{visitor['conversation_id']}'] button.accept").click()
    await expect(console.locator("#composer-input")).to_be_focused()
    await expect(console.locator("#chat-log .msg").last).to_be_visible()
    await console.locator("#composer-input").fill("Bonjour, je regarde votre question tout de suite.")
    assert await layout_problems(console, "page", ["#composer-input", "#composer button[type=submit]"]) == []
    assert await layout_problems(console, "page", ["#presence", "#logout"]) == []
    # The transcript keeps room for a whole message (it is not squeezed by the larger tools).
    room = await console.locator("#chat-log").evaluate(
        "n => [n.clientHeight, n.lastElementChild.getBoundingClientRect().height]")
    assert room[0] >= room[1] > 0, room
    await console.screenshot(path=shot_path(f"console-text-200-{viewport['width']}"))
    await context.close()
