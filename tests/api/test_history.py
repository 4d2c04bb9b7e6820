"""The history (issue 13): closed conversations searched by text, visitor, agent, topic
and date, page by page; an ambassador reads only their own, advisors all; one opens
read-only with its transcript."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from handoff.domain import AgentRole
from handoff.store import open_store
from handoff.store.schema import conversations
from tests.support.service import RunningService, ServiceFactory, add_agent


async def _closed_chat(service: RunningService, agent: str, token: str, question: str, answer: str) -> dict[str, Any]:
    """A visitor asks, `agent` accepts, answers and closes."""
    visitor = await service.start_conversation()
    cid = visitor["conversation_id"]
    await service.say(visitor, question)
    await service.ask_human(visitor, pool="ambassador" if agent.startswith("amb") else "advisor")
    await service.await_offer(token, cid)
    status, body = await service.call("POST", f"/api/conversations/{cid}/accept", token=token)
    assert status == 200, body
    status, body = await service.call("POST", f"/api/conversations/{cid}/messages", token=token, json={"text": answer})
    assert status == 201, body
    status, body = await service.call("POST", f"/api/conversations/{cid}/close", token=token, json={"outcome": "resolved"})
    assert status == 200, body
    return visitor


async def _set(service: RunningService, cid: str, **values: Any) -> None:
    store = await open_store(service.settings.database_url)
    try:
        async with store.sessions.begin() as session:
            await session.execute(update(conversations).where(conversations.c.id == cid).values(**values))
    finally:
        await store.close()


async def _ids(service: RunningService, token: str, query: str = "") -> list[str]:
    status, body = await service.call("GET", "/api/history" + query, token=token)
    assert status == 200, body
    return [entry["conversation"]["id"] for entry in body["conversations"]]


async def test_history_search_by_each_criterion_and_access_rules(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "amba", capacity=1)
    await add_agent(service.settings, "ambb", capacity=1)
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR, capacity=1)
    amba, ambb, adv = await service.go_online("amba"), await service.go_online("ambb"), await service.go_online("adv")
    # ambb is busy elsewhere while amba takes the first one, and the other way round.
    status, _ = await service.call("POST", "/api/agents/me/presence", token=ambb, json={"status": "away"})
    assert status == 200
    one = await _closed_chat(service, "amba", amba, "Quel auvent pour un Ducato ?", "Le F45 de 4 m convient.")
    status, _ = await service.call("POST", "/api/agents/me/presence", token=amba, json={"status": "away"})
    status, _ = await service.call("POST", "/api/agents/me/presence", token=ambb, json={"status": "online"})
    two = await _closed_chat(service, "ambb", ambb, "Which solar kit for 200 Ah?", "The 160 W kit is enough.")
    three = await _closed_chat(service, "adv", adv, "My order #1234 never arrived", "I am sending a new one.")
    c1, c2, c3 = one["conversation_id"], two["conversation_id"], three["conversation_id"]
    await _set(service, c1, skill="awning", created_at=datetime(2026, 3, 10, 12, tzinfo=UTC))
    await _set(service, c2, skill="solar", created_at=datetime(2026, 5, 20, 12, tzinfo=UTC))
    # A conversation still with the bot and never answered by a person is not history.
    bot_only = await service.start_conversation()
    await service.say(bot_only, "Ducato opening hours")

    everything = await _ids(service, adv)
    assert set(everything) == {c1, c2, c3}
    assert everything[0] == c3  # newest first (c1 and c2 were moved back in time)
    assert await _ids(service, adv, "?q=ducato") == [c1]  # case-insensitive, visitor text
    assert await _ids(service, adv, "?q=160%20w%20kit") == [c2]  # an agent's text
    assert await _ids(service, adv, "?q=50%25") == []  # % is a character, not a wildcard
    assert await _ids(service, adv, f"?visitor={one['visitor_id'][:8]}") == [c1]
    assert await _ids(service, adv, "?agent=ambb") == [c2]
    status, body = await service.call("GET", "/api/agents/me", token=amba)
    assert await _ids(service, adv, f"?agent={body['agent']['id']}") == [c1]
    assert await _ids(service, adv, "?topic=solar") == [c2]
    assert await _ids(service, adv, "?since=2026-03-10&until=2026-03-10") == [c1]  # a whole day
    assert await _ids(service, adv, "?since=2026-04-01&until=2026-06-01") == [c2]
    assert set(await _ids(service, adv, "?until=2026-06-01")) == {c1, c2}

    # Pages: one at a time, in order, with has_more.
    status, page1 = await service.call("GET", "/api/history?page_size=2", token=adv)
    status, page2 = await service.call("GET", "/api/history?page_size=2&page=2", token=adv)
    assert page1["has_more"] is True and page2["has_more"] is False
    assert [e["conversation"]["id"] for e in page1["conversations"] + page2["conversations"]] == everything
    assert page1["conversations"][0]["agent_name"] == "Adv"
    assert page1["conversations"][0]["preview"]["text"] == "My order #1234 never arrived"

    # An ambassador sees their own only, whatever the filters say.
    assert await _ids(service, amba) == [c1]
    assert await _ids(service, amba, "?q=solar") == []
    assert await _ids(service, amba, "?agent=ambb") == []
    assert await _ids(service, ambb) == [c2]
    status, body = await service.call("GET", f"/api/history/{c2}", token=amba)
    assert status == 403, body
    status, body = await service.call("GET", f"/api/history/{c3}", token=ambb)
    assert status == 403, body

    # Opening one: the conversation and its whole transcript, with the agents' names.
    status, body = await service.call("GET", f"/api/history/{c1}", token=amba)
    assert status == 200, body
    texts = [m["text"] for m in body["messages"]]
    assert "Quel auvent pour un Ducato ?" in texts and "Le F45 de 4 m convient." in texts
    assert body["conversation"]["id"] == c1 and body["conversation"]["outcome"] == "resolved"
    assert set(body["agents"].values()) == {"Amba"}
    status, body = await service.call("GET", f"/api/history/{c1}", token=adv)
    assert status == 200, body
    status, body = await service.call("GET", "/api/history/c_unknown", token=adv)
    assert status == 404, body


async def test_history_checks_its_parameters_and_needs_a_login(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR)
    adv = await service.login("adv")
    for query in ("?page=0", "?page_size=1000", "?since=yesterday", "?page=x"):
        status, body = await service.call("GET", "/api/history" + query, token=adv)
        assert status == 400, (query, body)
    status, body = await service.call("GET", "/api/history")
    assert status == 401, body
    status, body = await service.call("GET", "/api/history", token=adv)
    assert status == 200 and body["conversations"] == [] and body["has_more"] is False


async def test_an_ambassadors_text_search_cannot_probe_masked_personal_data(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "amba", capacity=1)
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR)
    amba, adv = await service.go_online("amba"), await service.login("adv")
    visitor = await _closed_chat(service, "amba", amba, "Write to zoe.martin@example.fr about the F45", "Done.")
    cid = visitor["conversation_id"]
    assert await _ids(service, adv, "?q=zoe.martin") == [cid]  # advisors see personal data
    assert await _ids(service, amba, "?q=zoe.martin") == []  # masked for the ambassador: not findable
    assert await _ids(service, amba, "?q=example.fr") == []
    assert await _ids(service, amba, "?q=about%20the%20f45") == [cid]  # the rest of the text is
    status, body = await service.call("GET", "/api/history", token=amba)
    assert "zoe.martin" not in repr(body)  # the preview is masked too
