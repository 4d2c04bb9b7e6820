"""The admins' page (/console/admin) in a real browser: an admin creates an agent who
then logs in, changes and removes agents with clear errors; anyone else has no link
to it and is refused by its API (403)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Response, expect

from handoff.domain import AgentRole
from tests.browser.a11y import audit
from tests.browser.conftest import BrowserService, console_login, make_agent, new_context

pytestmark = pytest.mark.browser
NEW_PASSWORD = "a fresh secret for nina"


async def test_an_admin_creates_an_agent_who_then_logs_in(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "ada", role=AgentRole.ADMIN)
    await make_agent(service, "lea")
    context = await new_context(browser)
    page = await console_login(context, service, "ada", online=False)
    await page.locator("#admin-link").click()
    await expect(page).to_have_url(service.url + "/console/admin")
    await expect(page.locator("#admin-view")).to_be_visible()
    await expect(page.locator("#agent-rows tr")).to_have_count(2)
    await expect(page.locator("#settings")).to_contain_text('"log_level": "INFO"')
    await expect(page.locator("#settings")).to_contain_text('"rasa_token": "***"')

    # Create nina, an advisor speaking French only.
    await page.locator("#new-username").fill("nina")
    await page.locator("#new-display-name").fill("Nina \u202eR")
    await page.locator("#new-role").select_option("advisor")
    await page.locator('input[name="new-lang"][value="en"]').uncheck()
    await page.locator("#new-capacity").fill("2")
    await page.locator("#new-password").fill(NEW_PASSWORD)
    await page.locator("#create-form button[type=submit]").click()
    await expect(page.locator("#create-status")).to_have_text("nina created.")
    row = page.locator('tr[data-agent="nina"]')
    await expect(row).to_be_visible()
    await expect(row.locator("input.name")).to_have_value("Nina R")  # the bidi override is gone
    await expect(row.locator("select")).to_have_value("advisor")
    await audit(page, "admin page")

    # A bad input is explained next to the form, naming the field.
    await page.locator("#new-username").fill("nina")
    await page.locator("#new-password").fill(NEW_PASSWORD)
    await page.locator("#create-form button[type=submit]").click()
    await expect(page.locator("#create-error")).to_contain_text("already exists")

    # nina logs in to the console with the password the admin gave.
    other = await new_context(browser)
    nina = await other.new_page()
    await nina.goto(service.url + "/console")
    await nina.locator("#login-username").fill("nina")
    await nina.locator("#login-password").fill(NEW_PASSWORD)
    await nina.locator("#login-form button[type=submit]").click()
    await expect(nina.locator("#app-view")).to_be_visible()
    await expect(nina.locator("#me")).to_have_text("Nina R · advisor")
    await expect(nina.locator("#admin-link")).to_be_hidden()

    # The admin lowers nina's role: her console is logged out at once (its socket closed).
    await row.locator("select").select_option("ambassador")
    await row.locator("input[type=number]").fill("4")
    await row.locator('[data-action="save"]').click()
    await expect(row.locator(".row-status")).to_have_text("Saved.")
    await expect(nina.locator("#login-view")).to_be_visible()

    # The last admin cannot step down: a clear error, nothing changed.
    ada_row = page.locator('tr[data-agent="ada"]')
    await ada_row.locator('input[aria-label^="Active"]').uncheck()
    await ada_row.locator('[data-action="save"]').click()
    await expect(ada_row.locator(".row-error")).to_have_text(
        "Refused: this is the last active admin. Make another agent admin first."
    )

    # Removing takes two clicks.
    lea_row = page.locator('tr[data-agent="lea"]')
    await lea_row.locator('[data-action="remove"]').click()
    await expect(lea_row.locator('[data-action="remove"]')).to_have_text("Confirm removal")
    await lea_row.locator('[data-action="remove"]').click()
    await expect(page.locator('tr[data-agent="lea"]')).to_have_count(0)
    status, body = await service.call("POST", "/api/agents/login", json={"username": "lea", "password": "correct horse battery"})
    assert status == 401, body
    await other.close()
    await context.close()


async def test_a_non_admin_has_no_admin_link_and_is_refused(service: BrowserService, browser: Browser) -> None:
    await make_agent(service, "max", role=AgentRole.ADVISOR)
    context = await new_context(browser, locale="fr-FR")
    page = await console_login(context, service, "max", online=False)
    await expect(page.locator("#admin-link")).to_be_hidden()
    answers: list[Response] = []
    page.on("response", lambda response: answers.append(response) if "/api/admin/" in response.url else None)
    await page.goto(service.url + "/console/admin")
    await expect(page.locator("#page-error")).to_have_text(
        "Cette page est réservée aux admins : votre compte ne peut ni gérer les agents ni voir les réglages."
    )
    await expect(page.locator("#admin-view")).to_be_hidden()
    assert answers and {response.status for response in answers} == {403}
    await context.close()
