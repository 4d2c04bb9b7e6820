"""What a site visitor can do through the widget.

A visitor's message is committed first, then — while the bot holds the
conversation — sent to the bot, whose replies go through the same write path.
When the bot asks for a human (or cannot answer at all), the handoff coordinator
takes over. While a human holds the conversation nothing goes to the bot.

An admin keeps the bot on a leash (handoff/botswitch.py, docs/bot.md): while the
bot is switched off, a visitor's message goes to people (or the offline form)
without reaching the bot; when the bot reads an intent an admin switched off, its
replies are dropped and the conversation goes to people the same way. Either
way the visitor is told why, in their language.

The bot's "I'm putting you in touch with …" (the text just before its handoff
signal, docs/handoff-protocol.md) is kept only when the conversation really goes
to the pool it announces: when nobody can answer, the visitor reads once that
nobody is available (with the offline form), and when another pool answers, the
service's own "I'm finding …" names the right people.

When the router cannot be reached (Redis down) as the bot asks for a person, the
visitor is told as when nobody can answer, with the offline form: the turn is
stored and answered, rather than failing after the store has kept it (a retry
would return the stored turn and the request for a person would be lost).

The bot is asked at most `limits.bot_per_conversation` times per conversation. A
message over that limit waits (at most BOT_WAIT_SECONDS) for the window to allow
one more turn, so a quick second click is still answered, only later; if it still
may not, it is stored and left without a bot reply (the transcript keeps it for
whoever reads it). Not a 429: the message is the visitor's
and is already committed, the limit protects Rasa, and the number of messages a
visitor may send is the separate `messages_per_conversation` limit, checked before
anything is stored.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, replace
from typing import Any

from handoff import inbox
from handoff.botbridge import BotBridge, BotUnavailable
from handoff.botswitch import BotLeash
from handoff.conversations import ConversationService
from handoff.domain import (
    BotReply,
    Conflict,
    Conversation,
    ConversationStatus,
    HandoffEventType,
    HandoffReason,
    HandoffRequest,
    InvalidInput,
    Message,
    Pool,
    SenderKind,
)
from handoff.events import RatingReceived, Typing
from handoff.moderation import Moderator
from handoff.realtime import EventBus, agent_channel, conversation_channel
from handoff.services import texts
from handoff.services.handoffs import HandoffCoordinator
from handoff.services.limits import RateLimits
from handoff.unavailable import REDIS, describe, unavailable_dependency

log = logging.getLogger(__name__)

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
MAX_COMMENT_LENGTH = 2000
BOT_WAIT_SECONDS = 2.0
BOT_HOLDS = {ConversationStatus.BOT, ConversationStatus.CLOSED, ConversationStatus.OFFLINE_MESSAGE}


@dataclass(frozen=True, slots=True)
class PostedMessage:
    message: Message
    replies: tuple[Message, ...]
    created: bool
    conversation: Conversation  # as it is after the turn


class VisitorService:
    def __init__(
        self,
        conversations: ConversationService,
        bot: BotBridge,
        handoffs: HandoffCoordinator,
        bus: EventBus,
        leash: BotLeash,
        limits: RateLimits,
        moderation: Moderator | None = None,
    ) -> None:
        self.moderation = moderation or Moderator((), enabled=False)
        self.conversations = conversations
        self.bot = bot
        self.handoffs = handoffs
        self.bus = bus
        self.leash = leash
        self.limits = limits

    async def post_message(self, conversation: Conversation, text: str, client_msg_id: str | None) -> PostedMessage:
        message, created = await self.conversations.append(
            conversation.id, SenderKind.VISITOR, text, sender_id=conversation.visitor_id, client_msg_id=client_msg_id
        )
        if not created:
            return PostedMessage(message, await self._replies_after(message), False, await self._current(conversation))
        if conversation.status not in BOT_HOLDS:
            return PostedMessage(message, (), True, await self._current(conversation))
        if conversation.status is not ConversationStatus.BOT:
            conversation = await self.conversations.update(conversation.id, status=ConversationStatus.BOT)
        if not self.leash.current.enabled:
            replies = await self._hand_to_people(conversation, message, HandoffReason.BOT_OFF)
            return PostedMessage(message, replies, True, await self._current(conversation))
        if not await self._bot_may_answer(conversation.id):
            log.info("bot limit: %s seq %d stored without asking the bot", conversation.id, message.seq)
            return PostedMessage(message, (), True, await self._current(conversation))
        replies, after = await self._ask_bot(conversation, message)
        return PostedMessage(message, replies, True, after or await self._current(conversation))

    async def _current(self, conversation: Conversation) -> Conversation:
        return await self.conversations.get(conversation.id)

    async def _bot_may_answer(self, conversation_id: str) -> bool:
        wait = await self.limits.hit("bot_per_conversation", conversation_id)
        if wait is None:
            return True
        if wait > BOT_WAIT_SECONDS:
            return False
        await asyncio.sleep(wait + 0.05)  # until the window lets one more turn through
        return await self.limits.hit("bot_per_conversation", conversation_id) is None

    async def _ask_bot(self, conversation: Conversation, message: Message) -> tuple[tuple[Message, ...], Conversation | None]:
        """The bot's turn: its replies, and the conversation after them when known without a read.

        The message's intent and the bot's replies are one unit of work (one commit per turn),
        and a turn that does not ask for a person returns what it wrote without reading it back."""
        first_seq = message.seq
        try:
            turn = await self.bot.ask(  # the bot is given the text as agents read it: abuse masked
                conversation.id, self.moderation.mask(message.text), language=conversation.language,
                page_url=conversation.page_url,
            )
        except BotUnavailable:
            await self.conversations.append(
                conversation.id,
                SenderKind.SYSTEM,
                texts.say("bot_unavailable", conversation.language),
                data={"event": "bot_unavailable", "offer_handoff": True},
            )
            return await self._replies_since(conversation.id, first_seq), None
        switch = self.leash.current  # read after the bot answered: a switch made meanwhile counts
        if not switch.answers(turn.intent):
            if turn.intent:
                await self.conversations.annotate(conversation.id, message.seq, turn.intent, turn.confidence)
            reason = HandoffReason.BOT_OFF if not switch.enabled else HandoffReason.INTENT_OFF
            return await self._hand_to_people(conversation, message, reason), None  # the bot's replies are dropped
        request, pool = turn.handoff, None
        if request is not None:
            named = texts.named_pool(message.text, conversation.language)
            try:
                pool = await self.handoffs.choose_pool(request, named)
            except Exception as exc:
                if unavailable_dependency(exc) != REDIS:
                    raise
                log.warning("routing unreachable (%s): %s is offered the offline form", describe(exc), conversation.id)
        announcement = _announcement_index(turn.replies)
        written: list[Message] = []
        async with self.conversations.unit_of_work() as unit:
            if turn.intent:
                await unit.annotate(conversation.id, message.seq, turn.intent, turn.confidence)
            for index, reply in enumerate(turn.replies):
                if index == announcement and request is not None and pool is not request.pool:
                    continue  # it would announce people who are not coming
                if reply.text or reply.buttons:
                    data: dict[str, Any] = {"buttons": list(reply.buttons)} if reply.buttons else {}
                    if turn.model:
                        data["model"] = turn.model
                    if reply.handoff:
                        data["handoff"] = {"pool": reply.handoff.pool.value, "skill": reply.handoff.skill}
                    written.append(await unit.append(conversation.id, SenderKind.BOT, reply.text or "", data=data))
        if request is None:
            return tuple(written), unit.latest.get(conversation.id)
        current = await self.conversations.get(conversation.id)
        if pool is None:
            await self.handoffs.nobody_available(current, request)
        else:
            await self.handoffs.request(current, replace(request, pool=pool))
        return await self._replies_since(conversation.id, first_seq), None

    async def _hand_to_people(
        self, conversation: Conversation, message: Message, reason: HandoffReason
    ) -> tuple[Message, ...]:
        """Instead of the bot: say why, then ask for a person (or offer the offline form)."""
        notice = reason.value  # the texts and events are named after the reasons
        await self.conversations.append(
            conversation.id, SenderKind.SYSTEM, texts.say(notice, conversation.language), data={"event": notice}
        )
        default = Pool.AMBASSADOR if conversation.skill else Pool.ADVISOR
        request = HandoffRequest(pool=default, language=conversation.language, skill=conversation.skill, reason=reason)
        pool: Pool | None = None
        try:
            pool = await self.handoffs.choose_pool(request, texts.named_pool(message.text, conversation.language))
        except Exception as exc:
            if unavailable_dependency(exc) != REDIS:
                raise
            log.warning("routing unreachable (%s): %s is offered the offline form", describe(exc), conversation.id)
        current = await self.conversations.get(conversation.id)
        if pool is None:
            await self.handoffs.nobody_available(current, request)
        else:
            await self.handoffs.request(current, replace(request, pool=pool))
        return await self._replies_since(conversation.id, message.seq)

    async def _replies_since(self, conversation_id: str, seq: int) -> tuple[Message, ...]:
        return tuple(m for m in await self.conversations.messages(conversation_id, after=seq)
                     if m.sender_kind in (SenderKind.BOT, SenderKind.SYSTEM))

    async def _replies_after(self, message: Message) -> tuple[Message, ...]:
        """For a retried message: the answers that followed it, up to the next visitor turn."""
        replies: list[Message] = []
        for later in await self.conversations.messages(message.conversation_id, after=message.seq):
            if later.sender_kind is SenderKind.VISITOR:
                break
            replies.append(later)
        return tuple(replies)

    async def ask_for_human(self, conversation: Conversation, pool: Pool | None) -> int | None:
        """The visitor pressed "talk to a person / the community"."""
        if conversation.status is ConversationStatus.ASSIGNED:
            raise Conflict("a person is already answering this conversation")
        default = Pool.AMBASSADOR if conversation.skill else Pool.ADVISOR
        request = HandoffRequest(pool=default, language=conversation.language, skill=conversation.skill,
                                 reason=HandoffReason.REQUESTED)
        if conversation.status is ConversationStatus.WAITING:
            return await self.handoffs.request(conversation, request)  # already in line: its position
        chosen = await self.handoffs.choose_pool(request, pool)
        if chosen is None:
            await self.handoffs.nobody_available(conversation, replace(request, pool=pool or default))
            return None
        return await self.handoffs.request(conversation, replace(request, pool=chosen))

    async def set_page(self, conversation: Conversation, page_url: str) -> Conversation:
        """The visitor is on another page: the conversation shows it live, and the page is
        kept in the list of pages seen (the agents' visitor panel)."""
        async with self.conversations.unit_of_work() as unit:
            updated = await unit.update(conversation.id, page_url=page_url)
            if conversation.page_url != page_url:
                await unit.record_event(conversation.id, HandoffEventType.PAGE_VIEWED, data={"url": page_url})
        return updated

    async def typing(self, conversation: Conversation, typing: bool) -> None:
        await self.bus.publish(
            conversation_channel(conversation.id), Typing(conversation.id, SenderKind.VISITOR.value, typing)
        )

    async def leave_offline_message(self, conversation: Conversation, email: str, text: str) -> tuple[Message, Conversation]:
        email = email.strip()
        if not EMAIL.match(email):
            raise InvalidInput("email is not a valid address", field="email")
        if conversation.status is ConversationStatus.ASSIGNED:
            raise Conflict("a person is already answering this conversation")
        async with self.conversations.unit_of_work() as unit:
            message = await unit.append(
                conversation.id, SenderKind.VISITOR, text, sender_id=conversation.visitor_id,
                data={"offline_message": True, "email": email},
            )
            await inbox.file(unit, conversation.id, message.seq)
            updated = await unit.update(conversation.id, status=ConversationStatus.OFFLINE_MESSAGE, offline_email=email)
            await unit.record_event(conversation.id, HandoffEventType.OFFLINE_MESSAGE, data={"email": email})
            await unit.append(
                conversation.id, SenderKind.SYSTEM, texts.say("offline_received", conversation.language, email=email),
                data={"event": "offline_message"},
            )
        await self.handoffs.cancel(conversation.id)  # it no longer waits for a person
        return message, updated

    async def rate(self, conversation: Conversation, rating: int, comment: str | None) -> Conversation:
        if conversation.last_agent_id is None:
            raise Conflict("only a conversation with a person can be rated")
        if comment is not None and len(comment) > MAX_COMMENT_LENGTH:
            raise InvalidInput(f"comment must be at most {MAX_COMMENT_LENGTH} characters", field="comment")
        async with self.conversations.unit_of_work() as unit:
            updated = await unit.update(conversation.id, rating=rating, rating_comment=comment or None)
            await unit.record_event(
                conversation.id, HandoffEventType.RATED, agent_id=conversation.last_agent_id, data={"rating": rating}
            )
            unit.publish(  # the agent sees the rating (and comment) their chat received
                agent_channel(conversation.last_agent_id),
                RatingReceived(conversation.id, conversation.visitor_id, rating, comment or None),
            )
        return updated


def _announcement_index(replies: tuple[BotReply, ...]) -> int | None:
    """The bot's text announcing a person: the reply just before its handoff signal."""
    signal = next((i for i, reply in enumerate(replies) if reply.handoff), None)
    if signal is None:
        return None
    if replies[signal].text:
        return signal
    return signal - 1 if signal > 0 and replies[signal - 1].text and not replies[signal - 1].buttons else None
