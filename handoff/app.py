"""The composition root: the only module that chooses concrete backends.

`create_app(settings)` builds an aiohttp application whose start-up opens the
store (running migrations), the routing backend, the event bus and the bot's
switches — in memory, or on Redis when configured — the bot bridge, the abuse
limits' counters (memory or Redis) and the services, restores the routing
state from the store, and starts the sweeper that fires routing timers and the
publisher of visitors' queue positions. It also makes the instance's metrics
registry and chooses its readiness checks (`observability/`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from handoff.agents import AgentService
from handoff.api.context import SERVICES
from handoff.api.cors import cors_middleware
from handoff.api.errors import error_middleware
from handoff.api.payload import storable_params_middleware
from handoff.api.routes import setup_routes
from handoff.api.security_headers import install as install_security_headers
from handoff.api.ws import track_sockets
from handoff.background import Loop
from handoff.botbridge import BotBridge
from handoff.botmodels import HISTORY_FILE, ModelPromoter, ModelShelf, RasaModels
from handoff.botswitch import REDIS_KEY, BotLeash, MemorySwitchStore, RedisSwitchStore, SwitchStore
from handoff.canned import CannedStore
from handoff.config import Settings
from handoff.conversations import ConversationService
from handoff.inbox import Inbox
from handoff.moderation import Moderator
from handoff.observability.health import Check, Readiness
from handoff.observability.logs import echo_request_id, redact_access_log, request_id_middleware
from handoff.observability.metrics import Metrics
from handoff.realtime import EventBus
from handoff.realtime.memory import MemoryBus
from handoff.realtime.redis import RedisBus
from handoff.routing.backend import RoutingBackend
from handoff.routing.engine import RoutingEngine
from handoff.routing.memory import MemoryRoutingBackend
from handoff.routing.redis import RedisRoutingBackend
from handoff.services.agent_admin import AgentAdmin
from handoff.services.container import Services
from handoff.services.desk import AgentDesk
from handoff.services.handoffs import HandoffCoordinator
from handoff.services.history import History
from handoff.services.inbox import InboxService
from handoff.services.limits import RateLimits
from handoff.services.mail import Mailer
from handoff.services.review import ReviewService
from handoff.services.tools import DeskTools
from handoff.services.visitors import VisitorService
from handoff.store import open_store
from handoff.visitor_data import VisitorData

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024
RETENTION_INTERVAL_SECONDS = 3600.0


def make_bus(settings: Settings) -> EventBus:
    if settings.backend == "redis":
        return RedisBus(settings.redis_url, prefix=settings.redis_prefix + "bus:")
    return MemoryBus()


def _routing_backend(settings: Settings) -> RoutingBackend:
    if settings.backend == "redis":
        return RedisRoutingBackend(settings.redis_url, key_prefix=settings.redis_prefix + "routing:")
    return MemoryRoutingBackend()


def make_switch_store(settings: Settings) -> SwitchStore:
    """Where the bot's switches live: Redis, shared by every instance, or this process."""
    if settings.backend == "redis":
        return RedisSwitchStore(settings.redis_url, settings.redis_prefix + REDIS_KEY)
    return MemorySwitchStore()
def _limits(settings: Settings) -> RateLimits:
    if settings.backend == "redis":
        return RateLimits.on_redis(settings.limits, settings.redis_url, settings.redis_prefix + "limits:")
    return RateLimits.in_memory(settings.limits)


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Open every component; close them in reverse order on exit."""
    async with contextlib.AsyncExitStack() as stack:
        store = await open_store(settings.database_url)
        stack.push_async_callback(store.close)
        bus = make_bus(settings)
        await bus.start()
        stack.push_async_callback(bus.close)
        backend = _routing_backend(settings)
        await backend.start()
        stack.push_async_callback(backend.close)
        metrics = Metrics()
        bot = BotBridge(
            settings.rasa_url, settings.rasa_timeout_seconds, metrics, token=settings.rasa_token,
            history_path=settings.models_dir / HISTORY_FILE,
        )
        await bot.start()
        stack.push_async_callback(bot.close)
        switches = make_switch_store(settings)
        await switches.start()
        stack.push_async_callback(switches.close)
        leash = BotLeash(switches, bus)
        await leash.start()
        stack.push_async_callback(leash.close)

        limits = _limits(settings)
        stack.push_async_callback(limits.close)
        moderation = Moderator.from_settings(settings.moderation)

        conversations = ConversationService(store, bus, metrics)
        agents = AgentService(
            store,
            token_ttl_seconds=settings.agent_token_ttl_seconds,
            idle_timeout_seconds=settings.agent_idle_timeout_seconds,
        )
        engine = RoutingEngine(backend, settings.routing)
        handoffs = HandoffCoordinator(
        conversations, agents, engine, bus, settings.routing, metrics=metrics, min_available=settings.min_available
    )
        desk = AgentDesk(agents, conversations, handoffs, bus)
        checks: dict[str, Check] = {"store": conversations.ping}
        if isinstance(backend, RedisRoutingBackend):
            checks["redis"] = backend.redis.ping
        checks["rasa"] = bot.healthy
        desk = AgentDesk(agents, conversations, handoffs, bus)
        services = Services(
            settings=settings,
            conversations=conversations,
            agents=agents,
            engine=engine,
            bus=bus,
            bot=bot,
            leash=leash,
            handoffs=handoffs,
            visitors=VisitorService(conversations, bot, handoffs, bus, leash, limits, moderation),
            desk=desk,
            metrics=metrics,
            readiness=Readiness(checks, optional=frozenset({"rasa"})),
            visitor_data=VisitorData(store),
            limits=limits,
            agent_admin=AgentAdmin(agents, desk, bus),
            review=ReviewService(store, settings.review),
            models=ModelPromoter(ModelShelf(settings.models_dir), RasaModels(settings.rasa_url, settings.rasa_token)),
            history=History(conversations),
            inbox=InboxService(Inbox(store), conversations, agents, Mailer(settings.smtp)),
            moderation=moderation,
            tools=DeskTools(CannedStore(store), conversations, desk),
        )
        await handoffs.restore()
        handoffs.start()
        stack.push_async_callback(handoffs.stop)
        yield services


def _retention_step(services: Services) -> Callable[[], Awaitable[int]]:
    async def step() -> int:
        return await services.visitor_data.apply_retention(services.settings.retention_days)

    return step


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[
            request_id_middleware,
            cors_middleware(settings.widget_origins),
            error_middleware,
            storable_params_middleware,
        ],
        client_max_size=MAX_BODY_BYTES,
    )
    app.on_response_prepare.append(echo_request_id)
    redact_access_log()
    setup_routes(app)
    install_security_headers(app)
    track_sockets(app, settings.shutdown_timeout_seconds)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with open_services(settings) as services:
            app[SERVICES] = services
            sweeper = Loop("relais-sweeper", services.handoffs.sweep, settings.routing.sweep_interval_seconds)
            sweeper.start()
            retention = Loop("relais-retention", _retention_step(services), RETENTION_INTERVAL_SECONDS)
            if settings.retention_days > 0:
                retention.start()
            yield
            await retention.stop()
            await sweeper.stop()

    app.cleanup_ctx.append(lifecycle)
    return app
