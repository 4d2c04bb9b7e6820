"""The offline messages' inbox in the store (migration 0006): filed with the visitor's
message, exported and erased with the visitor's data, and the messages left before
the migration filed by it."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, func, insert, select

from handoff import inbox
from handoff.conversations import ConversationService
from handoff.domain import ConversationStatus, HandoffEventType, SenderKind
from handoff.inbox import Inbox, InboxStatus
from handoff.store import Store, upgrade, utcnow
from handoff.store.database import _alembic_config, create_engine
from handoff.store.schema import conversations, handoff_events, messages, offline_messages
from handoff.visitor_data import VisitorData


async def test_an_offline_message_is_filed_exported_and_erased(store: Store, conversations: ConversationService) -> None:
    conversation, _ = await conversations.start("fr", None)
    async with conversations.unit_of_work() as unit:
        message = await unit.append(conversation.id, SenderKind.VISITOR, "Rappelez-moi",
                                    data={"offline_message": True, "email": "zoe@example.fr"})
        await inbox.file(unit, conversation.id, message.seq)
    items, more = await Inbox(store).list((InboxStatus.OPEN,))
    assert [(i.conversation_id, i.text, i.email, i.language) for i in items] == [
        (conversation.id, "Rappelez-moi", "zoe@example.fr", "fr")]
    assert more is False

    exported = await VisitorData(store).export(conversation.visitor_id)
    assert [row["seq"] for row in exported["conversations"][0]["offline_messages"]] == [message.seq]
    await VisitorData(store).erase(conversation.visitor_id)
    async with store.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(offline_messages))).scalar_one() == 0


def _to_0003(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "0003")


async def test_migration_0006_files_the_offline_messages_left_before_it(database_url: str) -> None:
    engine = create_engine(database_url)
    now = utcnow()
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_0003)
        async with engine.begin() as connection:
            for cid, offline in (("c_left", True), ("c_chat", False)):
                await connection.execute(insert(conversations).values(
                    id=cid, visitor_id="v_" + cid, visitor_token_hash="x", language="en",
                    status=(ConversationStatus.OFFLINE_MESSAGE if offline else ConversationStatus.BOT).value,
                    last_seq=2, created_at=now, updated_at=now, brand="default"))
                await connection.execute(insert(messages).values(
                    conversation_id=cid, seq=1, sender_kind="visitor", text="hello", data={}, created_at=now))
                await connection.execute(insert(messages).values(
                    conversation_id=cid, seq=2, sender_kind="visitor", text="call me back",
                    data={"offline_message": True, "email": "a@b.example"} if offline else {}, created_at=now))
                if offline:
                    await connection.execute(insert(handoff_events).values(
                        conversation_id=cid, type=HandoffEventType.OFFLINE_MESSAGE.value, data={}, created_at=now))
    finally:
        await engine.dispose()
    assert await upgrade(database_url) == ("0007", "0007")  # the head, past 0006
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(offline_messages))).all()
    finally:
        await engine.dispose()
    assert [(r.conversation_id, r.seq, r.status) for r in rows] == [("c_left", 2, "open")]
