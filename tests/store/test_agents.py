"""Agents' accounts and sessions."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from handoff.agents import AgentService
from handoff.domain import AgentRole, Conflict, InvalidInput, NotFound, Unauthorized
from handoff.store import Store, as_utc, utcnow
from handoff.store.schema import agent_sessions
from handoff.store.schema import agents as agents_table
from handoff.tokens import secret_hash

PASSWORD = "a long enough secret"


async def test_create_list_update_remove(agents: AgentService) -> None:
    alice = await agents.create(username="Alice", password=PASSWORD, role=AgentRole.AMBASSADOR,
                                languages=["fr", "en"], skills=["solar", "awning"], display_name="Alice B.")
    bob = await agents.create(username="bob", password=PASSWORD, role=AgentRole.ADVISOR, languages=["fr"])
    assert alice.username == "alice" and alice.skills == ("awning", "solar") and alice.capacity == 3
    assert [a.username for a in await agents.list()] == ["alice", "bob"]
    assert (await agents.get_by_username("ALICE")).id == alice.id
    changed = await agents.update(alice.id, capacity=5, skills=["fridge"], role=AgentRole.ADVISOR)
    assert (changed.capacity, changed.skills, changed.role) == (5, ("fridge",), AgentRole.ADVISOR)
    await agents.remove(bob.id)
    with pytest.raises(NotFound):
        await agents.get(bob.id)
    with pytest.raises(NotFound):
        await agents.remove(bob.id)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"username": "x"}, "username"),
        ({"username": "has space"}, "username"),
        ({"languages": ["de"]}, "languages"),
        ({"languages": []}, "languages"),
        ({"skills": ["teleporter"]}, "skills"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": 51}, "capacity"),
        ({"password": "short"}, "password"),
    ],
)
async def test_invalid_agents_are_refused_and_nothing_is_stored(
    agents: AgentService, changes: dict[str, object], field: str
) -> None:
    values: dict[str, object] = {"username": "carol", "password": PASSWORD, "role": AgentRole.AMBASSADOR,
                                 "languages": ["fr"], "skills": [], "capacity": 3}
    values.update(changes)
    with pytest.raises(InvalidInput) as error:
        await agents.create(**values)  # type: ignore[arg-type]
    assert error.value.details["field"] == field
    assert await agents.list() == []


async def test_usernames_are_unique(agents: AgentService) -> None:
    await agents.create(username="dora", password=PASSWORD, role=AgentRole.AMBASSADOR, languages=["fr"])
    with pytest.raises(Conflict):
        await agents.create(username="Dora", password=PASSWORD, role=AgentRole.ADVISOR, languages=["en"])
    assert len(await agents.list()) == 1


async def test_login_authenticate_logout(agents: AgentService, store: Store) -> None:
    eve = await agents.create(username="eve", password=PASSWORD, role=AgentRole.ADVISOR, languages=["en"])
    with pytest.raises(Unauthorized):
        await agents.login("eve", "wrong password")
    with pytest.raises(Unauthorized):
        await agents.login("nobody", PASSWORD)
    token, agent = await agents.login("eve", PASSWORD)
    assert agent == eve
    assert await agents.authenticate(token) == eve
    with pytest.raises(Unauthorized):
        await agents.authenticate(token[:-1])
    async with store.sessions() as session:  # neither the password nor the token is stored as such
        row = (await session.execute(select(agents_table).where(agents_table.c.id == eve.id))).one()
        stored_tokens = (await session.execute(select(agent_sessions.c.token_hash))).scalars().all()
    assert PASSWORD not in row.password_hash and row.password_hash.startswith("$argon2id$")
    assert token not in stored_tokens and len(stored_tokens) == 1
    await agents.logout(token)
    with pytest.raises(Unauthorized):
        await agents.authenticate(token)


async def test_a_new_password_ends_open_sessions(agents: AgentService) -> None:
    frank = await agents.create(username="frank", password=PASSWORD, role=AgentRole.AMBASSADOR, languages=["fr"])
    token, _ = await agents.login("frank", PASSWORD)
    await agents.update(frank.id, password="another long secret")
    with pytest.raises(Unauthorized):
        await agents.authenticate(token)
    with pytest.raises(Unauthorized):
        await agents.login("frank", PASSWORD)
    await agents.login("frank", "another long secret")


def _old_scrypt_hash(password: str) -> str:
    """How Relais' first releases stored passwords."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


async def _stored_hash(store: Store, agent_id: str) -> str:
    async with store.sessions() as session:
        row = (await session.execute(select(agents_table).where(agents_table.c.id == agent_id))).one()
    return str(row.password_hash)


async def test_an_old_scrypt_hash_is_replaced_by_argon2id_at_login(agents: AgentService, store: Store) -> None:
    hugo = await agents.create(username="hugo", password=PASSWORD, role=AgentRole.ADVISOR, languages=["en"])
    async with store.sessions.begin() as session:
        await session.execute(
            update(agents_table).where(agents_table.c.id == hugo.id).values(password_hash=_old_scrypt_hash(PASSWORD))
        )
    with pytest.raises(Unauthorized):
        await agents.login("hugo", "not the password")
    assert (await _stored_hash(store, hugo.id)).startswith("scrypt$")  # a failed login changes nothing
    await agents.login("hugo", PASSWORD)
    rehashed = await _stored_hash(store, hugo.id)
    assert rehashed.startswith("$argon2id$") and PASSWORD not in rehashed
    await agents.login("hugo", PASSWORD)  # and the new hash works
    assert await _stored_hash(store, hugo.id) == rehashed  # once: not re-hashed again


async def test_a_role_change_ends_open_sessions(agents: AgentService) -> None:
    ida = await agents.create(username="ida", password=PASSWORD, role=AgentRole.ADVISOR, languages=["en"])
    token, _ = await agents.login("ida", PASSWORD)
    await agents.update(ida.id, capacity=2)
    assert await agents.authenticate(token)  # other changes keep the session
    await agents.update(ida.id, role=AgentRole.AMBASSADOR)
    with pytest.raises(Unauthorized):
        await agents.authenticate(token)


async def _last_used(store: Store, token: str, *, ago: timedelta | None = None) -> datetime | None:
    """When the session was last used; with `ago`, first pretend it was that long ago."""
    row = agent_sessions.c.token_hash == secret_hash(token)
    async with store.sessions.begin() as session:
        if ago is not None:
            await session.execute(update(agent_sessions).where(row).values(last_seen_at=utcnow() - ago))
        seen = (await session.execute(select(agent_sessions.c.last_seen_at).where(row))).scalar_one_or_none()
    return None if seen is None else as_utc(seen)


async def test_a_session_unused_for_the_idle_timeout_is_over(store: Store) -> None:
    agents = AgentService(store, idle_timeout_seconds=3600)
    await agents.create(username="jo", password=PASSWORD, role=AgentRole.ADVISOR, languages=["en"])
    token, _ = await agents.login("jo", PASSWORD)
    await agents.authenticate(token)
    assert await _last_used(store, token) is None  # fresh: no write needed yet
    await _last_used(store, token, ago=timedelta(minutes=30))
    await agents.authenticate(token)  # in use: the clock restarts (written at most once a minute)
    seen = await _last_used(store, token)
    assert seen is not None and utcnow() - seen < timedelta(minutes=1)
    await _last_used(store, token, ago=timedelta(minutes=61))
    with pytest.raises(Unauthorized, match="inactivity"):
        await agents.authenticate(token)
    with pytest.raises(Unauthorized):  # and it stays over
        await agents.authenticate(token)


async def test_tokens_expire(store: Store) -> None:
    short_lived = AgentService(store, token_ttl_seconds=0)
    await short_lived.create(username="gus", password=PASSWORD, role=AgentRole.AMBASSADOR, languages=["en"])
    token, _ = await short_lived.login("gus", PASSWORD)
    with pytest.raises(Unauthorized):
        await short_lived.authenticate(token)
