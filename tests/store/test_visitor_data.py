"""A visitor's data: export, erase, retention (issue 12), on SQLite and PostgreSQL,
through the store, the CLI and the admin API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from handoff.conversations import ConversationService
from handoff.domain import (
    AgentRole,
    Conflict,
    ConversationStatus,
    HandoffEventType,
    NotFound,
    SenderKind,
    Unauthorized,
)
from handoff.store import Store, utcnow
from handoff.visitor_data import VisitorData
from tests.store.test_cli import relais
from tests.support.service import ServiceFactory, add_agent

SECRET_TEXT = "my email is zoe@example.fr"


async def _visitor_with_history(conversations: ConversationService) -> tuple[str, list[str], str]:
    """A visitor with two conversations (texts, a handoff event, a rating comment); a bystander's one."""
    first, token = await conversations.start("fr", "https://shop.example/auvents?ref=zoe")
    second, _ = await conversations.start("fr", None, visitor_id=first.visitor_id)
    for conversation in (first, second):
        await conversations.append(conversation.id, SenderKind.VISITOR, SECRET_TEXT)
        await conversations.append(conversation.id, SenderKind.BOT, "Bonjour !")
    await conversations.record_event(first.id, HandoffEventType.REQUESTED, data={"note": "zoe wants a call"})
    await conversations.update(first.id, rating=5, rating_comment="thanks, Zoé")
    await conversations.start("en", None)  # someone else
    return first.visitor_id, [first.id, second.id], token


async def test_export_holds_everything_about_the_visitor_and_nothing_else(
    store: Store, conversations: ConversationService
) -> None:
    visitor_id, ids, _ = await _visitor_with_history(conversations)
    exported = await VisitorData(store).export(visitor_id)
    assert [c["id"] for c in exported["conversations"]] == ids
    first = exported["conversations"][0]
    assert [m["text"] for m in first["messages"]] == [SECRET_TEXT, "Bonjour !"]
    assert [(e["type"], e["data"]) for e in first["handoff_events"]] == [
        ("page_viewed", {"url": "https://shop.example/auvents?ref=zoe"}),  # the pages seen are exported too
        ("requested", {"note": "zoe wants a call"}),
    ]
    assert first["rating_comment"] == "thanks, Zoé" and "visitor_token_hash" not in first
    json.dumps(exported)  # plain JSON
    with pytest.raises(NotFound):
        await VisitorData(store).export("v_nobody")


async def test_erase_deletes_every_row_but_not_while_a_conversation_is_live(
    store: Store, conversations: ConversationService
) -> None:
    visitor_id, ids, token = await _visitor_with_history(conversations)
    await conversations.update(ids[1], status=ConversationStatus.WAITING)
    with pytest.raises(Conflict):
        await VisitorData(store).erase(visitor_id)
    assert len((await VisitorData(store).export(visitor_id))["conversations"]) == 2  # nothing erased
    await conversations.update(ids[1], status=ConversationStatus.CLOSED)
    assert await VisitorData(store).erase(visitor_id) == 2
    with pytest.raises(NotFound):
        await VisitorData(store).export(visitor_id)
    with pytest.raises(NotFound):
        await conversations.authenticate_visitor(ids[0], token)
    assert await conversations.list(statuses=[ConversationStatus.BOT])  # the bystander's is still there


async def test_retention_anonymises_what_is_old_and_keeps_what_analytics_need(
    store: Store, conversations: ConversationService
) -> None:
    visitor_id, ids, token = await _visitor_with_history(conversations)
    data = VisitorData(store)
    assert await data.anonymise_older_than(utcnow() - timedelta(days=1)) == 0  # all recent
    assert await data.anonymise_older_than(utcnow() + timedelta(seconds=1)) == 3
    with pytest.raises(NotFound):
        await data.export(visitor_id)
    with pytest.raises(Unauthorized):  # the visitor token expired with the data
        await conversations.authenticate_visitor(ids[0], token)
    kept = await conversations.get(ids[0])
    assert (kept.rating, kept.rating_comment, kept.page_url) == (5, None, None)
    messages = await conversations.messages(ids[0])
    assert [(m.seq, m.sender_kind, m.text) for m in messages] == [(1, SenderKind.VISITOR, ""), (2, SenderKind.BOT, "")]
    assert await data.anonymise_older_than(utcnow() + timedelta(seconds=1)) == 0  # once


async def test_visitor_export_and_erase_from_the_command_line(
    database_url: str, store: Store, conversations: ConversationService
) -> None:
    visitor_id, ids, _ = await _visitor_with_history(conversations)
    exported = relais(database_url, "visitor", "export", visitor_id)
    assert exported.returncode == 0, exported.stderr
    assert [c["id"] for c in json.loads(exported.stdout)["conversations"]] == ids
    erased = relais(database_url, "visitor", "erase", visitor_id)
    assert erased.returncode == 0 and "erased 2" in erased.stdout, erased.stderr
    missing = relais(database_url, "visitor", "erase", visitor_id)
    assert missing.returncode == 1 and "no data" in missing.stderr


async def test_only_admins_export_or_erase_over_the_api(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "root", role=AgentRole.ADMIN)
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR)
    root, adv = await service.login("root"), await service.login("adv")
    visitor = await service.start_conversation()
    await service.say(visitor, SECRET_TEXT)
    status, body = await service.call("GET", f"/api/admin/visitors/{visitor['conversation_id']}", token=root)
    assert status == 404, body  # a conversation id is not a visitor id
    status, conversation = await service.call(
        "GET", f"/api/visitor/conversations/{visitor['conversation_id']}/messages", token=visitor["visitor_token"]
    )
    path = f"/api/admin/visitors/{conversation['conversation']['visitor_id']}"
    for token in (adv, None):
        status, body = await service.call("GET", path, token=token)
        assert status in (401, 403), body
        status, body = await service.call("DELETE", path, token=token)
        assert status in (401, 403), body
    status, exported = await service.call("GET", path, token=root)
    assert status == 200 and SECRET_TEXT in json.dumps(exported)
    status, erased = await service.call("DELETE", path, token=root)
    assert (status, erased) == (200, {"erased_conversations": 1})
    status, _ = await service.call(
        "GET", f"/api/visitor/conversations/{visitor['conversation_id']}/messages", token=visitor["visitor_token"]
    )
    assert status == 404


async def test_internal_notes_are_exported_erased_and_emptied_by_retention(
    store: Store, conversations: ConversationService
) -> None:
    first, _ = await conversations.start("fr", None)
    second, _ = await conversations.start("fr", None)
    for conversation in (first, second):
        await conversations.add_note(conversation.id, "she is zoe@example.fr", author_id="a_1", author_name="Alice")
    data = VisitorData(store)
    exported = await data.export(first.visitor_id)
    assert [n["text"] for n in exported["conversations"][0]["internal_notes"]] == ["she is zoe@example.fr"]
    assert await data.erase(first.visitor_id) == 1
    assert await conversations.notes(first.id) == []
    assert await data.anonymise_older_than(utcnow() + timedelta(seconds=1)) == 1
    assert [n.text for n in await conversations.notes(second.id)] == [""]
