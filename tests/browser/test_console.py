"""The agents' console in a real browser: languages, supervision, transfer,
take-over, unread counts, and the manual-pick queue."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from handoff.config import LimitSettings, RoutingSettings
from handoff.domain import AgentRole, Pool
from handoff.services import texts
from tests.browser.a11y import audit
from tests.browser.conftest import (
    BrowserService,
    console_login,
    make_agent,
    new_context,
    open_widget,
    shot_path,
    visitor_says,
)
from tests.support.service import PASSWORD

pytestmark = pytest.mark.browser


async def visitor_asks_for(service: BrowserService, pool: str, page_url: str) -> dict[str, Any]:
    """A visitor (over the API) who asks for a person straight away."""
    visitor = await service.start_conversation("en", page_url=page_url)
    status, body = await service.call(
        "POST", f"/api/visitor/conversations/{visitor['conversation_id']}/handoff",
        token=visitor["visitor_token"], json={"pool": pool},
    )
    assert status == 200, body
    return visitor


async def visitor_writes(service: BrowserService, visitor: dict[str, Any], text: str) -> None:
    await service.say(visitor, text)


@pytest.mark.parametrize("settings_overrides", [{"limits": LimitSettings(login_per_username="2/minute")}], indirect=True)
async def test_console_says_how_long_to_wait_after_too_many_logins(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "gaby")
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(service.url + "/console")
    await page.locator("#login-username").fill("gaby")
    for _ in range(2):
        await page.locator("#login-password").fill("wrong password")
        await page.locator("#login-form button[type=submit]").click()
        await expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
        await page.locator("#login-error").evaluate("node => { node.textContent = ''; }")
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#login-error")).to_have_text(re.compile(r"^Too many attempts: try again in \d+ s\.$"))
    await audit(page, "console login, too many attempts")
    await context.close()


def card(page: Page, section: str, conversation_id: str) -> Any:
    return page.locator(f"#{section} .card[data-conversation-id='{conversation_id}']")


def tab(page: Page, conversation_id: str) -> Any:
    return page.locator(f"#chat-tabs [data-conversation-id='{conversation_id}']")


async def test_console_follows_the_browser_language_and_can_switch(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "flore")
    context = await new_context(browser, locale="fr-FR")
    page = await context.new_page()
    await page.goto(service.url + "/console")
    await expect(page.locator("#login-form button[type=submit]")).to_have_text("Se connecter")
    await audit(page, "console login, French")
    await page.locator("#login-username").fill("flore")
    await page.locator("#login-password").fill("wrong password")
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#login-error")).to_have_text("Identifiant ou mot de passe incorrect.")
    await audit(page, "console login error, French")
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#offers-title")).to_have_text("Demandes entrantes")
    await expect(page.locator("#presence")).to_contain_text("En ligne")
    await expect(page.locator("#presence input[value=offline]")).to_be_checked()
    await audit(page, "console, French, offline")

    await page.locator("#app-view .lang-select").select_option("en")
    await expect(page.locator("#offers-title")).to_have_text("Incoming")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await audit(page, "console, switched to English")
    # The token lives in sessionStorage: a reload keeps the session and the choice of language.
    await page.reload()
    await expect(page.locator("#app-view")).to_be_visible()
    await expect(page.locator("#offers-title")).to_have_text("Incoming")
    await page.locator("#logout").click()
    await expect(page.locator("#login-view")).to_be_visible()
    await context.close()


async def test_supervision_transfer_takeover_and_unread_counts(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "amelie", skills=("awning",))
    await make_agent(service, "victor", role=AgentRole.ADVISOR)
    ambassador = await console_login(await new_context(browser), service, "amelie")
    advisor = await console_login(await new_context(browser), service, "victor")
    await expect(advisor.locator("#supervision-section")).to_be_visible()
    await expect(ambassador.locator("#supervision-section")).to_be_hidden()
    await expect(advisor.locator("#team .member")).to_have_count(2)
    await audit(advisor, "console, advisor with supervision")

    first = await visitor_asks_for(service, "ambassador", "https://shop.example/en/awnings")
    first_id = first["conversation_id"]
    await card(ambassador, "offers", first_id).get_by_role("button", name="Accept").click()
    await expect(tab(ambassador, first_id)).to_be_visible()

    # The advisor supervises: the live conversation, who holds it, and a read-only view.
    live = card(advisor, "supervision", first_id)
    await expect(live).to_contain_text("held by Amelie")
    await live.get_by_role("button", name="View").click()
    await expect(advisor.locator("#chat-readonly")).to_contain_text("Supervision: read-only.")
    await expect(advisor.locator("#composer")).to_be_hidden()
    await audit(advisor, "console, supervision read-only")
    await visitor_writes(service, first, "Is the awning easy to fit?")
    await expect(advisor.locator("#chat-log .msg.visitor").last).to_have_text(re.compile("Is the awning easy to fit"))
    await expect(ambassador.locator("#chat-log .msg.visitor").last).to_have_text(re.compile("Is the awning easy to fit"))

    # The ambassador transfers to the advisors with a note; the advisor sees it in the offer.
    await ambassador.locator("#transfer-target").select_option("pool:advisor")
    await ambassador.locator("#transfer-note").fill("Asks about an order, not product advice")
    await ambassador.locator("#transfer-form button[type=submit]").click()
    await expect(tab(ambassador, first_id)).to_have_count(0)
    offer = card(advisor, "offers", first_id)
    await expect(offer).to_contain_text("Colleague's note: Asks about an order, not product advice")
    await audit(advisor, "console, transferred offer with a note")
    await offer.get_by_role("button", name="Accept").click()
    await expect(tab(advisor, first_id)).to_have_attribute("aria-selected", "true")
    await expect(advisor.locator("#composer")).to_be_visible()

    # A second chat for the ambassador; the advisor takes it over from supervision.
    second = await visitor_asks_for(service, "ambassador", "https://shop.example/en/solar")
    second_id = second["conversation_id"]
    await card(ambassador, "offers", second_id).get_by_role("button", name="Accept").click()
    await expect(tab(ambassador, second_id)).to_be_visible()
    takeover = card(advisor, "supervision", second_id)
    await expect(takeover).to_contain_text("held by Amelie")
    await takeover.get_by_role("button", name="Take over").click()
    await expect(tab(advisor, second_id)).to_have_attribute("aria-selected", "true")
    await expect(ambassador.locator("#chat-readonly")).to_contain_text("no longer yours (taken_over)")
    await audit(ambassador, "console, chat taken over")

    # Unread count on the tab that is not in front, cleared when opened.
    await visitor_writes(service, first, "Hello? My order number is 1234")
    await expect(tab(advisor, first_id).locator(".unread")).to_have_text("1")
    await expect(advisor).to_have_title(re.compile(r"^(\(1\)|●)"))
    await audit(advisor, "console, unread count")
    await advisor.screenshot(path=shot_path("console-supervision"))
    await tab(advisor, first_id).click()
    await expect(tab(advisor, first_id).locator(".unread")).to_have_count(0)
    await expect(advisor.locator("#chat-log .msg.visitor").last).to_have_text(re.compile("order number is 1234"))
    await expect(advisor.locator("#chat-page")).to_have_text("https://shop.example/en/awnings")


MANUAL = {"routing": RoutingSettings(sweep_interval_seconds=0.1, modes={Pool.AMBASSADOR: "manual", Pool.ADVISOR: "auto"})}


@pytest.mark.parametrize("settings_overrides", [MANUAL], indirect=True)
async def test_manual_mode_waiting_queue_is_claimed_from_the_console(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "gael")
    console = await console_login(await new_context(browser), service, "gael")
    visitor = await visitor_asks_for(service, "ambassador", "https://shop.example/en/bike-racks")
    entry = card(console, "queue", visitor["conversation_id"])
    await expect(entry).to_be_visible()
    await expect(entry.locator(".page")).to_contain_text("https://shop.example/en/bike-racks")
    await expect(entry.locator(".facts")).to_contain_text("waited")
    await audit(console, "console, manual-pick queue")
    await expect(console.locator("#offers .card")).to_have_count(0)
    await entry.get_by_role("button", name="Take").click()
    await expect(tab(console, visitor["conversation_id"])).to_have_attribute("aria-selected", "true")
    await expect(console.locator("#queue .card")).to_have_count(0)
    await console.locator("#composer-input").fill("Hi, I'm Gael, what bikes do you carry?")
    await console.locator("#composer-input").press("Enter")
    await expect(console.locator("#chat-log .msg.ambassador")).to_have_text(re.compile("what bikes do you carry"))
    status, body = await service.call(
        "GET", f"/api/visitor/conversations/{visitor['conversation_id']}/messages", token=visitor["visitor_token"]
    )
    assert status == 200
    assert body["conversation"]["status"] == "assigned"
    assert body["messages"][-1]["text"] == "Hi, I'm Gael, what bikes do you carry?"


@pytest.mark.parametrize("settings_overrides", [MANUAL], indirect=True)
async def test_the_queue_follows_deltas_and_take_shows_only_what_the_agent_may_take(
    service: BrowserService, browser: Browser
) -> None:
    await make_agent(service, "hugo")
    await make_agent(service, "vivi", role=AgentRole.ADVISOR)
    ambassador = await console_login(await new_context(browser), service, "hugo")
    advisor = await console_login(await new_context(browser), service, "vivi")
    first = await visitor_asks_for(service, "ambassador", "https://shop.example/en/awnings")
    second = await visitor_asks_for(service, "ambassador", "https://shop.example/en/solar")
    for page in (ambassador, advisor):
        await expect(card(page, "queue", first["conversation_id"])).to_be_visible()
        await expect(card(page, "queue", second["conversation_id"])).to_be_visible()
    # The supervisor sees the manual ambassador queue but may not claim it: no Take button.
    await expect(card(advisor, "queue", first["conversation_id"]).get_by_role("button", name="Take")).to_have_count(0)
    await card(ambassador, "queue", first["conversation_id"]).get_by_role("button", name="Take").click()
    # Taken: the entry leaves both queues, the other one stays as it was.
    for page in (ambassador, advisor):
        await expect(card(page, "queue", first["conversation_id"])).to_have_count(0)
        await expect(card(page, "queue", second["conversation_id"])).to_be_visible()
    await expect(card(ambassador, "queue", second["conversation_id"]).get_by_role("button", name="Take")).to_be_visible()


async def test_an_admin_switches_the_bot_off_from_the_console_and_the_widget_says_so(
    service: BrowserService, browser: Browser
) -> None:
    await make_agent(service, "ada", role=AgentRole.ADMIN)
    console = await console_login(await new_context(browser, locale="en-GB"), service, "ada", online=False)
    switch = console.get_by_role("switch", name="The bot answers visitors")
    await expect(switch).to_be_checked()
    await expect(console.locator("#bot-status")).to_have_text("The bot is on.")
    await switch.click()
    await expect(console.locator("#bot-status")).to_have_text(re.compile("^The bot is off"))
    await expect(switch).not_to_be_checked()
    await audit(console, "console, admin, bot switched off")
    status, body = await service.call("GET", "/api/admin/bot", token=await service.token("ada"))
    assert (status, body) == (200, {"enabled": False, "disabled_intents": []})

    shop = await (await new_context(browser, locale="fr-FR")).new_page()
    await shop.goto(service.url + "/demo/fr.html")  # a French page: the widget speaks French
    root = await open_widget(shop)
    await visitor_says(root, "quels sont les délais de livraison ?")
    await expect(root.locator(".msg.system").filter(has_text=texts.say("bot_off", "fr"))).to_be_visible()
    await expect(root.locator(".msg.bot[data-seq]")).to_have_count(0)  # the bot was not asked

    # Non-admins do not see the control.
    await make_agent(service, "amelie")
    ambassador = await console_login(await new_context(browser), service, "amelie", online=False)
    await expect(ambassador.locator("#bot-section")).to_be_hidden()
