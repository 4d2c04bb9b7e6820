"""The set of services one running instance uses; built by `app.create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from handoff.agents import AgentService
from handoff.botbridge import BotBridge
from handoff.botmodels import ModelPromoter
from handoff.botswitch import BotLeash
from handoff.config import Settings
from handoff.conversations import ConversationService
from handoff.moderation import Moderator
from handoff.observability.health import Readiness
from handoff.observability.metrics import Metrics
from handoff.realtime import EventBus
from handoff.routing.engine import RoutingEngine
from handoff.services.agent_admin import AgentAdmin
from handoff.services.desk import AgentDesk
from handoff.services.handoffs import HandoffCoordinator
from handoff.services.history import History
from handoff.services.inbox import InboxService
from handoff.services.limits import RateLimits
from handoff.services.review import ReviewService
from handoff.services.tools import DeskTools
from handoff.services.visitors import VisitorService
from handoff.visitor_data import VisitorData


@dataclass(slots=True)
class Services:
    settings: Settings
    conversations: ConversationService
    agents: AgentService
    engine: RoutingEngine
    bus: EventBus
    bot: BotBridge
    leash: BotLeash
    handoffs: HandoffCoordinator
    visitors: VisitorService
    desk: AgentDesk
    metrics: Metrics
    readiness: Readiness
    visitor_data: VisitorData
    limits: RateLimits
    agent_admin: AgentAdmin
    review: ReviewService
    models: ModelPromoter  # the bot's models: promote, roll back (handoff/botmodels.py)
    history: History
    inbox: InboxService
    moderation: Moderator
    tools: DeskTools  # canned responses and internal notes (the console's desk tools)
