"""The console's desk in a real browser, with the real service and the real bot: the offer
card leads with the visitor's question, the visitor panel follows the pages seen live and
shows the visitor leaving and coming back, the agent sees the rating, and the advisor's
live list follows a close at once (pushed, not polled) with compact, filterable rows.

Screenshots of these views go to reports/screenshots/ and docs/img/."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from handoff.domain import AgentRole
from tests.browser.a11y import audit
from tests.browser.conftest import BrowserService, console_login, make_agent, new_context, shot_path
from tests.support.service import visitor_socket

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
QUESTION = "Which awning fits a 2019 Renault Trafic with roof bars?"


def shoot_to_docs(name: str) -> None:
    """Keep a copy of a screenshot of reports/screenshots/ in docs/img/ (the docs show it)."""
    shutil.copyfile(shot_path(name), DOCS_IMG / f"{name}.png")


async def visitor_asks(service: BrowserService, text: str, page_url: str, language: str = "en") -> dict[str, Any]:
    """A visitor (over the API) who asks the bot something, then asks for the community."""
    visitor = await service.start_conversation(language, page_url=page_url)
    await service.say(visitor, text)
    status, body = await service.call(
        "POST", f"/api/visitor/conversations/{visitor['conversation_id']}/handoff",
        token=visitor["visitor_token"], json={"pool": "ambassador"},
    )
    assert status == 200, body
    return visitor


def card(page: Page, section: str, conversation_id: str) -> Any:
    return page.locator(f"#{section} .card[data-conversation-id='{conversation_id}']")


async def test_the_offer_card_the_visitor_panel_and_the_rating(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "ines", skills=("awning",))
    context = await new_context(browser)
    console = await console_login(context, service, "ines")
    visitor = await visitor_asks(service, QUESTION, "https://shop.example/en/awnings")
    cid = visitor["conversation_id"]

    # The offer leads with the visitor's own question, in view, then the facts in words.
    offer = card(console, "offers", cid)
    question = offer.locator(".question")
    await expect(question).to_contain_text(QUESTION)
    await expect(question).to_be_in_viewport()
    await expect(offer.locator(".facts")).to_contain_text("Language: English")
    await expect(offer.locator(".facts")).to_contain_text("waited")
    await expect(offer.locator(".page")).to_contain_text("https://shop.example/en/awnings")
    text = await offer.inner_text()
    for label in ("reason:", "note:", "ask_product_advice", "request_human"):
        assert label not in text, f"internal label {label!r} on the offer card: {text}"
    box = await question.bounding_box()
    preview_box = await offer.locator(".preview").bounding_box()
    assert box and preview_box and box["y"] < preview_box["y"], "the question comes before the bot transcript"
    await audit(console, "console desk, offer card")
    await console.screenshot(path=shot_path("console-offer-card"))
    shoot_to_docs("console-offer-card")

    # Accepted: the visitor panel beside the chat, the same short id in the header and the tab.
    await offer.locator("button.accept").click()
    panel = console.locator("#visitor-panel")
    await expect(panel).to_be_visible()
    await expect(panel.locator(".pages li")).to_have_count(1)
    await expect(panel.locator(".visitor-facts")).to_contain_text("English")
    short = str(await panel.locator("#visitor-panel-title").text_content()).split()[-1]
    await expect(console.locator("#chat-title")).to_contain_text(short)
    await expect(console.locator(f"#chat-tabs [data-conversation-id='{cid}'] .tab-id")).to_have_text(short)

    # A page seen by the visitor is pushed to the panel.
    status, _ = await service.call(
        "POST", f"/api/visitor/conversations/{cid}/page", token=visitor["visitor_token"],
        json={"page_url": "https://shop.example/en/awnings/f45s"},
    )
    assert status == 200
    await expect(panel.locator(".pages li")).to_have_count(2)
    await expect(panel.locator(".pages li").last).to_contain_text("https://shop.example/en/awnings/f45s")

    # The visitor's widget goes away and comes back: said in the chat.
    widget = await visitor_socket(service, visitor)
    await widget.close()
    await expect(console.locator("#chat-log .notice.presence").last).to_have_text(re.compile("The visitor left the site"))
    await expect(panel.locator(".visitor-presence")).to_have_text("Has left the site")
    widget = await visitor_socket(service, visitor)
    await expect(console.locator("#chat-log .notice.presence").last).to_have_text(re.compile("The visitor came back"))
    await expect(panel.locator(".visitor-presence")).to_have_text("On the site now")
    await audit(console, "console desk, chat with the visitor panel")
    await console.screenshot(path=shot_path("console-visitor-panel"))
    shoot_to_docs("console-visitor-panel")

    # Closed, then rated by the visitor: the rating and comment reach the console.
    await console.locator("#close-form button[type=submit]").click()
    await expect(console.locator(f"#chat-tabs [data-conversation-id='{cid}']")).to_have_count(0)
    status, _ = await service.call(
        "POST", f"/api/visitor/conversations/{cid}/rating", token=visitor["visitor_token"],
        json={"rating": 4, "comment": "Clear advice, thanks"},
    )
    assert status == 200
    rating = console.locator(f"#ratings .rating-item[data-conversation-id='{cid}']")
    await expect(rating).to_contain_text("4/5")
    await expect(rating).to_contain_text("Clear advice, thanks")
    await expect(rating).to_contain_text(short)
    await widget.close()
    await context.close()


async def test_the_live_list_follows_a_close_at_once_and_filters(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "jules")
    await make_agent(service, "vera", role=AgentRole.ADVISOR)
    jules = await service.token("jules")
    status, _ = await service.call("POST", "/api/agents/me/presence", token=jules, json={"status": "online"})
    assert status == 200
    context = await new_context(browser, viewport={"width": 1280, "height": 1100})  # room for the whole side bar
    advisor = await console_login(context, service, "vera", online=False)

    # Several visitors wait (one is offered to jules, who takes it); French and English.
    visitors = []
    for i, (language, page) in enumerate([("en", "awnings"), ("fr", "chauffage"), ("en", "solar"), ("fr", "velos"),
                                          ("en", "fridges")]):
        visitors.append(await visitor_asks(
            service, f"Question {i}: do you have this in stock?" if language == "en" else f"Question {i} : est-ce en stock ?",
            f"https://shop.example/{language}/{page}", language))
    first = visitors[0]["conversation_id"]
    await service.await_offer(jules, first)
    status, _ = await service.call("POST", f"/api/conversations/{first}/accept", token=jules)
    assert status == 200

    live = card(advisor, "supervision", first)
    await expect(live).to_contain_text("in progress")
    await expect(advisor.locator("#supervision .card")).to_have_count(len(visitors))
    # Compact rows expand.
    await expect(live.locator(".page")).to_have_count(0)
    await live.locator("button.expand").click()
    await expect(live.locator(".page")).to_contain_text("https://shop.example/en/awnings")
    await expect(live.locator("button.expand")).to_have_attribute("aria-expanded", "true")
    # Filters: language, status.
    await advisor.locator("#live-filters select.filter-language").select_option("fr")
    await expect(advisor.locator("#supervision .card")).to_have_count(2)
    await advisor.locator("#live-filters select.filter-language").select_option("")
    await advisor.locator("#live-filters select.filter-status").select_option("assigned")
    await expect(advisor.locator("#supervision .card")).to_have_count(1)
    await advisor.locator("#live-filters select.filter-status").select_option("")
    await expect(advisor.locator("#supervision .card")).to_have_count(len(visitors))
    # The waiting queue: compact rows with the visitor's question.
    queued = card(advisor, "queue", visitors[1]["conversation_id"])
    await expect(queued.locator(".question")).to_contain_text("Question 1")
    await audit(advisor, "console desk, supervision")
    await advisor.screenshot(path=shot_path("console-live-list"))
    shoot_to_docs("console-live-list")

    # jules closes: the row leaves the advisor's list on the pushed event, with no re-read of the list.
    reads: list[str] = []
    advisor.on("request", lambda request: reads.append(request.url) if "/api/conversations?" in request.url else None)
    status, _ = await service.call("POST", f"/api/conversations/{first}/close", token=jules, json={"outcome": "resolved"})
    assert status == 200
    await expect(live).to_have_count(0)
    await expect(advisor.locator("#supervision .card")).to_have_count(len(visitors) - 1)
    assert reads == [], f"the live list was re-read instead of pushed: {reads}"
    await context.close()
