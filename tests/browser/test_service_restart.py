"""The widget and the console across a restart of the service: SIGTERM closes their
sockets with 1012 ("service restart"), the process exits, starts again on the same
PostgreSQL and Redis, and both faces reconnect by themselves and resume — what was
said meanwhile shows once and in order, and the live sockets carry on both ways.

The service is a real process (tests/faults/harness.py) with the stand-in bot
(tests/support/misbehaving_rasa.py): the restart is the point, not the NLU.
"""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest
from playwright.async_api import Browser, WebSocket, expect

from handoff.config import Settings
from tests.browser.conftest import (
    BrowserService,
    console_login,
    new_context,
    open_widget,
    visitor_says,
)
from tests.browser.test_widget_resilience import agent_says, talk_to_community
from tests.faults.harness import ServiceProcesses, processes
from tests.support.misbehaving_rasa import MisbehavingRasa
from tests.support.service import STACKS, add_agent

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", [s for s in STACKS if s == "postgresql-redis"])]
__all__ = ["processes"]


async def test_widget_and_console_reconnect_after_a_restart_and_resume(
    processes: ServiceProcesses, stack_settings: Settings, misbehaving_rasa: MisbehavingRasa, browser: Browser,
    stack: str,
) -> None:
    settings = replace(stack_settings, rasa_url=misbehaving_rasa.url, rasa_timeout_seconds=10.0)
    await add_agent(settings, "chloe")
    instance = await processes.start("a", settings)
    async with aiohttp.ClientSession() as http:
        service = BrowserService(url=instance.url, settings=settings, http=http)
        context = await new_context(browser)
        console = await console_login(context, service, "chloe")
        page = await context.new_page()
        sockets: list[WebSocket] = []

        def opened_socket(socket: WebSocket) -> None:
            sockets.append(socket)

        page.on("websocket", opened_socket)
        console.on("websocket", opened_socket)
        await page.goto(instance.url + "/demo/awning-fiamma-f45.html")
        root = await open_widget(page)
        conversation_id = await talk_to_community(service, page, root, "chloe")
        await agent_says(service, "chloe", conversation_id, "Hi, Chloe here")
        await expect(root.locator(".msg.ambassador")).to_have_count(1)
        await console.locator(f"#chat-tabs [data-conversation-id='{conversation_id}']").click()
        await visitor_says(root, "Before the restart")
        await expect(console.locator("#chat-log .msg.visitor .text").last).to_have_text("Before the restart")
        opened = len(sockets)

        instance.terminate()
        assert await instance.wait_exit() == 0, instance.log_tail()
        await expect(root.locator(".conn")).to_be_visible()  # both saw their socket close
        await expect(console.locator("#conn")).to_be_visible()
        await instance.start()

        # Said while the widget may not be back yet: it shows, once, after the reconnection.
        await agent_says(service, "chloe", conversation_id, "Back after the restart")
        await expect(root.locator(".msg.ambassador")).to_have_count(2)
        await expect(root.locator(".msg.ambassador").last).to_contain_text("Back after the restart")
        await expect(root.locator(".conn")).to_be_hidden()  # the widget's socket is live again
        await expect(console.locator("#conn")).to_be_hidden()
        assert len(sockets) >= opened + 2  # each face opened a new socket

        # Both ways, live.
        await visitor_says(root, "Glad you are back")
        await expect(console.locator("#chat-log .msg.visitor .text").last).to_have_text("Glad you are back")
        await agent_says(service, "chloe", conversation_id, "Me too")
        await expect(root.locator(".msg.ambassador").last).to_contain_text("Me too")

        seqs = [int(s) for s in await root.locator(".msg[data-seq]").evaluate_all("ns => ns.map(n => n.dataset.seq)")]
        assert seqs == sorted(set(seqs))
        status, body = await service.call("GET", f"/api/conversations/{conversation_id}/messages",
                                          token=await service.token("chloe"))
        assert status == 200, body
        assert seqs == [m["seq"] for m in body["messages"]]
        await context.close()
