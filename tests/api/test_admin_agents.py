"""The admin API for agents and settings (issue 12): only admins may use it, the last
active admin stays, and every change that lowers an agent's rights (or removes it)
closes that agent's open sockets within a second, on both stacks."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from handoff.config import SmtpSettings
from handoff.domain import AgentRole
from tests.support.service import PASSWORD, RunningService, ServiceFactory, add_agent, agent_socket

SESSION_ENDED = 4401
NEW_AGENT = {
    "username": "zoe", "display_name": "Zoé", "role": "ambassador", "languages": ["fr"],
    "skills": ["awning"], "capacity": 2, "password": "a long enough secret",
}


async def _closed_with(socket: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the server closes the socket; its close code (see test_sessions.py)."""
    while True:
        message = await socket.receive()
        if message.type is aiohttp.WSMsgType.CLOSE:
            return int(message.data)
        if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return None


async def _with_roles(service: RunningService) -> dict[str, str]:
    """An admin, an advisor and an ambassador, logged in: role -> token."""
    tokens = {}
    for username, role in (("ada", AgentRole.ADMIN), ("max", AgentRole.ADVISOR), ("lea", AgentRole.AMBASSADOR)):
        await add_agent(service.settings, username, role=role)
        tokens[role.value] = await service.login(username)
    return tokens


async def _agent_id(service: RunningService, admin: str, username: str) -> str:
    status, body = await service.call("GET", "/api/admin/agents", token=admin)
    assert status == 200, body
    return next(str(agent["id"]) for agent in body["agents"] if agent["username"] == username)


ADMIN_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/admin/agents", None),
    ("POST", "/api/admin/agents", NEW_AGENT),
    ("PATCH", "/api/admin/agents/{lea}", {"role": "admin"}),
    ("PUT", "/api/admin/agents/{lea}/password", {"password": "another long secret"}),
    ("DELETE", "/api/admin/agents/{lea}", None),
    ("GET", "/api/admin/settings", None),
]


async def test_each_role_that_is_not_admin_gets_403_and_no_token_gets_401(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    tokens = await _with_roles(service)
    lea = await _agent_id(service, tokens["admin"], "lea")
    for method, path, body in ADMIN_CALLS:
        url = path.format(lea=lea)
        for role in ("ambassador", "advisor"):
            status, answer = await service.call(method, url, token=tokens[role], json=body)
            assert status == 403, (role, method, url, answer)
            assert answer["error"]["code"] == "forbidden"
        status, answer = await service.call(method, url, json=body)
        assert status == 401, (method, url, answer)
    # Nothing of the above happened: lea is still an ambassador, with her password.
    status, body = await service.call("GET", "/api/admin/agents", token=tokens["admin"])
    assert [a["role"] for a in body["agents"] if a["username"] == "lea"] == ["ambassador"]
    assert "zoe" not in {a["username"] for a in body["agents"]}
    await service.login("lea")


async def test_an_admin_creates_changes_and_removes_an_agent(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    tokens = await _with_roles(service)
    admin = tokens["admin"]
    status, body = await service.call(
        "POST", "/api/admin/agents", token=admin,
        json={**NEW_AGENT, "display_name": "Zo\u202eé\u2066 Martin"},
    )
    assert status == 201, body
    created = body["agent"]
    assert (created["username"], created["role"], created["languages"], created["skills"], created["capacity"]) == (
        "zoe", "ambassador", ["fr"], ["awning"], 2,
    )
    assert created["display_name"] == "Zoé Martin"  # bidi controls stripped
    assert created["active"] is True
    status, body = await service.call("POST", "/api/agents/login", json={"username": "zoe", "password": NEW_AGENT["password"]})
    assert status == 200, body

    status, body = await service.call(
        "PATCH", f"/api/admin/agents/{created['id']}", token=admin,
        json={"role": "advisor", "languages": ["en", "fr"], "skills": [], "capacity": 4, "display_name": "Zoé M."},
    )
    assert status == 200, body
    changed = body["agent"]
    assert (changed["role"], changed["languages"], changed["skills"], changed["capacity"], changed["display_name"]) == (
        "advisor", ["en", "fr"], [], 4, "Zoé M.",
    )

    status, body = await service.call(
        "PUT", f"/api/admin/agents/{created['id']}/password", token=admin, json={"password": "the new secret!"}
    )
    assert status == 200, body
    status, _ = await service.call("POST", "/api/agents/login", json={"username": "zoe", "password": NEW_AGENT["password"]})
    assert status == 401
    status, _ = await service.call("POST", "/api/agents/login", json={"username": "zoe", "password": "the new secret!"})
    assert status == 200

    status, body = await service.call("PATCH", f"/api/admin/agents/{created['id']}", token=admin, json={"active": False})
    assert status == 200 and body["agent"]["active"] is False
    status, body = await service.call("POST", "/api/agents/login", json={"username": "zoe", "password": "the new secret!"})
    assert status == 401 and "deactivated" in body["error"]["message"]
    status, body = await service.call("PATCH", f"/api/admin/agents/{created['id']}", token=admin, json={"active": True})
    assert status == 200 and body["agent"]["active"] is True

    status, _ = await service.call("DELETE", f"/api/admin/agents/{created['id']}", token=admin)
    assert status == 204
    status, _ = await service.call("DELETE", f"/api/admin/agents/{created['id']}", token=admin)
    assert status == 404
    status, _ = await service.call("POST", "/api/agents/login", json={"username": "zoe", "password": "the new secret!"})
    assert status == 401


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "named"),
    [
        ("POST", "/api/admin/agents", {**NEW_AGENT, "role": "boss"}, 400, "role"),
        ("POST", "/api/admin/agents", {**NEW_AGENT, "languages": ["de"]}, 400, "languages"),
        ("POST", "/api/admin/agents", {**NEW_AGENT, "languages": "fr"}, 400, "languages"),
        ("POST", "/api/admin/agents", {k: v for k, v in NEW_AGENT.items() if k != "languages"}, 400, "languages"),
        ("POST", "/api/admin/agents", {**NEW_AGENT, "skills": ["juggling"]}, 400, "skills"),
        ("POST", "/api/admin/agents", {**NEW_AGENT, "capacity": 0}, 400, "capacity"),
        ("POST", "/api/admin/agents", {**NEW_AGENT, "capacity": "3"}, 400, "capacity"),
        ("POST", "/api/admin/agents", {**NEW_AGENT, "password": "short"}, 400, "password"),
        ("POST", "/api/admin/agents", {**NEW_AGENT, "username": "no spaces"}, 400, "username"),
        ("POST", "/api/admin/agents", {**NEW_AGENT, "username": "lea"}, 409, "username"),
        ("POST", "/api/admin/agents", {**NEW_AGENT, "is_admin": True}, 400, "is_admin"),
        ("PATCH", "/api/admin/agents/{lea}", {}, 400, None),
        ("PATCH", "/api/admin/agents/{lea}", {"active": "no"}, 400, "active"),
        ("PATCH", "/api/admin/agents/{lea}", {"password": "a long enough one"}, 400, "password"),
        ("PATCH", "/api/admin/agents/{lea}", {"capacity": 51}, 400, "capacity"),
        ("PATCH", "/api/admin/agents/{lea}", {"capacity": 10**40}, 400, None),
        ("PATCH", "/api/admin/agents/{lea}", {"display_name": "\ud800"}, 400, None),
        ("PATCH", "/api/admin/agents/a-nobody", {"capacity": 2}, 404, None),
        ("PUT", "/api/admin/agents/{lea}/password", {"password": "short"}, 400, "password"),
        ("PUT", "/api/admin/agents/{lea}/password", {}, 400, "password"),
        ("PUT", "/api/admin/agents/a-nobody/password", {"password": "a long enough one"}, 404, None),
        ("DELETE", "/api/admin/agents/a-nobody", None, 404, None),
    ],
)
async def test_bad_input_is_a_4xx_naming_the_field(
    service_factory: ServiceFactory, method: str, path: str, body: dict[str, Any] | None, status: int, named: str | None
) -> None:
    service = await service_factory()
    tokens = await _with_roles(service)
    lea = await _agent_id(service, tokens["admin"], "lea")
    got, answer = await service.call(method, path.format(lea=lea), token=tokens["admin"], json=body)
    assert got == status, answer
    if named is not None:
        assert answer["error"]["details"]["field"] == named
    # lea is unchanged
    status_after, listing = await service.call("GET", "/api/admin/agents", token=tokens["admin"])
    assert [(a["role"], a["capacity"], a["active"]) for a in listing["agents"] if a["username"] == "lea"] == [
        ("ambassador", 3, True)
    ]


async def test_the_last_active_admin_can_be_neither_demoted_deactivated_nor_removed(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory()
    tokens = await _with_roles(service)
    admin = tokens["admin"]
    ada = await _agent_id(service, admin, "ada")
    for method, path, body in (
        ("PATCH", f"/api/admin/agents/{ada}", {"role": "advisor"}),
        ("PATCH", f"/api/admin/agents/{ada}", {"active": False}),
        ("DELETE", f"/api/admin/agents/{ada}", None),
    ):
        status, answer = await service.call(method, path, token=admin, json=body)
        assert status == 409, answer
        assert "last active admin" in answer["error"]["message"]
    # Still an admin, still logged in.
    status, body = await service.call("GET", "/api/agents/me", token=admin)
    assert status == 200 and body["agent"]["role"] == "admin"
    # With a second admin, the first may step down.
    max_id = await _agent_id(service, admin, "max")
    status, _ = await service.call("PATCH", f"/api/admin/agents/{max_id}", token=admin, json={"role": "admin"})
    assert status == 200
    status, body = await service.call("PATCH", f"/api/admin/agents/{ada}", token=admin, json={"role": "advisor"})
    assert status == 200 and body["agent"]["role"] == "advisor"


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    ada = await add_agent(service.settings, "ada", role=AgentRole.ADMIN)
    bob = await add_agent(service.settings, "bob", role=AgentRole.ADMIN)
    for _ in range(3):
        ada_token, bob_token = await service.login("ada"), await service.login("bob")
        results = await asyncio.gather(
            service.call("PATCH", f"/api/admin/agents/{bob.id}", token=ada_token, json={"role": "advisor"}),
            service.call("PATCH", f"/api/admin/agents/{ada.id}", token=bob_token, json={"role": "advisor"}),
        )
        statuses = [status for status, _ in results]
        # One wins; the other finds one admin left (409), or its own session already ended (401).
        assert statuses.count(200) == 1 and {*statuses} - {200} <= {401, 409}, results
        winner, loser = (ada_token, bob) if statuses[0] == 200 else (bob_token, ada)
        status, body = await service.call("GET", "/api/admin/agents", token=winner)
        assert [a["username"] for a in body["agents"] if a["role"] == "admin"] == [
            "ada" if loser is bob else "bob"
        ]
        status, _ = await service.call("PATCH", f"/api/admin/agents/{loser.id}", token=winner, json={"role": "admin"})
        assert status == 200
    # Removal and deactivation race the same way: one admin is left, able to log in.
    ada_token, bob_token = await service.login("ada"), await service.login("bob")
    results = await asyncio.gather(
        service.call("DELETE", f"/api/admin/agents/{bob.id}", token=ada_token),
        service.call("PATCH", f"/api/admin/agents/{ada.id}", token=bob_token, json={"active": False}),
    )
    assert sum(status in (200, 204) for status, _ in results) == 1, results
    logins = [
        (await service.call("POST", "/api/agents/login", json={"username": name, "password": PASSWORD}))[0]
        for name in ("ada", "bob")
    ]
    assert logins.count(200) == 1, logins


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/api/admin/agents/{id}", {"role": "ambassador"}),
        ("PATCH", "/api/admin/agents/{id}", {"active": False}),
        ("PUT", "/api/admin/agents/{id}/password", {"password": "another long secret"}),
        ("DELETE", "/api/admin/agents/{id}", None),
    ],
    ids=["role", "deactivated", "password", "removed"],
)
async def test_lowering_rights_closes_the_agents_socket_within_a_second(
    service_factory: ServiceFactory, method: str, path: str, body: dict[str, Any] | None
) -> None:
    service = await service_factory()
    tokens = await _with_roles(service)
    max_token = await service.go_online("max")
    socket = await agent_socket(service, max_token)
    await socket.next_of("queue")
    bystander = await agent_socket(service, tokens["ambassador"])
    await bystander.next_of("queue")
    max_id = await _agent_id(service, tokens["admin"], "max")
    status, answer = await service.call(method, path.format(id=max_id), token=tokens["admin"], json=body)
    assert status in (200, 204), answer
    async with asyncio.timeout(1.0):
        assert await _closed_with(socket.socket) == SESSION_ENDED
    status, _ = await service.call("GET", "/api/agents/me", token=max_token)
    assert status == 401
    status, _ = await service.call("GET", "/api/agents/me", token=tokens["advisor"])
    assert status == 401  # every session of max, not only the socket's
    # Another agent's socket is untouched.
    await bystander.socket.send_json({"type": "ping"})
    await bystander.next_of("pong")
    await bystander.close()


async def test_a_change_that_lowers_no_rights_keeps_the_session(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    tokens = await _with_roles(service)
    socket = await agent_socket(service, tokens["advisor"])
    await socket.next_of("queue")
    max_id = await _agent_id(service, tokens["admin"], "max")
    status, _ = await service.call(
        "PATCH", f"/api/admin/agents/{max_id}", token=tokens["admin"], json={"capacity": 5, "skills": ["solar"]}
    )
    assert status == 200
    await socket.socket.send_json({"type": "ping"})
    await socket.next_of("pong")
    status, body = await service.call("GET", "/api/agents/me", token=tokens["advisor"])
    assert status == 200 and body["agent"]["capacity"] == 5
    await socket.close()


async def test_settings_are_shown_with_secrets_redacted(service_factory: ServiceFactory) -> None:
    smtp = SmtpSettings(host="127.0.0.1", password="an-smtp-secret")
    service = await service_factory(rasa_token="a-very-secret-token", smtp=smtp)
    tokens = await _with_roles(service)
    status, body = await service.call("GET", "/api/admin/settings", token=tokens["admin"])
    assert status == 200, body
    settings = body["settings"]
    assert settings["rasa_token"] == "***"
    assert settings["routing"]["sweep_interval_seconds"] == service.settings.routing.sweep_interval_seconds
    assert settings["limits"]["login_per_ip"] == service.settings.limits.login_per_ip
    assert "a-very-secret-token" not in str(body)
    assert settings["smtp"]["password"] == "***" and "an-smtp-secret" not in str(body)
    database = service.settings.database_url
    if "@" in database and ":" in database.split("://", 1)[1].split("@")[0]:
        assert database.split("://", 1)[1].split("@")[0].split(":", 1)[1] not in str(body)
