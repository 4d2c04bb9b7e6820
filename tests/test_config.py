"""Settings: defaults, environment overrides, and clear errors for bad values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from handoff.config import (
    DEFAULT_ENDPOINTS,
    ENV_VARIABLES,
    ConfigError,
    LimitSettings,
    RoutingSettings,
    load_settings,
    settings_from_mapping,
)
from handoff.domain import Pool


def test_the_shipped_endpoints_file_gives_embedded_defaults() -> None:
    settings = load_settings(DEFAULT_ENDPOINTS, env={})
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.backend == "memory"
    assert settings.port == 8080
    assert settings.rasa_url == "http://127.0.0.1:5005"
    assert settings.routing.offer_timeout_seconds == 30
    assert settings.routing.modes[Pool.AMBASSADOR] == "auto"
    assert settings.routing.max_wait_seconds == 180
    assert settings.routing.position_interval_seconds == 0.5
    assert settings_from_mapping({"routing": {"max_wait_seconds": 600}}, {}).routing.max_wait_seconds == 600
    assert settings.shutdown_timeout_seconds == 10
    assert settings_from_mapping({"service": {"shutdown_timeout_seconds": 2.5}}, {}).shutdown_timeout_seconds == 2.5
    assert settings.retention_days == 365
    assert (settings.agent_token_ttl_seconds, settings.agent_idle_timeout_seconds) == (12 * 3600, 2 * 3600)
    shorter = settings_from_mapping({"sessions": {"lifetime_hours": 8, "idle_minutes": 30}}, {})
    assert (shorter.agent_token_ttl_seconds, shorter.agent_idle_timeout_seconds) == (8 * 3600, 30 * 60)
    assert settings_from_mapping({"privacy": {"retention_days": 0}}, {}).retention_days == 0
    review = settings.review
    assert (review.confidence_threshold, review.similarity, review.held_out_share) == (0.6, 0.85, 0.2)
    assert review.bot_dir == DEFAULT_ENDPOINTS.parent / "bot"
    changed = settings_from_mapping({"review": {"similarity": 0.9, "bot_dir": "/srv/bot"}}, {}).review
    assert (changed.similarity, changed.bot_dir) == (0.9, Path("/srv/bot"))


def test_log_format_is_text_by_default_and_json_on_request() -> None:
    defaults = settings_from_mapping({}, {})
    assert (defaults.log_format, defaults.log_level) == ("text", "INFO")
    assert settings_from_mapping({"log": {"format": "json", "level": "warning"}}, {}).log_level == "WARNING"
    assert settings_from_mapping({"log": {"format": "text"}}, {"RELAIS_LOG_FORMAT": "JSON"}).log_format == "json"


def test_environment_overrides_the_file() -> None:
    settings = load_settings(
        DEFAULT_ENDPOINTS,
        env={"DATABASE_URL": "postgresql://u@db/relais", "REDIS_URL": "redis://r:6379/1", "RELAIS_PORT": "9000"},
    )
    assert settings.database_url == "postgresql+asyncpg://u@db/relais"
    assert settings.backend == "redis"
    assert settings.redis_url == "redis://r:6379/1"
    assert settings.port == 9000


@pytest.mark.parametrize(
    ("raw", "env", "named"),
    [
        ({"routing": {"modes": {"ambassador": "random"}}}, {}, "relais.routing.modes.ambassador"),
        ({"routing": {"modes": {"robots": "auto"}}}, {}, "relais.routing.modes"),
        ({"routing": {"offer_timeout_seconds": "soon"}}, {}, "relais.routing.offer_timeout_seconds"),
        ({"routing": {"default_capacity": 0}}, {}, "relais.routing.default_capacity"),
        ({"routing": {"max_wait_seconds": "long"}}, {}, "relais.routing.max_wait_seconds"),
        ({"routing": {"max_wait_seconds": 0}}, {}, "relais.routing.max_wait_seconds"),
        ({"routing": {"position_interval_seconds": 0}}, {}, "relais.routing.position_interval_seconds"),
        ({"service": {"shutdown_timeout_seconds": "soon"}}, {}, "relais.service.shutdown_timeout_seconds"),
        ({"service": {"shutdown_timeout_seconds": 0}}, {}, "relais.service.shutdown_timeout_seconds"),
        ({"privacy": {"retention_days": -1}}, {}, "relais.privacy.retention_days"),
        ({"sessions": {"idle_minutes": 0}}, {}, "relais.sessions.idle_minutes"),
        ({"sessions": {"lifetime_hours": "a day"}}, {}, "relais.sessions.lifetime_hours"),
        ({"privacy": {"retention_days": "nan"}}, {}, "relais.privacy.retention_days"),
        ({"routing": {"offer_timeout_seconds": "inf"}}, {}, "relais.routing.offer_timeout_seconds"),
        ({}, {"RELAIS_PORT": "http"}, "RELAIS_PORT"),
        ({}, {"RELAIS_PORT": "70000"}, "RELAIS_PORT"),
        ({}, {"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"backend": {"type": "etcd"}}, {}, "relais.backend.type"),
        ({"bot": {"url": "ftp://x"}}, {}, "RASA_URL"),
        ({"store": "sqlite"}, {}, "relais.store"),
        ({"log": {"format": "xml"}}, {}, "relais.log.format"),
        ({}, {"RELAIS_LOG_FORMAT": "logfmt"}, "RELAIS_LOG_FORMAT"),
        ({"log": {"level": "chatty"}}, {}, "relais.log.level"),
        # Unknown settings (a typo) fail too, naming what was written.
        ({"routing": {"offer_timeout": 3}}, {}, "relais.routing.offer_timeout"),
        ({"limits": {"logins": "1/second"}}, {}, "relais.limits.logins"),
        ({"servce": {"port": 1}}, {}, "relais.servce"),
        ({"limits": {"login_per_ip": "lots"}}, {}, "relais.limits.login_per_ip"),
        ({"routing": {"default_capacity": True}}, {}, "relais.routing.default_capacity"),
        ({"widget": {"min_available": {"advisor": -1}}}, {}, "relais.widget.min_available.advisor"),
        ({}, {"RELAIS_TRUSTED_PROXIES": "10.0.0.300"}, "RELAIS_TRUSTED_PROXIES"),
        ({}, {"REDIS_URL": "http://r"}, "REDIS_URL"),
        ({"limits": {"sockets_per_ip": 0}}, {}, "relais.limits.sockets_per_ip"),
        ({"limits": {"socket_opens_per_ip": "often"}}, {}, "relais.limits.socket_opens_per_ip"),
        ({"moderation": {"enabled": "maybe"}}, {}, "relais.moderation.enabled"),
        ({"moderation": {"lists": [""]}}, {}, "relais.moderation.lists"),
        ({"service": {"socket_auth_seconds": 0}}, {}, "relais.service.socket_auth_seconds"),
        ({"smtp": {"port": 0}}, {}, "relais.smtp.port"),
        ({"review": {"similarity": 1.5}}, {}, "relais.review.similarity"),
        ({"review": {"confidence_threshold": "high"}}, {}, "relais.review.confidence_threshold"),
        ({"review": {"held_out_share": 0.95}}, {}, "relais.review.held_out_share"),
    ],
)
def test_bad_values_name_the_setting(raw: dict[str, object], env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        settings_from_mapping(raw, env)


def test_missing_or_broken_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.yml", env={})
    broken = tmp_path / "broken.yml"
    broken.write_text("relais: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(broken, env={})


def test_widget_origins_are_validated() -> None:
    settings = settings_from_mapping({"widget": {"allowed_origins": ["https://shop.example/"]}}, {})
    assert settings.widget_origins == ("https://shop.example",)
    from_env = settings_from_mapping({}, {"RELAIS_WIDGET_ORIGINS": "https://a.example, https://b.example"})
    assert from_env.widget_origins == ("https://a.example", "https://b.example")
    assert settings_from_mapping({}, {}).widget_origins == ("*",)
    with pytest.raises(ConfigError, match="allowed_origins"):
        settings_from_mapping({"widget": {"allowed_origins": ["ftp://nope"]}}, {})


def test_unknown_settings_are_errors_that_say_so() -> None:
    with pytest.raises(ConfigError, match=r"relais\.routing\.offer_timeout: is not a known setting"):
        settings_from_mapping({"routing": {"offer_timeout": 3}}, {})


def test_pools_left_out_keep_their_default_and_redis_url_selects_redis() -> None:
    settings = settings_from_mapping({"routing": {"modes": {"advisor": "manual"}}, "widget": {"min_available": {"advisor": 2}}}, {})
    assert settings.routing.modes == {Pool.AMBASSADOR: "auto", Pool.ADVISOR: "manual"}
    assert settings.min_available == {Pool.AMBASSADOR: 1, Pool.ADVISOR: 2}
    from_env = settings_from_mapping({"backend": {"type": "memory"}}, {"REDIS_URL": "redis://r:6379/3", "RELAIS_PORT": ""})
    assert (from_env.backend, from_env.redis_url, from_env.port) == ("redis", "redis://r:6379/3", 8080)  # empty: unset


def test_every_environment_variable_is_declared_once_on_its_setting() -> None:
    assert set(ENV_VARIABLES) == {
        "RELAIS_HOST", "RELAIS_PORT", "RELAIS_PUBLIC_URL", "RELAIS_TRUSTED_PROXIES", "DATABASE_URL", "REDIS_URL",
        "RASA_URL", "RASA_TOKEN", "RELAIS_WIDGET_ORIGINS", "RELAIS_LOG_FORMAT", "RELAIS_LOG_LEVEL",
        "RELAIS_BOT_MODELS_DIR", "RELAIS_SMTP_HOST", "RELAIS_SMTP_PASSWORD",
    }
    settings = settings_from_mapping({}, {"RELAIS_HOST": "0.0.0.0", "RASA_TOKEN": "t", "RELAIS_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1"})
    assert (settings.host, settings.rasa_token, settings.public_url) == ("0.0.0.0", "t", "http://0.0.0.0:8080")
    assert [str(network) for network in settings.trusted_proxies] == ["10.0.0.0/8", "192.168.1.1/32"]


def test_the_code_facing_sections_validate_and_can_be_replaced() -> None:
    routing = replace(RoutingSettings(), sweep_interval_seconds=0.1)
    assert routing.sweep_interval_seconds == 0.1
    with pytest.raises(ValidationError):
        RoutingSettings(sweep_interval_seconds=0)
    with pytest.raises(ValidationError):
        LimitSettings(socket_frames="often")
def test_smtp_settings_from_the_file_and_the_environment_and_the_password_never_shown() -> None:
    defaults = load_settings(DEFAULT_ENDPOINTS, env={}).smtp
    assert (defaults.host, defaults.port, defaults.starttls, defaults.sender) == (None, 587, True, "relais@localhost")
    raw = {"smtp": {"host": "mail.example", "port": 2525, "username": "relais", "password": "from-file",
                    "from": "shop@example.org", "starttls": "false"}}
    smtp = settings_from_mapping(raw, {}).smtp
    assert (smtp.host, smtp.port, smtp.username, smtp.password, smtp.sender, smtp.starttls) == (
        "mail.example", 2525, "relais", "from-file", "shop@example.org", False)
    env = {"RELAIS_SMTP_HOST": "relay.internal", "RELAIS_SMTP_PASSWORD": "hunter2-secret"}
    settings = settings_from_mapping(raw, env)
    assert (settings.smtp.host, settings.smtp.password) == ("relay.internal", "hunter2-secret")
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.smtp)
    for bad, named in (({"port": 0}, "relais.smtp.port"), ({"from": "nobody"}, "relais.smtp.from"),
                       ({"starttls": "maybe"}, "relais.smtp.starttls")):
        with pytest.raises(ConfigError, match=named):
            settings_from_mapping({"smtp": bad}, {})
