"""The console's desk through the API, on each stack: the visitor panel (pages seen,
previous conversations, offline messages) and who may read it, and the events the
console lives on — pages and the visitor's presence in a chat, ratings pushed to the
agent who answered, every change of a live conversation pushed to supervisors."""

from __future__ import annotations

from typing import Any

from handoff.domain import AgentRole
from tests.support.service import (
    RunningService,
    ServiceFactory,
    add_agent,
    agent_socket,
    visitor_socket,
)

SHOP = "https://shop.example"


async def _start(service: RunningService, visitor_id: str, page: str, language: str = "en") -> dict[str, Any]:
    status, body = await service.call(
        "POST", "/api/visitor/conversations", json={"language": language, "page_url": page, "visitor_id": visitor_id}
    )
    assert status == 201, body
    return dict(body)


async def _hand_to(service: RunningService, conversation: dict[str, Any], token: str) -> str:
    cid = str(conversation["conversation_id"])
    await service.ask_human(conversation)
    await service.await_offer(token, cid)
    status, body = await service.call("POST", f"/api/conversations/{cid}/accept", token=token)
    assert status == 200, body
    return cid


async def _see_page(service: RunningService, conversation: dict[str, Any], page: str) -> None:
    status, body = await service.call(
        "POST", f"/api/visitor/conversations/{conversation['conversation_id']}/page",
        token=conversation["visitor_token"], json={"page_url": page},
    )
    assert status == 200, body


async def test_the_visitor_panel_shows_pages_previous_chats_and_offline_messages(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "alice")
    await add_agent(service.settings, "vera", role=AgentRole.ADVISOR)
    alice = await service.go_online("alice")
    vera = await service.login("vera")
    visitor = "v_panel_visitor_0001"

    # An earlier visit: a chat alice answered, closed as a sale and rated 4 …
    first = await _start(service, visitor, f"{SHOP}/awnings")
    first_id = await _hand_to(service, first, alice)
    await service.call("POST", f"/api/conversations/{first_id}/messages", token=alice, json={"text": "The F45 fits."})
    status, _ = await service.call("POST", f"/api/conversations/{first_id}/close", token=alice, json={"outcome": "sale"})
    assert status == 200
    status, _ = await service.call(
        "POST", f"/api/visitor/conversations/{first_id}/rating", token=first["visitor_token"],
        json={"rating": 4, "comment": "quick and clear"},
    )
    assert status == 200
    # … and a message left while nobody answered.
    second = await _start(service, visitor, f"{SHOP}/contact")
    status, _ = await service.call(
        "POST", f"/api/visitor/conversations/{second['conversation_id']}/offline-message",
        token=second["visitor_token"], json={"email": "marie@example.org", "text": "Do you ship to Corsica?"},
    )
    assert status == 201

    # Now: two pages, then a chat with alice.
    third = await _start(service, visitor, f"{SHOP}/solar")
    await _see_page(service, third, f"{SHOP}/solar/kit-200w")
    await _see_page(service, third, f"{SHOP}/solar/kit-200w")  # the same page again is one page seen
    third_id = await _hand_to(service, third, alice)

    status, panel = await service.call("GET", f"/api/conversations/{third_id}/visitor", token=alice)
    assert status == 200, panel
    assert panel["visitor"] == {"id": visitor, "short_id": visitor[-6:]}
    assert panel["language"] == "en"
    assert [p["url"] for p in panel["pages"]] == [f"{SHOP}/solar", f"{SHOP}/solar/kit-200w"]
    assert panel["visit_started_at"] <= panel["conversation_started_at"]
    [offline_one, answered] = panel["previous"]  # newest first
    assert offline_one["id"] == second["conversation_id"] and offline_one["status"] == "offline_message"
    assert answered["id"] == first_id
    assert answered["agent"]["display_name"] == "Alice" and answered["outcome"] == "sale"
    assert answered["rating"] == 4 and answered["rating_comment"] == "quick and clear"
    [left] = panel["offline_messages"]
    assert left["text"] == "Do you ship to Corsica?" and left["conversation_id"] == second["conversation_id"]
    assert "email" not in left  # ambassadors never see visitors' emails

    # A previous conversation opens read-only from the panel.
    status, old = await service.call("GET", f"/api/conversations/{third_id}/visitor/conversations/{first_id}", token=alice)
    assert status == 200
    assert old["conversation"]["id"] == first_id
    assert "The F45 fits." in [m["text"] for m in old["messages"]]

    # An advisor reads it too, emails included.
    status, seen_by_vera = await service.call("GET", f"/api/conversations/{third_id}/visitor", token=vera)
    assert status == 200 and seen_by_vera["offline_messages"][0]["email"] == "marie@example.org"


async def test_an_ambassador_cannot_read_another_agents_visitor_panel(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "alice")
    await add_agent(service.settings, "bruno")
    alice = await service.go_online("alice")
    bruno = await service.login("bruno")
    mine = await _start(service, "v_someone_else_0002", f"{SHOP}/heaters")
    cid = await _hand_to(service, mine, alice)
    other = await _start(service, "v_someone_else_0002", f"{SHOP}/fridges")

    status, body = await service.call("GET", f"/api/conversations/{cid}/visitor", token=bruno)
    assert status == 403, body
    status, body = await service.call(
        "GET", f"/api/conversations/{cid}/visitor/conversations/{other['conversation_id']}", token=bruno
    )
    assert status == 403, body
    # The holder may not open a conversation of another visitor through their panel.
    stranger = await _start(service, "v_stranger_0003", f"{SHOP}/")
    status, body = await service.call(
        "GET", f"/api/conversations/{cid}/visitor/conversations/{stranger['conversation_id']}", token=alice
    )
    assert status == 404, body
    # Once the chat is closed, it is no longer alice's to look into.
    await service.call("POST", f"/api/conversations/{cid}/close", token=alice, json={"outcome": "resolved"})
    status, _ = await service.call("GET", f"/api/conversations/{cid}/visitor", token=alice)
    assert status == 403


async def test_the_chat_hears_pages_and_the_visitor_leaving_and_coming_back(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "alice")
    alice = await service.go_online("alice")
    conversation = await _start(service, "v_presence_0004", f"{SHOP}/bikes")
    cid = await _hand_to(service, conversation, alice)
    console = await agent_socket(service, alice)
    try:
        await console.next_of("queue")  # subscribed to the chat it holds
        await _see_page(service, conversation, f"{SHOP}/bikes/rack-3")
        changed = await console.next_of("conversation")
        assert changed["conversation"]["page_url"] == f"{SHOP}/bikes/rack-3"

        widget = await visitor_socket(service, conversation)
        assert await console.next_of("visitor_presence", conversation_id=cid) == {
            "type": "visitor_presence", "conversation_id": cid, "present": True,
        }
        await widget.close()
        gone = await console.next_of("visitor_presence", conversation_id=cid)
        assert gone["present"] is False
        widget = await visitor_socket(service, conversation)
        back = await console.next_of("visitor_presence", conversation_id=cid)
        assert back["present"] is True
        await widget.close()
    finally:
        await console.close()


async def test_the_rating_and_comment_reach_the_agent_who_answered(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "alice")
    alice = await service.go_online("alice")
    conversation = await _start(service, "v_rating_0005", f"{SHOP}/awnings")
    cid = await _hand_to(service, conversation, alice)
    console = await agent_socket(service, alice)
    try:
        await console.next_of("queue")
        await service.call("POST", f"/api/conversations/{cid}/close", token=alice, json={"outcome": "resolved"})
        status, _ = await service.call(
            "POST", f"/api/visitor/conversations/{cid}/rating", token=conversation["visitor_token"],
            json={"rating": 5, "comment": "Exactly what I needed"},
        )
        assert status == 200
        rated = await console.next_of("rating", conversation_id=cid)
        assert rated["rating"] == 5 and rated["rating_comment"] == "Exactly what I needed"
        assert rated["visitor_id"] == "v_rating_0005"
    finally:
        await console.close()
    status, body = await service.call("GET", "/api/agents/me/ratings", token=alice)
    assert status == 200
    assert [(r["conversation_id"], r["rating"]) for r in body["ratings"]] == [(cid, 5)]


async def test_supervisors_get_every_live_change_at_once_and_a_close_removes_it(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "alice")
    await add_agent(service.settings, "vera", role=AgentRole.ADVISOR)
    alice = await service.go_online("alice")
    vera = await service.login("vera")
    supervisor = await agent_socket(service, vera)
    ambassador = await agent_socket(service, alice)
    try:
        await supervisor.next_of("queue")
        await ambassador.next_of("queue")
        conversation = await _start(service, "v_live_0006", f"{SHOP}/fridges")
        cid = await _hand_to(service, conversation, alice)
        waiting = await supervisor.next_of("live_conversation")
        assert waiting["conversation"]["id"] == cid and waiting["conversation"]["status"] == "waiting"
        while (await supervisor.next_of("live_conversation"))["conversation"]["status"] != "assigned":
            pass
        status, _ = await service.call("POST", f"/api/conversations/{cid}/close", token=alice, json={"outcome": "resolved"})
        assert status == 200
        while True:
            left = await supervisor.next_of("live_conversation")
            if left["conversation"]["status"] not in ("waiting", "assigned"):
                break
        assert left["conversation"]["id"] == cid and left["conversation"]["status"] == "bot"
        # Ambassadors do not supervise: none of these reach them.
        while (await ambassador.next_of("conversation"))["conversation"]["status"] != "bot":
            pass
        assert not [f for f in ambassador.seen if f["type"] == "live_conversation"]
    finally:
        await supervisor.close()
        await ambassador.close()
