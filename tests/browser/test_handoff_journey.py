"""The whole journey in a real browser: the widget on the demo shop, the real bot,
an ambassador in the console in a second browser context."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.browser.a11y import audit
from tests.browser.conftest import (
    BrowserService,
    advisor_transcript,
    console_login,
    make_agent,
    new_context,
    open_widget,
    shot_path,
    visitor_says,
    widget_state,
)

pytestmark = pytest.mark.browser


async def test_bot_answers_then_an_ambassador_takes_over_and_the_visitor_rates(
    service: BrowserService, browser: Browser
) -> None:
    await make_agent(service, "amelie", skills=("awning",))

    # The ambassador logs into the console and goes online BEFORE the escalation.
    agent_context = await new_context(browser, locale="en-GB")
    console = await console_login(agent_context, service, "amelie")
    await expect(console.locator("#team .member").filter(has_text="Amelie")).to_be_visible()
    await audit(console, "console, online")

    # The visitor browses a product page and opens the widget.
    visitor_context = await new_context(browser, locale="en-GB")
    shop = await visitor_context.new_page()
    product_url = service.url + "/demo/awning-fiamma-f45.html"
    await shop.goto(product_url)
    await audit(shop, "product page, widget closed")
    root = await open_widget(shop)
    await expect(root.locator("header .subtitle")).to_have_text("Virtual assistant")
    # Enough ambassadors are online: the community is offered.
    await expect(root.get_by_role("button", name="Talk to the community")).to_be_visible()
    await audit(shop, "widget open")

    # A routine question: the bot answers, with a clickable link built safely.
    await visitor_says(root, "how long does shipping take?")
    bot_answer = root.locator(".msg.bot[data-seq]").first
    await expect(bot_answer).to_contain_text(re.compile(r"deliver|shipping", re.I))
    link = bot_answer.locator("a").first
    await expect(link).to_have_attribute("href", re.compile(r"^https://shop\.example/"))
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", re.compile("noopener"))
    await expect(root.locator(".msg.bot[data-seq] time").first).to_have_text(re.compile(r"\d\d:\d\d"))
    await audit(shop, "widget, bot answer with a link")

    # Product advice: the bot escalates to the community.
    await visitor_says(root, "I need advice on which awning to choose for my van")
    await expect(root.locator(".msg.system", has_text="number 1 in line")).to_be_visible()
    await expect(root.locator(".status")).to_have_text("You are number 1 in line.")
    await expect(root.locator("header .subtitle")).to_have_text("Finding someone for you…")
    await audit(shop, "widget, waiting in line")
    conversation_id = (await widget_state(shop, service))["conversationId"]

    # The console gets the offer with its context, before accepting.
    offer = console.locator(f"#offers .card[data-conversation-id='{conversation_id}']")
    await expect(offer).to_be_visible()
    await expect(offer.locator(".countdown")).to_have_text(re.compile(r"\d+ s to accept"))
    await expect(offer.locator(".facts")).to_contain_text("Language: English")
    await expect(offer.locator(".facts")).to_contain_text("Topic: Awnings")
    await expect(offer.locator(".question")).to_contain_text("which awning to choose")
    await expect(offer.locator(".facts")).to_contain_text("waited")
    await expect(offer.locator(".page")).to_contain_text(product_url)
    preview = offer.locator(".preview")
    await expect(preview).to_contain_text("how long does shipping take?")
    await expect(preview).to_contain_text(re.compile(r"Bot: .*(deliver|shipping)", re.I))
    await expect(preview).to_contain_text("which awning to choose")
    await audit(console, "console, offer")
    await console.screenshot(path=shot_path("console-offer"))

    await offer.get_by_role("button", name="Accept").click()
    tab = console.locator(f"#chat-tabs [data-conversation-id='{conversation_id}']")
    await expect(tab).to_have_attribute("aria-selected", "true")
    log = console.locator("#chat-log")
    await expect(log.locator(".msg.bot").first).to_be_visible()  # the bot part of the transcript
    await expect(log.locator(".msg.visitor").first).to_have_text(re.compile("how long does shipping take"))
    await expect(console.locator("#chat-page")).to_have_text(product_url)
    await audit(console, "console, chat")

    # The visitor sees who answers, with the community disclosure.
    await expect(root.locator("header .subtitle")).to_have_text("\u2068Amelie\u2069 · community member")
    await expect(root.locator(".notice")).to_contain_text("not employees of Évasion Van")
    await expect(root.locator(".status")).to_be_hidden()
    await audit(shop, "widget, a community member answers")

    # Typing indicators both ways.
    await console.locator("#composer-input").press_sequentially("Hel")
    await expect(root.locator(".typing")).to_have_text("\u2068Amelie\u2069 is typing…")
    await console.locator("#composer-input").fill("")
    await root.locator("textarea#relais-input").press_sequentially("Gr")
    await expect(console.locator("#chat-typing")).to_have_text("The visitor is typing…")
    await root.locator("textarea#relais-input").fill("")

    # Messages both ways.
    await console.locator("#composer-input").fill("Hello! For a 6 m van the F45s 3.5 m is right: https://shop.example/f45s")
    await console.locator("#composer-input").press("Enter")
    agent_msg = root.locator(".msg.ambassador").last
    await expect(agent_msg).to_contain_text("For a 6 m van the F45s 3.5 m is right")
    await expect(agent_msg.locator(".author")).to_have_text("\u2068Amelie\u2069 · community member")
    await expect(agent_msg.locator("a")).to_have_attribute("href", "https://shop.example/f45s")
    await expect(root.locator(".typing")).to_be_hidden()

    await visitor_says(root, "Great, is it easy to fit alone?")
    await expect(log.locator(".msg.visitor").last).to_contain_text("Great, is it easy to fit alone?")
    await console.locator("#composer-input").fill("Yes, with two people it takes about two hours.")
    await console.locator("#composer-input").press("Enter")
    await expect(root.locator(".msg.ambassador").last).to_contain_text("about two hours")

    # The visitor looks at another tab of the page: the console follows live.
    await shop.evaluate("() => { location.hash = 'reviews'; }")
    await expect(console.locator("#chat-page")).to_have_text(product_url + "#reviews")

    await audit(shop, "widget, conversation")
    await audit(console, "console, conversation")
    await shop.screenshot(path=shot_path("widget"))
    await console.screenshot(path=shot_path("console"))

    # The ambassador closes with an outcome; the visitor rates the chat.
    await console.locator("#close-outcome").select_option("sale")
    await console.locator("#close-form button[type=submit]").click()
    await expect(tab).to_have_count(0)
    rating = root.locator("form[data-kind=rating]")
    await expect(rating).to_be_visible()
    await expect(root.locator("header .subtitle")).to_have_text("Virtual assistant")
    await audit(shop, "widget, rating")
    await rating.locator("label[for=relais-star-4]").click()
    await rating.locator("textarea[name=comment]").fill("Very helpful, thanks Amelie")
    await rating.get_by_role("button", name="Send my rating").click()
    await expect(root.get_by_text("Thank you for your feedback!")).to_be_visible()
    await audit(shop, "widget, rated")
    await shop.screenshot(path=shot_path("widget-rated"))

    # The store has everything, in order.
    transcript = await advisor_transcript(service, conversation_id)
    conversation = transcript["conversation"]
    assert conversation["rating"] == 4
    assert conversation["rating_comment"] == "Very helpful, thanks Amelie"
    assert conversation["outcome"] == "sale"
    messages = transcript["messages"]
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    turns = [(m["sender_kind"], (m["data"] or {}).get("event")) for m in messages]
    kinds = [kind for kind, _ in turns]
    assert kinds[0] == "visitor" and kinds[1] == "bot"
    assert ("system", "queued") in turns and ("system", "assigned") in turns
    assert turns.index(("system", "queued")) < turns.index(("system", "assigned"))
    assert turns[-1] == ("system", "closed")
    texts = [m["text"] for m in messages]
    order = [
        "how long does shipping take?",
        "I need advice on which awning to choose for my van",
        "Hello! For a 6 m van the F45s 3.5 m is right: https://shop.example/f45s",
        "Great, is it easy to fit alone?",
        "Yes, with two people it takes about two hours.",
    ]
    assert [texts.index(text) for text in order] == sorted(texts.index(text) for text in order)
    assert all(m["sender_kind"] == "ambassador" for m in messages if m["text"].startswith(("Hello! For", "Yes, with")))
    await visitor_context.close()
    await agent_context.close()
