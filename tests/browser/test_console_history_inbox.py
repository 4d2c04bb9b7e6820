"""The console's history and offline-messages pages in a real browser (issue 13): the
history search finds a closed conversation and opens its transcript read-only; an
offline message answered from the inbox reaches the SMTP sink (aiosmtpd) and the
visitor's conversation."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect

from handoff.domain import AgentRole
from tests.browser.a11y import audit
from tests.browser.conftest import BrowserService, console_login, make_agent, new_context, shot_path
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.browser


@pytest.fixture
def settings_overrides(smtp_sink: SmtpSink) -> dict[str, Any]:
    """The service sends its emails to the test's SMTP sink."""
    return {"smtp": smtp_sink.settings(sender="shop@relais.test")}


async def _closed_conversation(service: BrowserService, agent: str, question: str, answer: str) -> dict[str, Any]:
    """Over the API: a visitor asks an ambassador, who accepts, answers and closes."""
    token = await service.token(agent)
    status, _ = await service.call("POST", "/api/agents/me/presence", token=token, json={"status": "online"})
    assert status == 200
    visitor = await service.start_conversation("en")
    cid = visitor["conversation_id"]
    await service.ask_human(visitor, pool="ambassador")
    await service.await_offer(token, cid)
    status, body = await service.call("POST", f"/api/conversations/{cid}/accept", token=token)
    assert status == 200, body
    await service.say(visitor, question)
    status, body = await service.call("POST", f"/api/conversations/{cid}/messages", token=token, json={"text": answer})
    assert status == 201, body
    status, body = await service.call("POST", f"/api/conversations/{cid}/close", token=token, json={"outcome": "resolved"})
    assert status == 200, body
    status, _ = await service.call("POST", "/api/agents/me/presence", token=token, json={"status": "offline"})
    return visitor


async def test_history_search_finds_a_closed_conversation(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "nina")
    await make_agent(service, "omar")
    found = await _closed_conversation(service, "nina", "Does the Vario awning fit a Boxer?", "Yes, with the C-rail kit.")
    other = await _closed_conversation(service, "omar", "Which fridge for 12 V only?", "The 40 L compressor model.")

    context = await new_context(browser)
    page = await console_login(context, service, "nina", online=False)
    await page.get_by_role("link", name="History").click()
    await expect(page).to_have_url(service.url + "/console/history")
    results = page.locator("#history-results > li")
    await expect(results).to_have_count(1)  # an ambassador sees their own conversations only
    await expect(results.first).to_have_attribute("data-conversation-id", found["conversation_id"])

    # An advisor sees both; the text search narrows to the one that says it.
    await make_agent(service, "paula", role=AgentRole.ADVISOR)
    advisor = await console_login(await new_context(browser), service, "paula", online=False)
    await advisor.goto(service.url + "/console/history")
    await expect(advisor.locator("#history-results > li")).to_have_count(2)
    await advisor.locator("#history-q").fill("vario AWNING")
    await advisor.locator("#history-form button[type=submit]").click()
    rows = advisor.locator("#history-results > li")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-conversation-id", found["conversation_id"])
    await expect(rows.first).to_contain_text("Nina")
    await advisor.locator("#history-agent").fill("omar")
    await advisor.locator("#history-q").fill("")
    await advisor.locator("#history-form button[type=submit]").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-conversation-id", other["conversation_id"])
    await advisor.locator("#history-form button[type=reset]").click()
    await expect(rows).to_have_count(2)

    # Opened: the transcript, read-only (no composer on this page).
    await rows.filter(has_text="Vario").locator("button.open").click()
    log = advisor.locator("#history-log")
    await expect(log).to_contain_text("Does the Vario awning fit a Boxer?")
    await expect(log).to_contain_text("Yes, with the C-rail kit.")
    await expect(advisor.locator("textarea")).to_have_count(0)
    await advisor.screenshot(path=shot_path("console-history"), full_page=True)
    await audit(advisor, "console history, a transcript open")
    await context.close()


async def test_an_offline_message_answered_by_email_reaches_the_smtp_sink(
    service: BrowserService, browser: Browser, smtp_sink: SmtpSink
) -> None:
    visitor = await service.start_conversation("en")
    status, body = await service.call(
        "POST", f"/api/visitor/conversations/{visitor['conversation_id']}/offline-message",
        token=visitor["visitor_token"], json={"email": "lea@example.org", "text": "Can I return a heater after 30 days?"},
    )
    assert status == 201, body
    await make_agent(service, "quentin", role=AgentRole.ADVISOR)
    context = await new_context(browser)
    page = await console_login(context, service, "quentin", online=False)
    await page.get_by_role("link", name="Offline messages").click()
    await expect(page).to_have_url(service.url + "/console/inbox")
    item = page.locator("#inbox-list > li")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("lea@example.org")
    await expect(item).to_contain_text("Can I return a heater after 30 days?")

    await item.get_by_role("button", name="Assign to me").click()
    await expect(item).to_contain_text("assigned to Quentin")
    await item.get_by_label("Your answer by email").fill("Yes, within 60 days, unused.")
    await page.screenshot(path=shot_path("console-inbox"), full_page=True)
    await audit(page, "console offline messages, an answer typed")
    await item.get_by_role("button", name="Send by email").click()
    await expect(item).to_contain_text("Sent by email to lea@example.org.")
    await expect(item.locator(".status-chip")).to_have_text("answered")

    mail = await smtp_sink.next_message(to="lea@example.org")
    assert mail.rcpt_tos == ("lea@example.org",) and mail.mail_from == "shop@relais.test"
    assert "Yes, within 60 days, unused." in mail.body and "Can I return a heater" in mail.body
    assert [m for m in await service.messages(visitor) if m["text"] == "Yes, within 60 days, unused."]

    await item.get_by_role("button", name="Mark done").click()
    await expect(page.locator("#inbox-list > li .status-chip")).to_have_text("done")
    await page.locator("#inbox-form button[type=submit]").click()  # "to handle": done ones leave the list
    await expect(page.locator("#inbox-list > li")).to_have_count(0)
    await expect(page.locator("#inbox-empty")).to_be_visible()
    await context.close()
