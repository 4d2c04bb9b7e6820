"""The conversation store: one ordered transcript, nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest

from handoff.conversations import ConversationService
from handoff.domain import (
    Conflict,
    ConversationStatus,
    HandoffEventType,
    Message,
    NotFound,
    Pool,
    SenderKind,
    Unauthorized,
)
from handoff.events import ConversationChanged, Event, MessageAdded, QueuePosition
from handoff.realtime import conversation_channel
from handoff.realtime.memory import MemoryBus
from handoff.store import Store, open_store
from tests.support.bus import delivered

WAIT_SECONDS = 60  # only a bound for a broken run; a passing one never waits that long


async def test_a_new_conversation_belongs_to_the_bot_and_its_visitor(conversations: ConversationService) -> None:
    conversation, token = await conversations.start("fr", "https://shop.example/auvents")
    assert conversation.status is ConversationStatus.BOT
    assert conversation.visitor_id.startswith("v_") and conversation.last_seq == 0
    assert conversation.created_at.tzinfo is not None
    assert (await conversations.authenticate_visitor(conversation.id, token)).id == conversation.id
    with pytest.raises(Unauthorized):
        await conversations.authenticate_visitor(conversation.id, token + "x")
    with pytest.raises(Unauthorized):
        await conversations.authenticate_visitor(conversation.id, "")
    with pytest.raises(NotFound):
        await conversations.authenticate_visitor("c_unknown", token)
    again, other_token = await conversations.start("fr", None, visitor_id=conversation.visitor_id)
    assert again.visitor_id == conversation.visitor_id and other_token != token
    with pytest.raises(Unauthorized):  # a token opens its own conversation only
        await conversations.authenticate_visitor(again.id, token)


async def test_every_sender_lands_in_one_ordered_transcript(conversations: ConversationService) -> None:
    conversation, _ = await conversations.start("en", None)
    turns = [
        (SenderKind.VISITOR, "hello", conversation.visitor_id),
        (SenderKind.BOT, "Hi! How can I help?", None),
        (SenderKind.SYSTEM, "An ambassador joins", None),
        (SenderKind.AMBASSADOR, "Hello, I'm Alice", "a_1"),
        (SenderKind.ADVISOR, "Taking over", "a_2"),
    ]
    for kind, text, sender in turns:
        await conversations.append(conversation.id, kind, text, sender_id=sender)
    transcript = await conversations.messages(conversation.id)
    assert [(m.seq, m.sender_kind, m.text, m.sender_id) for m in transcript] == [
        (n, kind, text, sender) for n, (kind, text, sender) in enumerate(turns, start=1)
    ]
    assert all(m.created_at.tzinfo == UTC for m in transcript)
    assert [m.seq for m in await conversations.messages(conversation.id, after=3)] == [4, 5]
    assert [m.seq for m in await conversations.messages(conversation.id, after=1, limit=2)] == [2, 3]
    assert (await conversations.get(conversation.id)).last_seq == 5


async def test_a_retried_client_msg_id_gives_back_the_same_message(conversations: ConversationService) -> None:
    conversation, _ = await conversations.start("en", None)
    first, created = await conversations.append(conversation.id, SenderKind.VISITOR, "hi", client_msg_id="m-1")
    again, created_again = await conversations.append(conversation.id, SenderKind.VISITOR, "hi", client_msg_id="m-1")
    assert created and not created_again
    assert again == first
    # Ten concurrent retries of one message: still one message.
    results = await asyncio.gather(
        *(conversations.append(conversation.id, SenderKind.VISITOR, "yo", client_msg_id="m-2") for _ in range(10))
    )
    assert sum(created for _, created in results) == 1
    assert len({message.seq for message, _ in results}) == 1
    assert [m.client_msg_id for m in await conversations.messages(conversation.id)] == ["m-1", "m-2"]
    # The same client id in another conversation is another message.
    other, _ = await conversations.start("en", None)
    _, created_elsewhere = await conversations.append(other.id, SenderKind.VISITOR, "hi", client_msg_id="m-1")
    assert created_elsewhere


async def test_concurrent_writers_get_dense_unique_sequence_numbers(conversations: ConversationService) -> None:
    conversation, _ = await conversations.start("fr", None)
    await asyncio.gather(
        *(conversations.append(conversation.id, SenderKind.VISITOR, f"message {n}", client_msg_id=f"m{n}") for n in range(30))
    )
    transcript = await conversations.messages(conversation.id)
    assert [m.seq for m in transcript] == list(range(1, 31))
    assert sorted(m.text for m in transcript) == sorted(f"message {n}" for n in range(30))


class HandOverBus(MemoryBus):
    """A bus whose `publish` returns only once a subscriber has handled the event:
    the publisher cannot go on (and commit late) while the subscriber looks."""

    def __init__(self) -> None:
        super().__init__()
        self.handled = asyncio.Event()

    async def publish(self, channel: str, event: Event) -> None:
        await super().publish(channel, event)
        if isinstance(event, MessageAdded):
            await self.handled.wait()
            self.handled.clear()


async def test_a_message_is_published_only_after_it_is_committed(store: Store, database_url: str) -> None:
    bus = HandOverBus()
    conversations = ConversationService(store, bus)
    conversation, _ = await conversations.start("en", None)
    subscription = await bus.subscribe(conversation_channel(conversation.id))
    # The reader is another store on the same database: its own connections, so it
    # sees only what is committed.
    reader = await open_store(database_url, migrate=False)
    seen_when_published: list[list[Message]] = []

    async def subscriber() -> Event:
        async for event in subscription:
            seen_when_published.append(await ConversationService(reader, MemoryBus()).messages(conversation.id))
            bus.handled.set()
            return event
        raise AssertionError("the feed ended")

    listening = asyncio.create_task(subscriber())
    try:
        message, _ = await asyncio.wait_for(
            conversations.append(conversation.id, SenderKind.VISITOR, "is it committed?"), WAIT_SECONDS
        )
        event = await asyncio.wait_for(listening, WAIT_SECONDS)
    finally:
        listening.cancel()
        await subscription.close()
        await reader.close()
    assert event == MessageAdded(message.to_json())
    assert seen_when_published == [[message]]


async def test_unknown_conversation_is_not_found_and_nothing_is_written(conversations: ConversationService) -> None:
    with pytest.raises(NotFound):
        await conversations.append("c_missing", SenderKind.VISITOR, "hello")
    with pytest.raises(NotFound):
        await conversations.get("c_missing")
    with pytest.raises(NotFound):
        await conversations.update("c_missing", page_url="https://x.example")
    assert await conversations.messages("c_missing") == []


async def test_transition_is_a_compare_and_set(conversations: ConversationService) -> None:
    conversation, _ = await conversations.start("en", None)
    waiting = await conversations.transition(
        conversation.id, {ConversationStatus.BOT}, status=ConversationStatus.WAITING, pool=Pool.AMBASSADOR, skill="solar"
    )
    assert (waiting.status, waiting.pool, waiting.skill) == (ConversationStatus.WAITING, Pool.AMBASSADOR, "solar")
    with pytest.raises(Conflict):
        await conversations.transition(conversation.id, {ConversationStatus.BOT}, status=ConversationStatus.ASSIGNED)
    assert (await conversations.get(conversation.id)).status is ConversationStatus.WAITING

    async def take(agent_id: str) -> str | None:
        try:
            await conversations.transition(
                conversation.id, {ConversationStatus.WAITING}, status=ConversationStatus.ASSIGNED, assigned_agent_id=agent_id
            )
            return agent_id
        except Conflict:
            return None

    winners = [w for w in await asyncio.gather(*(take(f"a_{n}") for n in range(8))) if w]
    assert len(winners) == 1
    assert (await conversations.get(conversation.id)).assigned_agent_id == winners[0]


async def test_intents_events_and_the_previous_agent_are_kept(conversations: ConversationService) -> None:
    conversation, _ = await conversations.start("fr", None)
    message, _ = await conversations.append(conversation.id, SenderKind.VISITOR, "livraison ?")
    await conversations.annotate(conversation.id, message.seq, "ask_shipping", 0.97)
    annotated = (await conversations.messages(conversation.id))[0]
    assert (annotated.intent, annotated.confidence) == ("ask_shipping", 0.97)

    for kind in (HandoffEventType.REQUESTED, HandoffEventType.QUEUED, HandoffEventType.OFFERED, HandoffEventType.ACCEPTED):
        await conversations.record_event(conversation.id, kind, agent_id="a_1" if kind is HandoffEventType.OFFERED else None,
                                         data={"pool": "ambassador"})
    events = await conversations.events(conversation.id)
    assert [e.type for e in events] == [HandoffEventType.REQUESTED, HandoffEventType.QUEUED,
                                        HandoffEventType.OFFERED, HandoffEventType.ACCEPTED]
    assert events[2].agent_id == "a_1" and events[0].data == {"pool": "ambassador"}
    assert [e.created_at for e in events] == sorted(e.created_at for e in events)

    assert await conversations.previous_agent(conversation.visitor_id) is None
    await conversations.update(conversation.id, last_agent_id="a_7")
    later, _ = await conversations.start("fr", None, visitor_id=conversation.visitor_id)
    assert await conversations.previous_agent(later.visitor_id, exclude_conversation=later.id) == "a_7"
    assert await conversations.previous_agent(later.visitor_id, exclude_conversation=conversation.id) is None


async def test_listing_by_status_and_agent(conversations: ConversationService) -> None:
    a, _ = await conversations.start("fr", None)
    b, _ = await conversations.start("en", None)
    await conversations.update(a.id, status=ConversationStatus.ASSIGNED, assigned_agent_id="a_1")
    await conversations.update(b.id, status=ConversationStatus.WAITING)
    assert [c.id for c in await conversations.list(statuses=[ConversationStatus.ASSIGNED])] == [a.id]
    assert [c.id for c in await conversations.list(agent_id="a_1")] == [a.id]
    live = await conversations.list(statuses=[ConversationStatus.WAITING, ConversationStatus.ASSIGNED])
    assert {c.id for c in live} == {a.id, b.id}


async def test_what_was_acknowledged_survives_a_restart(database_url: str) -> None:
    bus = MemoryBus()
    first = await open_store(database_url)
    conversation, token = await ConversationService(first, bus).start("en", None)
    await ConversationService(first, bus).append(conversation.id, SenderKind.VISITOR, "remember me", client_msg_id="x")
    await first.close()
    second: Store = await open_store(database_url)
    try:
        reopened = ConversationService(second, bus)
        assert (await reopened.authenticate_visitor(conversation.id, token)).last_seq == 1
        assert [m.text for m in await reopened.messages(conversation.id)] == ["remember me"]
    finally:
        await second.close()


async def test_a_unit_of_work_commits_everything_then_publishes_in_order(
    conversations: ConversationService, bus: MemoryBus
) -> None:
    conversation, _ = await conversations.start("fr", None)
    subscription = await bus.subscribe(conversation_channel(conversation.id))
    async with conversations.unit_of_work() as unit:
        waiting = await unit.transition(conversation.id, {ConversationStatus.BOT}, status=ConversationStatus.WAITING)
        await unit.record_event(conversation.id, HandoffEventType.QUEUED, data={"pool": "advisor"})
        notice = await unit.append(conversation.id, SenderKind.SYSTEM, "queued", data={"event": "queued"})
        unit.publish(conversation_channel(conversation.id), QueuePosition(conversation.id, 1))
        # Nothing is told before the commit.
        assert await delivered(subscription) == []
    assert await delivered(subscription) == [
        ConversationChanged(waiting.to_json()), MessageAdded(notice.to_json()), QueuePosition(conversation.id, 1),
    ]
    assert [e.type for e in await conversations.events(conversation.id)] == [HandoffEventType.QUEUED]
    assert (await conversations.get(conversation.id)).last_seq == 1
    await subscription.close()


async def test_a_failed_unit_of_work_changes_nothing_and_tells_nobody(
    conversations: ConversationService, bus: MemoryBus
) -> None:
    conversation, _ = await conversations.start("en", None)
    subscription = await bus.subscribe(conversation_channel(conversation.id))
    with pytest.raises(Conflict):
        async with conversations.unit_of_work() as unit:
            await unit.append(conversation.id, SenderKind.SYSTEM, "about to be assigned")
            await unit.record_event(conversation.id, HandoffEventType.ACCEPTED, agent_id="a1")
            unit.publish(conversation_channel(conversation.id), QueuePosition(conversation.id, 1))
            await unit.transition(conversation.id, {ConversationStatus.WAITING}, status=ConversationStatus.ASSIGNED)
    assert await delivered(subscription) == []
    assert await conversations.messages(conversation.id) == []
    assert await conversations.events(conversation.id) == []
    current = await conversations.get(conversation.id)
    assert (current.status, current.last_seq) == (ConversationStatus.BOT, 0)
    # Sequence numbers stay dense after a rolled-back unit.
    message, created = await conversations.append(conversation.id, SenderKind.VISITOR, "hello", client_msg_id="m1")
    assert (message.seq, created) == (1, True)
    again, created = await conversations.append(conversation.id, SenderKind.VISITOR, "hello", client_msg_id="m1")
    assert (again, created) == (message, False)
    await subscription.close()


async def test_last_messages_are_the_end_of_a_long_transcript(conversations: ConversationService) -> None:
    conversation, _ = await conversations.start("en", None)
    for n in range(1, 41):
        await conversations.append(conversation.id, SenderKind.VISITOR, f"m{n}")
    last = await conversations.last_messages(conversation.id, 30)
    assert [m.seq for m in last] == list(range(11, 41))
    assert (await conversations.get(conversation.id)).brand == "default"
