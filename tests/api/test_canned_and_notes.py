"""The console's desk tools through the API, on each stack: canned responses (who may
manage them, how they are found) and internal notes (agents only: never in the
visitor's API or socket; a transfer's note is kept for the agent who accepts)."""

from __future__ import annotations

import json
from typing import Any

from handoff.domain import AgentRole
from tests.support.service import (
    RunningService,
    ServiceFactory,
    add_agent,
    agent_socket,
    visitor_socket,
)


async def _held_by(service: RunningService, token: str, language: str = "en") -> dict[str, Any]:
    """A conversation the agent of `token` (online) has accepted."""
    conversation = await service.start_conversation(language)
    cid = conversation["conversation_id"]
    await service.say(conversation, "Which awning fits a 2019 Trafic?")
    await service.ask_human(conversation)
    await service.await_offer(token, cid)
    status, body = await service.call("POST", f"/api/conversations/{cid}/accept", token=token)
    assert status == 200, body
    return conversation


async def test_canned_responses_are_managed_by_advisors_and_read_by_every_agent(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "alice")
    await add_agent(service.settings, "victor", role=AgentRole.ADVISOR)
    await add_agent(service.settings, "ada", role=AgentRole.ADMIN)
    alice, victor, ada = [await service.login(name) for name in ("alice", "victor", "ada")]

    new = {"language": "fr", "shortcut": "/livraison", "title": "Délais de livraison",
           "text": "La livraison prend 2 à 4 jours ouvrés."}
    status, error = await service.call("POST", "/api/canned", token=alice, json=new)
    assert status == 403 and error["error"]["code"] == "forbidden"
    status, created = await service.call("POST", "/api/canned", token=victor, json=new)
    assert status == 201, created
    livraison = created["response"]
    assert livraison["shortcut"] == "livraison" and livraison["brand"] == "default" and livraison["language"] == "fr"
    status, _ = await service.call("POST", "/api/canned", token=ada, json={
        "language": "en", "shortcut": "delivery", "title": "Delivery times", "text": "Delivery takes 2 to 4 working days."})
    assert status == 201
    status, _ = await service.call("POST", "/api/canned", token=ada, json={
        "language": "en", "shortcut": "returns", "title": "Returns", "text": "You have 30 days to return an item."})
    assert status == 201
    status, _ = await service.call("POST", "/api/canned", token=ada, json={
        "language": "en", "brand": "other-shop", "shortcut": "delivery", "text": "Other shop: next-day delivery."})
    assert status == 201

    # Refused: the same shortcut again for the same brand and language; a shortcut with spaces; no text.
    status, error = await service.call("POST", "/api/canned", token=victor, json=new)
    assert status == 409
    status, error = await service.call("POST", "/api/canned", token=victor, json={**new, "shortcut": "two words"})
    assert status == 400 and error["error"]["details"]["field"] == "shortcut"
    status, error = await service.call("POST", "/api/canned", token=victor, json={**new, "shortcut": "x", "text": " "})
    assert status == 400 and error["error"]["details"]["field"] == "text"

    async def search(token: str, **params: str) -> list[str]:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        status, body = await service.call("GET", f"/api/canned?{query}", token=token)
        assert status == 200, body
        return [f"{r['brand']}/{r['language']}/{r['shortcut']}" for r in body["responses"]]

    # Every agent searches: by shortcut, title or text, case-insensitively, narrowed by language and brand.
    assert await search(alice, q="deliv", language="en", brand="default") == ["default/en/delivery"]
    assert await search(alice, q="DAYS", language="en", brand="default") == ["default/en/delivery", "default/en/returns"]
    assert await search(alice, q="livr") == ["default/fr/livraison"]
    assert await search(alice, q="delivery") == ["default/en/delivery", "other-shop/en/delivery"]
    assert await search(alice, q="next-day") == ["other-shop/en/delivery"]
    assert await search(alice, q="%") == []  # a LIKE wildcard is a plain character
    assert await search(alice, language="fr") == ["default/fr/livraison"]
    status, error = await service.call("GET", "/api/canned?language=de", token=alice)
    assert status == 400

    path = f"/api/canned/{livraison['id']}"
    status, _ = await service.call("PUT", path, token=alice, json={"text": "Hijacked"})
    assert status == 403
    status, changed = await service.call("PUT", path, token=victor, json={"text": "Livraison en 48 h."})
    assert status == 200 and changed["response"]["text"] == "Livraison en 48 h."
    assert changed["response"]["shortcut"] == "livraison"  # a field left out stays
    status, _ = await service.call("DELETE", path, token=alice)
    assert status == 403
    status, _ = await service.call("DELETE", path, token=victor)
    assert status == 204
    status, _ = await service.call("DELETE", path, token=victor)
    assert status == 404
    assert await search(alice, language="fr") == []
    status, _ = await service.call("GET", "/api/canned")
    assert status == 401


async def test_a_note_reaches_the_agents_live_and_never_the_visitor(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "alice")
    await add_agent(service.settings, "bob")
    await add_agent(service.settings, "victor", role=AgentRole.ADVISOR)
    alice = await service.go_online("alice")
    bob = await service.login("bob")
    victor = await service.login("victor")
    conversation = await _held_by(service, alice)
    cid = conversation["conversation_id"]

    visitor = await visitor_socket(service, conversation)
    holder = await agent_socket(service, alice)
    supervisor = await agent_socket(service, victor)
    await holder.next_of("queue")
    await supervisor.next_of("queue")
    await supervisor.socket.send_str(json.dumps({"type": "watch", "conversation_id": cid}))
    await visitor.next_of("conversation")

    secret = "Customer seems upset; offer the 10% code. Email: marie@example.org"
    status, body = await service.call("POST", f"/api/conversations/{cid}/notes", token=alice, json={"text": secret})
    assert status == 201, body
    note = body["note"]
    assert note["kind"] == "note" and note["author_name"] == "Alice" and note["conversation_id"] == cid

    # Live to the holder and to the advisor watching; masked for the ambassador (it quotes an email).
    pushed = await holder.next_of("note")
    assert pushed["note"]["id"] == note["id"] and "marie@example.org" not in pushed["note"]["text"]
    watched = await supervisor.next_of("note")
    assert watched["note"]["text"] == secret

    # A message sent after the note reaches the visitor; the note never did, nor is it in the transcript.
    status, _ = await service.call("POST", f"/api/conversations/{cid}/messages", token=alice, json={"text": "Let me check."})
    assert status == 201
    frame = await visitor.next_of("message")
    while frame["message"]["text"] != "Let me check.":
        frame = await visitor.next_of("message")
    assert not [frame for frame in visitor.seen if frame["type"] == "note" or "10% code" in json.dumps(frame)]
    transcript = await service.messages(conversation)
    assert "Let me check." in [m["text"] for m in transcript]
    assert not [m for m in transcript if "10% code" in m["text"]]
    status, _ = await service.call(
        "GET", f"/api/visitor/conversations/{cid}/notes", token=conversation["visitor_token"])
    assert status in (404, 405)
    status, _ = await service.call("GET", f"/api/conversations/{cid}/notes", token=conversation["visitor_token"])
    assert status == 401

    # Agents read the notes; one who neither holds nor supervises the chat may not.
    status, read = await service.call("GET", f"/api/conversations/{cid}/notes", token=victor)
    assert status == 200 and [n["text"] for n in read["notes"]] == [secret]
    status, _ = await service.call("GET", f"/api/conversations/{cid}/notes", token=bob)
    assert status == 403
    status, _ = await service.call("POST", f"/api/conversations/{cid}/notes", token=bob, json={"text": "hi"})
    assert status == 403
    status, _ = await service.call("POST", f"/api/conversations/{cid}/notes", token=victor, json={"text": "Fine by me."})
    assert status == 201
    assert (await holder.next_of("note"))["note"]["text"] == "Fine by me."
    for socket in (visitor, holder, supervisor):
        await socket.close()


async def test_the_transfer_note_stays_visible_after_the_receiving_agent_accepts(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "alice")
    await add_agent(service.settings, "victor", role=AgentRole.ADVISOR)
    alice = await service.go_online("alice")
    victor = await service.go_online("victor")
    conversation = await _held_by(service, alice)
    cid = conversation["conversation_id"]

    note = "Order 4411 arrived broken: needs a refund."
    status, body = await service.call("POST", f"/api/conversations/{cid}/transfer", token=alice,
                                      json={"pool": "advisor", "note": note})
    assert status == 200, body
    offer = await service.await_offer(victor, cid)
    assert offer["note"] == note
    status, before = await service.call("GET", f"/api/conversations/{cid}/notes", token=victor)
    assert status == 200
    assert [(n["kind"], n["text"], n["author_name"]) for n in before["notes"]] == [("transfer", note, "Alice")]

    status, _ = await service.call("POST", f"/api/conversations/{cid}/accept", token=victor)
    assert status == 200
    status, after = await service.call("GET", f"/api/conversations/{cid}/notes", token=victor)
    assert status == 200 and [n["text"] for n in after["notes"]] == [note]
    status, _ = await service.call("GET", f"/api/conversations/{cid}/notes", token=alice)
    assert status == 403  # no longer hers
    assert not [m for m in await service.messages(conversation) if "4411" in m["text"]]
