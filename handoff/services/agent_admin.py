"""What admins do to agents' accounts (the admin API and page; the CLI does the same
through `AgentService`): list, create, change, reset a password, remove.

A change that lowers what an agent may do (a new role, a new password, a
deactivation) or removes it ends its sessions in the store and closes its open
sockets at once, on every instance (`SessionEnded` on the agent's channel of the
bus), and sets it offline so that routing offers it nothing more (its chats are
kept for the grace period, then requeued). The last active admin can be neither
demoted, deactivated nor removed (`AgentService`: race-safe in the store).
"""

from __future__ import annotations

from collections.abc import Iterable

from handoff.agents import AgentService
from handoff.domain import Agent, AgentRole, Presence
from handoff.events import SessionEnded
from handoff.realtime import EventBus, agent_channel
from handoff.services.desk import AgentDesk


def lowers_rights(before: Agent, after: Agent | None, *, password_changed: bool = False) -> bool:
    """Whether the change from `before` to `after` (None: removed) must end the agent's sessions."""
    return after is None or password_changed or after.role is not before.role or (before.active and not after.active)


class AgentAdmin:
    def __init__(self, agents: AgentService, desk: AgentDesk, bus: EventBus) -> None:
        self.agents = agents
        self.desk = desk
        self.bus = bus

    async def list_agents(self) -> list[Agent]:
        return await self.agents.list()

    async def create(
        self,
        *,
        username: str,
        password: str,
        role: AgentRole,
        languages: Iterable[str],
        skills: Iterable[str] = (),
        capacity: int = 3,
        display_name: str | None = None,
    ) -> Agent:
        return await self.agents.create(
            username=username, password=password, role=role, languages=languages, skills=skills,
            capacity=capacity, display_name=display_name,
        )

    async def change(
        self,
        agent_id: str,
        *,
        role: AgentRole | None = None,
        languages: Iterable[str] | None = None,
        skills: Iterable[str] | None = None,
        capacity: int | None = None,
        display_name: str | None = None,
        active: bool | None = None,
    ) -> Agent:
        before = await self.agents.get(agent_id)
        after = await self.agents.update(
            agent_id, role=role, languages=languages, skills=skills, capacity=capacity,
            display_name=display_name, active=active,
        )
        if lowers_rights(before, after):
            await self._end_sessions(before)
        return after

    async def set_password(self, agent_id: str, password: str) -> Agent:
        before = await self.agents.get(agent_id)
        after = await self.agents.update(agent_id, password=password)
        await self._end_sessions(before)
        return after

    async def remove(self, agent_id: str) -> None:
        before = await self.agents.get(agent_id)
        await self.agents.remove(agent_id)
        await self._end_sessions(before)

    async def _end_sessions(self, agent: Agent) -> None:
        """The store already forgot the sessions: close their sockets everywhere, then
        take the agent out of routing."""
        await self.bus.publish(agent_channel(agent.id), SessionEnded(agent.id, None))
        await self.desk.set_presence(agent, Presence.OFFLINE)
