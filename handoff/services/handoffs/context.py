"""What every handoff use case works with: the store, the router, the bus, the clock,
the two publishers of queue news (consoles' deltas, visitors' positions and estimated waits),
who can answer (for the widgets) and the metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from handoff.agents import AgentService
from handoff.config import RoutingSettings
from handoff.conversations import ConversationService
from handoff.domain import Agent
from handoff.observability.metrics import Metrics
from handoff.realtime import EventBus
from handoff.routing.engine import RoutingEngine
from handoff.services.handoffs.availability import Availability
from handoff.services.handoffs.positions import PositionPublisher
from handoff.services.handoffs.waits import WaitEstimator


@dataclass(slots=True)
class HandoffContext:
    conversations: ConversationService
    agents: AgentService
    engine: RoutingEngine
    bus: EventBus
    positions: PositionPublisher
    waits: WaitEstimator
    availability: Availability
    settings: RoutingSettings = field(default_factory=RoutingSettings)
    clock: Callable[[], float] = time.time
    metrics: Metrics = field(default_factory=Metrics)


def agent_card(agent: Agent) -> dict[str, str]:
    """What a visitor may know of an agent: a display name and a role, nothing else."""
    return {"display_name": agent.display_name, "role": agent.role.value}
