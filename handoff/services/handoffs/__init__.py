"""Moving conversations between the bot and humans: the handoff use cases.

The routing engine decides who gets what and returns outcomes; these modules
make each decision true in the conversation store — one unit of work per use
case (`ConversationService.unit_of_work`: status compare-and-set, transcript
entries, handoff events, events published after the commit) — and tell the
people concerned. It is the only place where routing and the store meet.

- `request.py` — which pool a request for a person goes to, and queueing it;
- `offers.py` — accept, decline, claim;
- `transfer.py` — transfer and take-over;
- `close.py` — close and cancel;
- `apply.py` — each router outcome as a unit of work (offer, assignment, requeue …);
- `views.py` — offers and queue entries, and the queue deltas for consoles;
- `positions.py` — visitors' queue positions, published when they change;
- `waits.py` — the estimated wait, from the pool's recent queued → accepted times;
- `availability.py` — who can answer, read by the widget and pushed to it;
- `restore.py` — the router rebuilt from the store at start-up, and brought back
  in line with it after an outage or a loss of its shared state (`sweep` checks first).

`HandoffCoordinator` is the one object the other services and the API hold.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from handoff.agents import AgentService
from handoff.config import RoutingSettings
from handoff.conversations import ConversationService
from handoff.domain import DEFAULT_BRAND, Agent, Conversation, HandoffRequest, Pool
from handoff.observability.metrics import Metrics
from handoff.realtime import EventBus
from handoff.routing import outcomes as out
from handoff.routing.engine import RoutingEngine
from handoff.routing.state import Ticket
from handoff.services.handoffs import close, offers, request, restore, transfer, views
from handoff.services.handoffs.apply import apply
from handoff.services.handoffs.availability import Availability
from handoff.services.handoffs.context import HandoffContext
from handoff.services.handoffs.positions import PositionPublisher
from handoff.services.handoffs.waits import WaitEstimator, estimated_wait
from handoff.unavailable import unavailable_dependency


class HandoffCoordinator:
    """The handoff use cases behind one object (each method is one module's function)."""

    def __init__(
        self,
        conversations: ConversationService,
        agents: AgentService,
        engine: RoutingEngine,
        bus: EventBus,
        settings: RoutingSettings | None = None,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        min_available: Mapping[Pool, int] | None = None,
    ) -> None:
        routing = settings or RoutingSettings()
        self.waits = WaitEstimator(conversations)
        self.availability = Availability(engine, bus, min_available)
        self.ctx = HandoffContext(
            conversations=conversations,
            agents=agents,
            engine=engine,
            bus=bus,
            positions=PositionPublisher(engine, bus, routing.position_interval_seconds, self.waits.typical_wait),
            waits=self.waits,
            availability=self.availability,
            settings=routing,
            clock=clock,
            metrics=metrics or Metrics(),
        )
        self.engine = engine
        self._outage = False  # a dependency failed since the last reconciliation

    async def estimated_wait(self, conversation: Conversation, position: int | None) -> int | None:
        """Seconds this waiting conversation may expect to wait (None without history)."""
        if conversation.pool is None or position is None:
            return None
        return estimated_wait(await self.waits.typical_wait(conversation.pool), position)

    async def choose_pool(self, request_: HandoffRequest, named: Pool | None = None) -> Pool | None:
        return await request.choose_pool(self.ctx, request_, named)

    async def request(self, conversation: Conversation, request_: HandoffRequest) -> int | None:
        return await request.request(self.ctx, conversation, request_)

    async def nobody_available(self, conversation: Conversation, request_: HandoffRequest) -> None:
        await request.nobody_available(self.ctx, conversation, request_)

    async def accept(self, conversation_id: str, agent: Agent) -> Conversation:
        return await offers.accept(self.ctx, conversation_id, agent)

    async def decline(self, conversation_id: str, agent: Agent) -> None:
        await offers.decline(self.ctx, conversation_id, agent)

    async def claim(self, conversation_id: str, agent: Agent) -> Conversation:
        return await offers.claim(self.ctx, conversation_id, agent)

    async def transfer(
        self, conversation_id: str, agent: Agent, *, pool: Pool | None, target_agent_id: str | None, note: str | None
    ) -> Conversation:
        return await transfer.transfer(
            self.ctx, conversation_id, agent, pool=pool, target_agent_id=target_agent_id, note=note
        )

    async def close(self, conversation_id: str, agent: Agent, outcome: str | None) -> Conversation:
        return await close.close(self.ctx, conversation_id, agent, outcome)

    async def cancel(self, conversation_id: str) -> None:
        await close.cancel(self.ctx, conversation_id)

    async def apply(self, outcomes: Iterable[out.Outcome]) -> None:
        await apply(self.ctx, outcomes)

    def note_outage(self) -> None:
        """A dependency failed under a use case: the router and the store may disagree."""
        self._outage = True

    async def sweep(self) -> None:
        """The periodic step: after an outage or a loss of the routing state, bring it in
        line with the store (`restore.recover`); then fire due timers."""
        outage, self._outage = self._outage, False
        try:
            await restore.recover(self.ctx, after_outage=outage)
        except Exception as exc:
            if outage or unavailable_dependency(exc) is not None:
                self._outage = True  # reconciled at the next step that reaches both
            raise
        try:
            await apply(self.ctx, await self.engine.sweep(self.ctx.clock()))
        except Exception as exc:
            if unavailable_dependency(exc) is not None:
                self._outage = True  # a timer's router half may be done and its store half not
            raise

    async def restore(self) -> None:
        await restore.restore(self.ctx)

    async def entry_view(self, conversation_id: str, *, expires_at: float | None = None) -> dict[str, Any]:
        return await views.entry_view(self.ctx, conversation_id, expires_at=expires_at)

    async def waiting_everywhere(self) -> list[Ticket]:
        """Every waiting conversation of every brand (for the queue metrics)."""
        brands = {DEFAULT_BRAND, *await self.engine.backend.brands()}
        return [ticket for brand in sorted(brands) for ticket in await self.engine.waiting(brand=brand)]

    def start(self) -> None:
        """Start publishing queue positions (once the event loop runs)."""
        self.ctx.positions.start()

    async def stop(self) -> None:
        await self.ctx.positions.stop()


__all__ = ["HandoffCoordinator"]
