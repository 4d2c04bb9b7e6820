"""The review page (/console/review, docs/maintainers.md) in a real Chromium: an admin
reaches it from the console, labels a group of near-duplicates, marks a
product_category span in another, opens a conversation, and reads the weekly
containment; others are turned away and do not see the link.

The review does not need the bot: this module's `service` has none (the transcripts
are written straight into the store by tests/support/review_seed.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from handoff.app import create_app
from handoff.config import RoutingSettings, Settings
from handoff.domain import AgentRole
from tests.browser.a11y import audit
from tests.browser.conftest import BrowserService, console_login, make_agent, new_context, shot_path
from tests.support.review_seed import Seeder, ago
from tests.support.service import UNREACHABLE_BOT

pytestmark = pytest.mark.browser


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[BrowserService]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'relais.db'}", backend="memory",
                        rasa_url=UNREACHABLE_BOT, routing=RoutingSettings(sweep_interval_seconds=0.1))
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield BrowserService(url=str(server.make_url("")).rstrip("/"), settings=settings, http=http)
    await server.close()


async def seed(service: BrowserService) -> dict[str, tuple[str, int]]:
    ids: dict[str, tuple[str, int]] = {}
    async with Seeder(service.settings.database_url) as seeder:
        for index, text in enumerate(("do you sell gift cards", "Do you sell gift cards?", "do u sell gift cards")):
            cid = await seeder.conversation("en", at=ago(hours=30 - index))
            ids[f"gift{index}"] = (cid, await seeder.turn(cid, text, at=ago(hours=30 - index), intent="nlu_fallback",
                                                         confidence=0.25))
        cid = await seeder.conversation("en", at=ago(hours=2))
        await seeder.turn(cid, "hello", at=ago(hours=2), intent="greet")
        ids["awning"] = (cid, await seeder.turn(cid, "is the inflatable awning in stock", at=ago(hours=1),
                                                intent="ask_stock", confidence=0.41))
    return ids


async def test_an_admin_labels_groups_on_the_review_page(service: BrowserService, browser: Browser) -> None:
    ids = await seed(service)
    await make_agent(service, "ada", role=AgentRole.ADMIN)
    context = await new_context(browser)
    console = await console_login(context, service, "ada", online=False)
    link = console.locator("#review-link")
    await expect(link).to_be_visible()
    await link.click()
    page = console
    await expect(page).to_have_url(service.url + "/console/review")

    rows = page.locator("#review-groups tbody tr[data-group]")
    await expect(rows).to_have_count(2)
    gift = rows.nth(0)
    await expect(gift.locator(".review-count")).to_have_text("3")
    await expect(gift.locator("q")).to_have_text("do u sell gift cards")  # the newest phrasing
    await expect(rows.nth(1).locator("q")).to_have_text("is the inflatable awning in stock")
    await expect(page.locator("#review-stats tbody tr[data-intent=nlu_fallback] td").nth(2)).to_have_text("3")

    # filters: no French message in the period
    await page.locator("#filter-language").select_option("fr")
    await page.get_by_role("button", name="Apply").click()
    await expect(rows).to_have_count(0)
    await expect(page.locator("#review-empty")).to_be_visible()
    await page.locator("#filter-language").select_option("")
    await page.get_by_role("button", name="Apply").click()
    await expect(rows).to_have_count(2)

    # the conversation, one click away, its message marked
    await rows.nth(1).get_by_role("button", name="Conversation").click()
    await expect(page.locator("#transcript")).to_be_visible()
    here = page.locator("#transcript-log li.review-here")
    await expect(here).to_contain_text("is the inflatable awning in stock")
    await expect(page.locator("#transcript-log li")).to_have_count(4)

    await audit(page, "review page, a conversation open")

    # label the gift cards: a known intent, no product
    await gift.get_by_role("button", name="Label").click()
    form = page.locator("form.label-form")
    await expect(form).to_be_visible()
    await form.locator("#label-intent").select_option("ask_payment")
    await page.screenshot(path=shot_path("review-page-label"))
    await audit(page, "review page, labelling")
    await form.get_by_role("button", name="Save").click()
    await expect(page.locator("#review-status")).to_contain_text("Labelled: do u sell gift cards")
    await expect(rows).to_have_count(1)

    # the awning: confirmed, its product marked (a word not in the message is refused first)
    await rows.nth(0).get_by_role("button", name="Label").click()
    await expect(form.locator("#label-intent")).to_have_value("ask_stock")  # the bot's reading, proposed
    await form.locator("#label-words").fill("roof box")
    await form.get_by_role("button", name="Save").click()
    await expect(form.locator(".error")).to_have_text("Each word must appear in the message.")
    await form.locator("#label-words").fill("inflatable awning")
    await form.get_by_role("button", name="Save").click()
    await expect(rows).to_have_count(0)
    await expect(page.locator("#review-empty")).to_be_visible()

    _, body = await service.call("GET", "/api/admin/review/labels", token=await service.token("ada"))
    labels = {(item["conversation_id"], item["seq"]): item for item in body["labels"]}
    gift_label = labels[ids["gift2"]]
    assert gift_label["intent"] == "ask_payment" and gift_label["entities"] == []
    assert sorted(map(tuple, gift_label["members"])) == sorted([ids["gift0"], ids["gift1"], ids["gift2"]])
    awning = labels[ids["awning"]]
    assert (awning["intent"], awning["entities"]) == ("ask_stock", [{"start": 7, "end": 24}])

    # a reload lists nothing more: the labels are kept
    await page.reload()
    await expect(page.locator("#review-empty")).to_be_visible()

    # the link `relais review` prints opens the conversation
    await page.goto(f"{service.url}/console/review?conversation={ids['awning'][0]}")
    await expect(page.locator("#transcript-log li")).to_have_count(4)
    await expect(page.locator("#transcript")).to_be_visible()
    await context.close()


async def test_not_for_agents_who_are_not_admins(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "amy", role=AgentRole.ADVISOR)
    context = await new_context(browser)
    console = await console_login(context, service, "amy", online=False)
    await expect(console.locator("#review-link")).to_be_hidden()
    await console.goto(service.url + "/console/review")
    await expect(console.locator("#review-denied")).to_have_text("This page is for admins. Back to the console")
    await expect(console.locator("#review-app")).to_be_hidden()
    await context.close()


async def test_the_agent_flags_a_visitor_message_from_the_console(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "ada", role=AgentRole.ADMIN)
    await make_agent(service, "amelie")
    console = await console_login(await new_context(browser), service, "amelie")
    visitor = await service.start_conversation("en", page_url="https://shop.example/en/gifts")
    cid = visitor["conversation_id"]
    status, body = await service.call("POST", f"/api/visitor/conversations/{cid}/handoff",
                                      token=visitor["visitor_token"], json={"pool": "ambassador"})
    assert status == 200, body
    await console.locator(f"#offers .card[data-conversation-id='{cid}']").get_by_role("button", name="Accept").click()
    await service.say(visitor, "do you sell gift cards for a birthday?")
    message = console.locator("#chat-log .msg.visitor").last
    await expect(message).to_contain_text("gift cards for a birthday")
    flag = message.get_by_role("button", name="The bot should have answered this")
    await flag.click()
    await expect(message.get_by_role("button", name="Flagged for the bot's maintainers")).to_be_disabled()

    status, body = await service.call("GET", "/api/admin/review", token=await service.token("ada"))
    assert status == 200, body
    assert [(g["conversation_id"], g["text"], g["reasons"]) for g in body["groups"]] == [
        (cid, "do you sell gift cards for a birthday?", {"flagged": 1})]
