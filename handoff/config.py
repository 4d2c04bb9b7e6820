"""The one configuration object: `endpoints.yml` (section `relais`) plus environment.

One definition (pydantic-settings) gives the file's sections, the environment
variables, the defaults and the errors: each section is a model whose fields
carry their type, bounds and default, and the environment variable that
overrides them (`env(...)`, read by `NamedEnvironment`). `load_settings()` is
called once at start-up; a bad or unknown setting raises `ConfigError` naming it
(`relais.routing.offer_timeout_seconds: …`, with the variable when there is one),
so the service never starts half-configured. The code reads the flat, frozen
`Settings` (and its `RoutingSettings`, `LimitSettings`); docs/configuration.md
says how to add a setting.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from limits import parse_many
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
)
from pydantic.dataclasses import dataclass as validated_dataclass
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from handoff.domain import Pool

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENDPOINTS = REPO_ROOT / "endpoints.yml"
ROUTING_MODES = ("auto", "manual")
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DATABASE_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://", "postgresql://", "postgres://")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
HTTP_SCHEMES = ("http://", "https://")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names it."""


# --- value types shared by the sections ----------------------------------------------


def _finite(value: Any) -> Any:
    """Numbers and numeric strings pass on; true/false, NaN and infinities do not."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    if isinstance(value, str | int | float):
        try:
            number = float(value)
        except ValueError:
            return value  # pydantic says it is not a number
        if not math.isfinite(number):
            raise ValueError(f"must be a finite number, got {value!r}")
    return value


Finite = BeforeValidator(_finite)


def _networks(value: Any) -> Any:
    """Addresses or networks (host bits allowed, as `ip_network(strict=False)`)."""
    items = _words(value)
    if not isinstance(items, list):
        return items
    try:
        return [ip_network(str(item), strict=False) for item in items]
    except ValueError as exc:
        raise ValueError(str(exc)) from None


def _starting_with(*schemes: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not value.startswith(schemes):
            raise ValueError(f"must start with one of {', '.join(schemes)}, got {value!r}")
        return value

    return check


def _words(value: Any) -> Any:
    """A list from the environment: "a, b c" -> ["a", "b", "c"]."""
    if isinstance(value, str):
        return [item for item in value.replace(",", " ").split() if item]
    return value


def _limit(value: str) -> str:
    try:
        parse_many(value)
    except ValueError:
        raise ValueError(f"must be like 5/minute or 5/minute;20/hour, got {value!r}") from None
    return value


def env(name: str, **kwargs: Any) -> Any:
    """A field overridden by the environment variable `name` (a non-empty value wins over the file)."""
    return Field(json_schema_extra={"env": name}, **kwargs)


Limit = Annotated[str, BeforeValidator(str), AfterValidator(_limit)]
Mode = Literal["auto", "manual"]


def _every_pool(defaults: Mapping[Pool, Any]) -> AfterValidator:
    """Pools the file leaves out keep their default."""
    return AfterValidator(lambda value: {**defaults, **value})


# --- what the code reads --------------------------------------------------------------

_MODES: dict[Pool, Mode] = {Pool.AMBASSADOR: "auto", Pool.ADVISOR: "auto"}


@validated_dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
class RoutingSettings:
    """The `relais.routing` section, as it is."""

    offer_timeout_seconds: Annotated[float, Finite, Field(ge=0.1)] = 30.0
    overflow_after_seconds: Annotated[float, Finite, Field(ge=0)] = 120.0
    grace_period_seconds: Annotated[float, Finite, Field(ge=0)] = 60.0
    heartbeat_timeout_seconds: Annotated[float, Finite, Field(ge=1)] = 45.0
    default_capacity: Annotated[int, Finite, Field(ge=1)] = 3
    modes: Annotated[Mapping[Pool, Mode], _every_pool(_MODES)] = field(default_factory=lambda: dict(_MODES))
    sweep_interval_seconds: Annotated[float, Finite, Field(ge=0.05)] = 0.5
    # A visitor waiting this long is told so and offered the offline form (keeping their place).
    max_wait_seconds: Annotated[float, Finite, Field(ge=1)] = 180.0
    # Queue positions are published to waiting visitors at most this often (coalesced).
    position_interval_seconds: Annotated[float, Finite, Field(ge=0.05)] = 0.5


@validated_dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
class LimitSettings:
    """Abuse limits in the `limits` notation ("5/minute", several tiers with ";"), far above real use.

    Each is counted per key over a moving window (`handoff/services/limits.py`). The
    `relais.limits` section, as it is."""

    login_per_ip: Limit = "20/minute"  # every attempt from one address
    login_per_username: Limit = "5/minute;20/hour"  # attempts on one account; a success starts afresh
    conversations_per_ip: Limit = "20/minute"
    messages_per_conversation: Limit = "60/minute"  # a visitor's messages
    messages_per_agent: Limit = "120/minute"
    socket_frames: Limit = "20/second"  # over: an `error` frame
    socket_flood: Limit = "60/second"  # over: the socket is closed (1008)
    bot_per_conversation: Limit = "1/second"  # turns sent to Rasa
    socket_opens_per_ip: Limit = "60/minute"  # new WebSockets (a reconnection replays what was missed)
    # Not rates: how many WebSockets one address may hold open at once (per instance), and how
    # long a refused request waits before its 429 (a flooding client is slowed, at no CPU cost).
    sockets_per_ip: Annotated[int, Finite, Field(ge=1)] = 100
    refusal_delay_seconds: Annotated[float, Finite, Field(ge=0)] = 0.5


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """The SMTP server that sends advisors' answers to offline messages (`services/mail.py`).

    No host: answering by email is refused with a clear error. The password is never logged
    (its `repr` hides it)."""

    host: str | None = None
    port: int = 587
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "relais@localhost"  # the From: address (`smtp.from` in endpoints.yml)
    starttls: bool = True
    timeout_seconds: float = 10.0


COUNT_NAMES = ("sockets_per_ip", "refusal_delay_seconds")  # the limits that are not rates
LIMIT_NAMES = tuple(name for name in LimitSettings.__dataclass_fields__ if name not in COUNT_NAMES)


@validated_dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
class ModerationSettings:
    """Abusive words masked in what visitors and agents send each other (`handoff/moderation`).
    The `relais.moderation` section, as it is."""

    enabled: StrictBool = True
    # Word lists: a language code names a bundled list (`handoff/moderation/<code>.yml`),
    # anything else is the path of a YAML file of the same shape. Every list applies to every text.
    lists: Annotated[tuple[Annotated[str, Field(min_length=1)], ...], BeforeValidator(_words)] = ("en", "fr")


def _in_repository(path: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


Fraction = Annotated[float, Finite, Field(ge=0, le=1)]


@validated_dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
class ReviewSettings:
    """What the maintainers' review lists and where its export writes (docs/maintainers.md).
    The `relais.review` section, as it is."""

    confidence_threshold: Fraction = 0.6  # a bot turn below this confidence is worth a look
    similarity: Fraction = 0.85  # two messages this similar (0-1, rapidfuzz) are one row
    bot_dir: Annotated[Path, AfterValidator(_in_repository)] = REPO_ROOT / "bot"  # the Rasa project the export writes into
    # of the reviewed examples, kept apart for scoring
    held_out_share: Annotated[float, Finite, Field(ge=0, le=0.9)] = 0.2


Network = IPv4Network | IPv6Network


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the code reads, flat; built from the sections below by `settings_from_mapping`."""

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
    # The bot's models (relais-<sha12>.tar.gz), the start-up link relais.tar.gz, history.json.
    models_dir: Path = REPO_ROOT / "bot" / "models"
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
    review: ReviewSettings = field(default_factory=ReviewSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    # A WebSocket's first frame (`{"type": "auth", ...}`) must come within this long, else 4401.
    socket_auth_seconds: float = 5.0
    moderation: ModerationSettings = field(default_factory=ModerationSettings)


DEFAULTS = Settings()


# --- the file's sections and their environment variables -------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _origin(value: str) -> str:
    return value if value == "*" else _starting_with(*HTTP_SCHEMES)(value).rstrip("/")


class ServiceSection(_Section):
    host: str = env("RELAIS_HOST", default=DEFAULTS.host)
    port: Annotated[int, Finite, Field(ge=0, le=65535)] = env("RELAIS_PORT", default=DEFAULTS.port)
    public_url: str | None = env("RELAIS_PUBLIC_URL", default=None)  # default: http://host:port
    shutdown_timeout_seconds: Annotated[float, Finite, Field(ge=0.1)] = DEFAULTS.shutdown_timeout_seconds
    socket_auth_seconds: Annotated[float, Finite, Field(ge=0.1)] = DEFAULTS.socket_auth_seconds
    trusted_proxies: Annotated[list[Network], BeforeValidator(_networks)] = env("RELAIS_TRUSTED_PROXIES", default=[])


class StoreSection(_Section):
    url: Annotated[str, AfterValidator(_starting_with(*DATABASE_SCHEMES))] = env(
        "DATABASE_URL", default=DEFAULTS.database_url
    )


class BackendSection(_Section):
    kind: Literal["memory", "redis"] = Field("memory", alias="type")  # REDIS_URL set: redis
    redis_url: Annotated[str, AfterValidator(_starting_with(*REDIS_SCHEMES))] = env(
        "REDIS_URL", default=DEFAULTS.redis_url
    )
    key_prefix: str = Field(DEFAULTS.redis_prefix, min_length=1)


class BotSection(_Section):
    url: Annotated[str, AfterValidator(_starting_with(*HTTP_SCHEMES))] = env("RASA_URL", default=DEFAULTS.rasa_url)
    timeout_seconds: Annotated[float, Finite, Field(ge=0.1)] = DEFAULTS.rasa_timeout_seconds
    token: str | None = env("RASA_TOKEN", default=None)
    models_dir: Annotated[Path, AfterValidator(_in_repository)] = env("RELAIS_BOT_MODELS_DIR", default=DEFAULTS.models_dir)


class WidgetSection(_Section):
    min_available: Annotated[Mapping[Pool, Annotated[int, Finite, Field(ge=0)]], _every_pool(DEFAULTS.min_available)] = Field(
        default_factory=lambda: dict(DEFAULTS.min_available)
    )
    allowed_origins: Annotated[
        list[Annotated[str, AfterValidator(_origin)]], BeforeValidator(_words), Field(min_length=1)
    ] = env("RELAIS_WIDGET_ORIGINS", default=list(DEFAULTS.widget_origins))


class LogSection(_Section):
    format: Annotated[Literal["json", "text"], BeforeValidator(lambda v: str(v).lower())] = env(
        "RELAIS_LOG_FORMAT", default=DEFAULTS.log_format
    )
    level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(lambda v: str(v).upper())] = env(
        "RELAIS_LOG_LEVEL", default=DEFAULTS.log_level
    )


class PrivacySection(_Section):
    retention_days: Annotated[float, Finite, Field(ge=0)] = DEFAULTS.retention_days


class SessionsSection(_Section):
    lifetime_hours: Annotated[float, Finite, Field(ge=0.01)] = DEFAULTS.agent_token_ttl_seconds / 3600
    idle_minutes: Annotated[float, Finite, Field(ge=1)] = DEFAULTS.agent_idle_timeout_seconds / 60


_SMTP = SmtpSettings()


def _email(value: str) -> str:
    if "@" not in value:
        raise ValueError(f"must be an email address, got {value!r}")
    return value


class SmtpSection(_Section):
    host: Annotated[str | None, BeforeValidator(lambda v: v or None)] = env("RELAIS_SMTP_HOST", default=None)
    port: Annotated[int, Finite, Field(ge=1, le=65535)] = _SMTP.port
    username: Annotated[str | None, BeforeValidator(lambda v: v or None)] = None
    password: Annotated[str | None, BeforeValidator(lambda v: v or None)] = env(
        "RELAIS_SMTP_PASSWORD", default=None, repr=False
    )
    sender: Annotated[str, AfterValidator(_email)] = Field(_SMTP.sender, alias="from")
    starttls: bool = _SMTP.starttls
    timeout_seconds: Annotated[float, Finite, Field(ge=0.1)] = _SMTP.timeout_seconds

    def settings(self) -> SmtpSettings:
        return SmtpSettings(
            host=self.host, port=self.port, username=self.username, password=self.password,
            sender=self.sender, starttls=self.starttls, timeout_seconds=self.timeout_seconds,
        )


_ENVIRONMENT: ContextVar[Mapping[str, str]] = ContextVar("relais_environment")


class RelaisSection(BaseSettings):
    """The `relais` section of endpoints.yml; unknown keys are errors (a typo fails at start-up)."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    service: ServiceSection = Field(default_factory=ServiceSection)
    store: StoreSection = Field(default_factory=StoreSection)
    backend: BackendSection = Field(default_factory=lambda: BackendSection.model_validate({}))
    bot: BotSection = Field(default_factory=BotSection)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    widget: WidgetSection = Field(default_factory=WidgetSection)
    log: LogSection = Field(default_factory=LogSection)
    privacy: PrivacySection = Field(default_factory=PrivacySection)
    sessions: SessionsSection = Field(default_factory=SessionsSection)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    smtp: SmtpSection = Field(default_factory=lambda: SmtpSection.model_validate({}))
    moderation: ModerationSettings = Field(default_factory=ModerationSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The named environment variables over the file (given as init values); nothing else."""
        return NamedEnvironment(settings_cls), init_settings


def _env_fields() -> Iterator[tuple[str, str, str]]:
    """(variable, section, field) for every field declared with `env(...)`."""
    for section, section_field in RelaisSection.model_fields.items():
        model = section_field.annotation
        fields: Mapping[str, FieldInfo] = getattr(model, "model_fields", {})
        for name, info in fields.items():
            extra = info.json_schema_extra
            if isinstance(extra, dict) and isinstance(extra.get("env"), str):
                yield str(extra["env"]), section, name


ENV_VARIABLES = {variable: (section, name) for variable, section, name in _env_fields()}


class NamedEnvironment(PydanticBaseSettingsSource):
    """Each variable of `ENV_VARIABLES` that is set and not empty, placed at its setting.
    `REDIS_URL` also selects the Redis backend."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is done in __call__

    def __call__(self) -> dict[str, Any]:
        environment = _ENVIRONMENT.get(os.environ)
        values: dict[str, dict[str, Any]] = {}
        for variable, (section, name) in ENV_VARIABLES.items():
            if environment.get(variable):
                values.setdefault(section, {})[name] = environment[variable]
        if environment.get("REDIS_URL"):
            values.setdefault("backend", {})["type"] = "redis"
        return values


def _setting_name(location: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in location if isinstance(part, int) or part.isidentifier()]
    name = ".".join(["relais", *parts])
    if len(parts) >= 2:
        for variable, (section, field_name) in ENV_VARIABLES.items():
            if (section, field_name) == (parts[0], parts[1]):
                return f"{name} ({variable})"
    return name


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            message = "is not a known setting (docs/configuration.md lists them)"
        elif "got " not in message and item["type"] != "missing":
            message = f"{message}, got {item.get('input')!r}"
        problems.append(f"{_setting_name(tuple(item['loc']))}: {message}")
    return "; ".join(problems)


def settings_from_mapping(raw: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """Build and validate settings from the `relais` section and an environment."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"relais must be a mapping, got {type(raw).__name__}")
    token = _ENVIRONMENT.set(env)
    try:
        section = RelaisSection(**{key: value for key, value in raw.items() if value is not None})
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    finally:
        _ENVIRONMENT.reset(token)
    service, store, bot = section.service, section.store, section.bot
    database_url = store.url
    if database_url.startswith(("postgresql://", "postgres://")):
        database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
    public_url = service.public_url or f"http://{service.host}:{service.port}"
    return Settings(
        host=service.host,
        port=service.port,
        public_url=public_url.rstrip("/"),
        database_url=database_url,
        backend=section.backend.kind,
        redis_url=section.backend.redis_url,
        redis_prefix=section.backend.key_prefix,
        rasa_url=bot.url.rstrip("/"),
        rasa_timeout_seconds=bot.timeout_seconds,
        rasa_token=bot.token or None,
        models_dir=bot.models_dir,
        routing=section.routing,
        min_available=dict(section.widget.min_available),
        widget_origins=tuple(section.widget.allowed_origins),
        log_format=section.log.format,
        log_level=section.log.level,
        shutdown_timeout_seconds=service.shutdown_timeout_seconds,
        agent_token_ttl_seconds=3600 * section.sessions.lifetime_hours,
        agent_idle_timeout_seconds=60 * section.sessions.idle_minutes,
        retention_days=section.privacy.retention_days,
        limits=section.limits,
        trusted_proxies=tuple(service.trusted_proxies),
        review=section.review,
        smtp=section.smtp.settings(),
        socket_auth_seconds=service.socket_auth_seconds,
        moderation=section.moderation,
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
    return settings_from_mapping(document.get("relais") or {}, env)

REDACTED = "***"
SECRET_SETTINGS = frozenset({"rasa_token"})  # shown as *** when set
SECRET_FIELDS = frozenset({"password"})  # inside a section (smtp): shown as *** when set
URL_SETTINGS = frozenset({"database_url", "redis_url", "rasa_url", "public_url"})  # their passwords hidden


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:{REDACTED}@{host}"


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(getattr(key, "value", key)): _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)  # networks


def public_view(settings: Settings) -> dict[str, Any]:
    """The effective settings as JSON, secrets redacted (the admin API's `GET /api/admin/settings`)."""
    view: dict[str, Any] = {}
    for name in settings.__dataclass_fields__:
        value = getattr(settings, name)
        if name in SECRET_SETTINGS:
            value = REDACTED if value else None
        elif name in URL_SETTINGS:
            value = _without_password(str(value))
        elif hasattr(value, "__dataclass_fields__"):
            value = {
                key: REDACTED if key in SECRET_FIELDS and getattr(value, key) else getattr(value, key)
                for key in value.__dataclass_fields__
            }
        view[name] = _plain(value)
    return view
