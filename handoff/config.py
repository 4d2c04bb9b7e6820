"""The one configuration object: `endpoints.yml` (section `relais`) plus environment.

`load_settings()` is called once at start-up; a bad value raises `ConfigError`
naming the setting, so the service never starts half-configured.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any

import yaml
from limits import parse_many

from handoff.domain import Pool

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENDPOINTS = REPO_ROOT / "endpoints.yml"
ROUTING_MODES = ("auto", "manual")
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names it."""


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    offer_timeout_seconds: float = 30.0
    overflow_after_seconds: float = 120.0
    grace_period_seconds: float = 60.0
    heartbeat_timeout_seconds: float = 45.0
    default_capacity: int = 3
    modes: Mapping[Pool, str] = field(
        default_factory=lambda: {Pool.AMBASSADOR: "auto", Pool.ADVISOR: "auto"}
    )
    sweep_interval_seconds: float = 0.5
    # A visitor waiting this long is told so and offered the offline form (keeping their place).
    max_wait_seconds: float = 180.0
    # Queue positions are published to waiting visitors at most this often (coalesced).
    position_interval_seconds: float = 0.5


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """Abuse limits in the `limits` notation ("5/minute", several tiers with ";"), far above real use.

    Each is counted per key over a moving window (`handoff/services/limits.py`)."""

    login_per_ip: str = "20/minute"  # every attempt from one address
    login_per_username: str = "5/minute;20/hour"  # attempts on one account; a success starts afresh
    conversations_per_ip: str = "20/minute"
    messages_per_conversation: str = "60/minute"  # a visitor's messages
    messages_per_agent: str = "120/minute"
    socket_frames: str = "20/second"  # over: an `error` frame
    socket_flood: str = "60/second"  # over: the socket is closed (1008)
    bot_per_conversation: str = "1/second"  # turns sent to Rasa
    socket_opens_per_ip: str = "60/minute"  # new WebSockets (a reconnection replays what was missed)
    # Not rates: how many WebSockets one address may hold open at once (per instance), and how
    # long a refused request waits before its 429 (a flooding client is slowed, at no CPU cost).
    sockets_per_ip: int = 100
    refusal_delay_seconds: float = 0.5


COUNT_NAMES = ("sockets_per_ip", "refusal_delay_seconds")  # the limits that are not rates
LIMIT_NAMES = tuple(name for name in LimitSettings.__dataclass_fields__ if name not in COUNT_NAMES)


@dataclass(frozen=True, slots=True)
class ModerationSettings:
    """Abusive words masked in what visitors and agents send each other (`handoff/moderation`)."""

    enabled: bool = True
    # Word lists: a language code names a bundled list (`handoff/moderation/<code>.yml`),
    # anything else is the path of a YAML file of the same shape. Every list applies to every text.
    lists: tuple[str, ...] = ("en", "fr")
Network = IPv4Network | IPv6Network


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    database_url: str = "sqlite+aiosqlite:///var/relais.db"
    backend: str = "memory"  # "memory" | "redis"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "relais:"  # every Redis key and channel starts with it
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_seconds: float = 5.0
    rasa_token: str | None = None  # Rasa's --auth-token: its HTTP API answers nobody else
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    min_available: Mapping[Pool, int] = field(
        default_factory=lambda: {Pool.AMBASSADOR: 1, Pool.ADVISOR: 1}
    )
    agent_token_ttl_seconds: float = 12 * 3600  # a console session's lifetime
    agent_idle_timeout_seconds: float = 2 * 3600  # ... and how long it may go unused
    widget_origins: tuple[str, ...] = ("*",)  # sites allowed to embed the widget (CORS)
    log_format: str = "text"  # "json" (one object per line, for production) | "text"
    log_level: str = "INFO"
    # On SIGTERM, requests in flight get this long to finish (docs/architecture.md, "Shutting down").
    shutdown_timeout_seconds: float = 10.0
    # Conversations untouched this long are anonymised (docs/privacy.md); 0 keeps them.
    retention_days: float = 365.0
    limits: LimitSettings = field(default_factory=LimitSettings)
    # Proxies whose X-Forwarded-For is believed (addresses or networks); none by default.
    trusted_proxies: tuple[Network, ...] = ()
    # A WebSocket's first frame (`{"type": "auth", ...}`) must come within this long, else 4401.
    socket_auth_seconds: float = 5.0
    moderation: ModerationSettings = field(default_factory=ModerationSettings)


DEFAULTS = Settings()


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"relais.{name} must be a mapping, got {type(value).__name__}")
    return value


def _number(value: Any, name: str, *, minimum: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if number < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {number}")
    return number


def _integer(value: Any, name: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {number}")
    return number


def _per_pool(raw: Any, name: str, default: Mapping[Pool, Any]) -> dict[Pool, Any]:
    if raw is None:
        return dict(default)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{name} must be a mapping of pool to value")
    result = dict(default)
    for key, value in raw.items():
        try:
            result[Pool(key)] = value
        except ValueError:
            raise ConfigError(f"{name}: unknown pool {key!r} (expected ambassador or advisor)") from None
    return result


def _url(value: Any, name: str, schemes: tuple[str, ...]) -> str:
    text = str(value or "")
    if not text.startswith(schemes):
        raise ConfigError(f"{name} must start with one of {', '.join(schemes)}, got {text!r}")
    return text


def _limits(raw: Mapping[str, Any]) -> LimitSettings:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"relais.limits.{key}"
        if key == "sockets_per_ip":
            values[key] = _integer(value, name, minimum=1)
            continue
        if key == "refusal_delay_seconds":
            values[key] = _number(value, name)
            continue
        if key not in LIMIT_NAMES:
            known = ", ".join((*LIMIT_NAMES, *COUNT_NAMES))
            raise ConfigError(f"{name} is not a known limit (expected one of {known})")
        values[key] = str(value)
    limits = LimitSettings(**values)
    for key in LIMIT_NAMES:
        text = getattr(limits, key)
        try:
            parse_many(text)
        except ValueError:
            raise ConfigError(
                f"relais.limits.{key} must be like 5/minute or 5/minute;20/hour, got {text!r}"
            ) from None
    return limits


def _moderation(raw: Mapping[str, Any]) -> ModerationSettings:
    enabled = raw.get("enabled", DEFAULTS.moderation.enabled)
    if not isinstance(enabled, bool):
        raise ConfigError(f"relais.moderation.enabled must be true or false, got {enabled!r}")
    lists = raw.get("lists", list(DEFAULTS.moderation.lists))
    if isinstance(lists, str):
        lists = [item for item in lists.replace(",", " ").split() if item]
    if not isinstance(lists, list) or not all(isinstance(item, str) and item for item in lists):
        raise ConfigError("relais.moderation.lists must be a list of language codes or file paths")
    return ModerationSettings(enabled=enabled, lists=tuple(lists))


def _networks(raw: Any, name: str) -> tuple[Network, ...]:
    if isinstance(raw, str):
        raw = [item for item in raw.replace(",", " ").split() if item]
    if not isinstance(raw, list):
        raise ConfigError(f"{name} must be a list of addresses or networks")
    try:
        return tuple(ip_network(str(item), strict=False) for item in raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def settings_from_mapping(raw: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """Build and validate settings from the `relais` section and an environment."""
    service = _section(raw, "service")
    store = _section(raw, "store")
    backend = _section(raw, "backend")
    bot = _section(raw, "bot")
    routing = _section(raw, "routing")
    widget = _section(raw, "widget")
    logs = _section(raw, "log")
    privacy = _section(raw, "privacy")
    sessions = _section(raw, "sessions")
    limits = _limits(_section(raw, "limits"))
    moderation = _moderation(_section(raw, "moderation"))

    host = str(env.get("RELAIS_HOST") or service.get("host") or "127.0.0.1")
    port = _integer(env.get("RELAIS_PORT") or service.get("port", 8080), "relais.service.port (RELAIS_PORT)")
    if not 0 <= port <= 65535:
        raise ConfigError(f"relais.service.port (RELAIS_PORT) must be 0-65535, got {port}")
    trusted_proxies = _networks(
        env.get("RELAIS_TRUSTED_PROXIES") or service.get("trusted_proxies") or [],
        "relais.service.trusted_proxies (RELAIS_TRUSTED_PROXIES)",
    )
    public_url = str(env.get("RELAIS_PUBLIC_URL") or service.get("public_url") or f"http://{host}:{port}")
    shutdown_timeout = _number(
        service.get("shutdown_timeout_seconds", DEFAULTS.shutdown_timeout_seconds),
        "relais.service.shutdown_timeout_seconds", minimum=0.1,
    )

    database_url = _url(
        env.get("DATABASE_URL") or store.get("url") or DEFAULTS.database_url,
        "relais.store.url (DATABASE_URL)",
        ("sqlite+aiosqlite://", "postgresql+asyncpg://", "postgresql://", "postgres://"),
    )
    if database_url.startswith(("postgresql://", "postgres://")):
        database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]

    redis_url_env = env.get("REDIS_URL")
    backend_type = "redis" if redis_url_env else str(backend.get("type", "memory"))
    if backend_type not in ("memory", "redis"):
        raise ConfigError(f"relais.backend.type must be memory or redis, got {backend_type!r}")
    redis_url = _url(
        redis_url_env or backend.get("redis_url") or DEFAULTS.redis_url,
        "relais.backend.redis_url (REDIS_URL)",
        ("redis://", "rediss://", "unix://"),
    )

    redis_prefix = str(backend.get("key_prefix") or DEFAULTS.redis_prefix)
    rasa_url = _url(env.get("RASA_URL") or bot.get("url") or DEFAULTS.rasa_url, "relais.bot.url (RASA_URL)", ("http://", "https://"))
    rasa_timeout = _number(bot.get("timeout_seconds", 5), "relais.bot.timeout_seconds", minimum=0.1)
    rasa_token = str(env.get("RASA_TOKEN") or bot.get("token") or "") or None

    modes = _per_pool(routing.get("modes"), "relais.routing.modes", DEFAULTS.routing.modes)
    for pool, mode in modes.items():
        if mode not in ROUTING_MODES:
            raise ConfigError(f"relais.routing.modes.{pool.value} must be auto or manual, got {mode!r}")
    routing_settings = RoutingSettings(
        offer_timeout_seconds=_number(routing.get("offer_timeout_seconds", 30), "relais.routing.offer_timeout_seconds", minimum=0.1),
        overflow_after_seconds=_number(routing.get("overflow_after_seconds", 120), "relais.routing.overflow_after_seconds"),
        grace_period_seconds=_number(routing.get("grace_period_seconds", 60), "relais.routing.grace_period_seconds"),
        heartbeat_timeout_seconds=_number(routing.get("heartbeat_timeout_seconds", 45), "relais.routing.heartbeat_timeout_seconds", minimum=1),
        default_capacity=_integer(routing.get("default_capacity", 3), "relais.routing.default_capacity", minimum=1),
        modes=modes,
        sweep_interval_seconds=_number(routing.get("sweep_interval_seconds", 0.5), "relais.routing.sweep_interval_seconds", minimum=0.05),
        max_wait_seconds=_number(routing.get("max_wait_seconds", 180), "relais.routing.max_wait_seconds", minimum=1),
        position_interval_seconds=_number(
            routing.get("position_interval_seconds", 0.5), "relais.routing.position_interval_seconds", minimum=0.05
        ),
    )
    min_available = {
        pool: _integer(value, f"relais.widget.min_available.{pool.value}")
        for pool, value in _per_pool(widget.get("min_available"), "relais.widget.min_available", DEFAULTS.min_available).items()
    }
    origins_raw = env.get("RELAIS_WIDGET_ORIGINS") or widget.get("allowed_origins") or ["*"]
    if isinstance(origins_raw, str):
        origins_raw = [item for item in origins_raw.replace(",", " ").split() if item]
    if not isinstance(origins_raw, list) or not origins_raw:
        raise ConfigError("relais.widget.allowed_origins (RELAIS_WIDGET_ORIGINS) must be a list of origins or *")
    widget_origins = tuple(
        origin if origin == "*" else _url(origin, "relais.widget.allowed_origins (RELAIS_WIDGET_ORIGINS)", ("http://", "https://")).rstrip("/")
        for origin in map(str, origins_raw)
    )
    log_format = str(env.get("RELAIS_LOG_FORMAT") or logs.get("format") or DEFAULTS.log_format).lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"relais.log.format (RELAIS_LOG_FORMAT) must be json or text, got {log_format!r}")
    log_level = str(env.get("RELAIS_LOG_LEVEL") or logs.get("level") or DEFAULTS.log_level).upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"relais.log.level (RELAIS_LOG_LEVEL) must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    return Settings(
        host=host,
        port=port,
        public_url=public_url.rstrip("/"),
        database_url=database_url,
        backend=backend_type,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        rasa_url=rasa_url.rstrip("/"),
        rasa_timeout_seconds=rasa_timeout,
        rasa_token=rasa_token,
        routing=routing_settings,
        min_available=min_available,
        widget_origins=widget_origins,
        log_format=log_format,
        log_level=log_level,
        shutdown_timeout_seconds=shutdown_timeout,
        agent_token_ttl_seconds=3600 * _number(
            sessions.get("lifetime_hours", DEFAULTS.agent_token_ttl_seconds / 3600), "relais.sessions.lifetime_hours",
            minimum=0.01,
        ),
        agent_idle_timeout_seconds=60 * _number(
            sessions.get("idle_minutes", DEFAULTS.agent_idle_timeout_seconds / 60), "relais.sessions.idle_minutes",
            minimum=1,
        ),
        retention_days=_number(
            privacy.get("retention_days", DEFAULTS.retention_days), "relais.privacy.retention_days", minimum=0
        ),
        limits=limits,
        trusted_proxies=trusted_proxies,
        socket_auth_seconds=_number(
            service.get("socket_auth_seconds", DEFAULTS.socket_auth_seconds), "relais.service.socket_auth_seconds",
            minimum=0.1,
        ),
        moderation=moderation,
    )


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read `endpoints.yml` (or `RELAIS_ENDPOINTS`) and the environment; validate everything."""
    env = os.environ if env is None else env
    path = path or Path(env.get("RELAIS_ENDPOINTS") or DEFAULT_ENDPOINTS)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, Mapping):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    return settings_from_mapping(_section(document, "relais"), env)
