"""The advisors' inbox of offline messages: list, assign, answer by email, mark done.

Only advisors and admins use it (ambassadors never see visitors' emails). An
answer is sent first (`services/mail.py`); only once the SMTP server accepted it
is it recorded, in one unit of work: the answer becomes an advisor's message of
the visitor's conversation (`data.offline_answer`) and the item is `answered`.
A send that fails records nothing: the item stays open and the advisor reads
the error.
"""

from __future__ import annotations

from handoff.agents import AgentService
from handoff.conversations import ConversationService
from handoff.domain import Agent, AgentRole, Conflict, Forbidden, InvalidInput
from handoff.inbox import Inbox, InboxItem, InboxStatus
from handoff.services import texts
from handoff.services.mail import Mail, Mailer
from handoff.store import utcnow

SUPERVISORS = (AgentRole.ADVISOR, AgentRole.ADMIN)
OPEN_STATUSES = (InboxStatus.OPEN, InboxStatus.ANSWERED)


def _supervisor(agent: Agent) -> None:
    if agent.role not in SUPERVISORS:
        raise Forbidden("the offline messages' inbox is for advisors and admins")


class InboxService:
    def __init__(self, inbox: Inbox, conversations: ConversationService, agents: AgentService, mailer: Mailer) -> None:
        self.inbox = inbox
        self.conversations = conversations
        self.agents = agents
        self.mailer = mailer

    async def list(
        self, agent: Agent, statuses: tuple[InboxStatus, ...], *, mine: bool, limit: int, before: int | None
    ) -> tuple[list[InboxItem], bool]:
        _supervisor(agent)
        return await self.inbox.list(statuses, assigned_to=agent.id if mine else None, limit=limit, before=before)

    async def get(self, agent: Agent, item_id: int) -> InboxItem:
        _supervisor(agent)
        return await self.inbox.get(item_id)

    async def assign(self, agent: Agent, item_id: int, assignee_id: str | None) -> InboxItem:
        """Give the item to `assignee_id` (an advisor or admin; the caller when None)."""
        _supervisor(agent)
        assignee = agent if assignee_id in (None, agent.id) else await self.agents.get(str(assignee_id))
        if assignee.role not in SUPERVISORS:
            raise InvalidInput("offline messages are assigned to advisors or admins", field="agent_id")
        await self.inbox.get(item_id)  # 404 first
        async with self.conversations.unit_of_work() as unit:
            return await self.inbox.change(unit, item_id, OPEN_STATUSES, assigned_agent_id=assignee.id)

    async def answer(self, agent: Agent, item_id: int, text: str) -> InboxItem:
        """Email `text` to the visitor; once sent, record it in the conversation."""
        _supervisor(agent)
        item = await self.inbox.get(item_id)
        if item.status is not InboxStatus.OPEN:
            raise Conflict(f"this offline message is already {item.status.value}", status=item.status.value)
        if not item.email:
            raise Conflict("this offline message has no email address left to answer to")
        await self.mailer.send(
            Mail(
                to=item.email,
                subject=texts.say("offline_answer_subject", item.language),
                body=texts.say(
                    "offline_answer_body", item.language, answer=text, name=agent.display_name, question=item.text
                ),
            )
        )
        async with self.conversations.unit_of_work() as unit:
            message = await unit.append(
                item.conversation_id, agent.role.sender_kind, text, sender_id=agent.id,
                data={"display_name": agent.display_name, "role": agent.role.value,
                      "offline_answer": True, "inbox_id": item.id, "emailed": True},
            )
            return await self.inbox.change(
                unit, item_id, (InboxStatus.OPEN,), status=InboxStatus.ANSWERED.value, answered_by=agent.id,
                answered_at=utcnow(), answer_seq=message.seq, assigned_agent_id=item.assigned_agent_id or agent.id,
            )

    async def done(self, agent: Agent, item_id: int) -> InboxItem:
        _supervisor(agent)
        await self.inbox.get(item_id)
        async with self.conversations.unit_of_work() as unit:
            return await self.inbox.change(unit, item_id, OPEN_STATUSES, status=InboxStatus.DONE.value, done_at=utcnow())
