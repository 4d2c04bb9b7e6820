"""The console's desk tools: canned responses (read by every agent, managed by advisors
and admins) and internal notes (agents only; never the visitor's)."""

from __future__ import annotations

from handoff.canned import CannedResponse, CannedStore, check_brand, check_language
from handoff.conversations import ConversationService
from handoff.domain import Agent, ConversationStatus, Forbidden, InternalNote
from handoff.services.desk import AgentDesk, is_supervisor

NOTE = "note"
TRANSFER_NOTE = "transfer"


class DeskTools:
    def __init__(self, canned: CannedStore, conversations: ConversationService, desk: AgentDesk) -> None:
        self.canned = canned
        self.conversations = conversations
        self.desk = desk

    # --- canned responses ----------------------------------------------------------------

    async def search_canned(
        self, agent: Agent, *, query: str, language: str | None, brand: str | None
    ) -> list[CannedResponse]:
        return await self.canned.search(
            brand=check_brand(brand) if brand else None,
            language=check_language(language) if language else None,
            query=query,
        )

    async def create_canned(
        self, agent: Agent, *, brand: str, language: str, shortcut: str, title: str, text: str
    ) -> CannedResponse:
        _manager(agent)
        return await self.canned.create(
            brand=brand, language=language, shortcut=shortcut, title=title, text=text, created_by=agent.id
        )

    async def update_canned(self, agent: Agent, response_id: str, **changes: str) -> CannedResponse:
        _manager(agent)
        return await self.canned.update(response_id, **changes)

    async def delete_canned(self, agent: Agent, response_id: str) -> None:
        _manager(agent)
        await self.canned.delete(response_id)

    # --- internal notes -------------------------------------------------------------------------

    async def notes(self, agent: Agent, conversation_id: str) -> list[InternalNote]:
        """The notes of a conversation this agent may read (its holder, an agent it is offered
        to or that may take it, a supervisor)."""
        conversation = await self.desk.readable(agent, conversation_id)
        return await self.conversations.notes(conversation.id)

    async def add_note(self, agent: Agent, conversation_id: str, text: str) -> InternalNote:
        """A note by the agent holding the conversation, or by a supervisor."""
        conversation = await self.conversations.get(conversation_id)
        holds = conversation.status is ConversationStatus.ASSIGNED and conversation.assigned_agent_id == agent.id
        if not (holds or is_supervisor(agent)):
            raise Forbidden("only the agent holding this conversation, or an advisor, can leave a note")
        return await self.conversations.add_note(
            conversation_id, text, author_id=agent.id, author_name=agent.display_name, kind=NOTE
        )


def _manager(agent: Agent) -> None:
    if not is_supervisor(agent):
        raise Forbidden("canned responses are managed by advisors and admins")
