"""Agents (ambassadors, advisors, admins): their accounts, passwords and sessions.

Passwords are hashed with argon2id (argon2-cffi; salt and parameters stored
with the hash) off the event loop; a hash of an older scheme (scrypt) or older
parameters is replaced on the next successful login. Changing a password or a
role, or removing the agent, ends its sessions. A login returns a random bearer token; only its SHA-256 is
stored, with an expiry, so a leaked database holds no usable token.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.domain import (
    PRODUCT_CATEGORIES,
    SUPPORTED_LANGUAGES,
    Agent,
    AgentRole,
    Conflict,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from handoff.store import Store, as_utc, utcnow
from handoff.store.schema import agent_sessions, agents
from handoff.tokens import new_id, new_secret, secret_hash

MIN_PASSWORD_LENGTH = 8
# Embeddings, overrides, isolates and marks (joiners stay: emoji and some scripts need them).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MAX_CAPACITY = 50
SEEN_GRANULARITY = timedelta(minutes=1)
USERNAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


# OWASP's argon2id baseline (19 MiB, 2 passes): about 20 ms a hash on this class of machine.
PASSWORDS = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)


def hash_password(password: str) -> str:
    return PASSWORDS.hash(password)


def verify_password(password: str, stored: str) -> tuple[bool, bool]:
    """(whether `password` matches `stored`, whether `stored` should be re-hashed)."""
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored), True
    try:
        PASSWORDS.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False, False
    return True, PASSWORDS.check_needs_rehash(stored)


def _verify_scrypt(password: str, stored: str) -> bool:
    """The scheme of Relais' first releases, kept to let those accounts log in once."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


# Checked against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def _agent(row: Row[Any]) -> Agent:
    return Agent(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=AgentRole(row.role),
        languages=tuple(row.languages),
        skills=tuple(row.skills),
        capacity=row.capacity,
        active=bool(row.active),
    )


def strip_bidi(raw: str) -> str:
    """`raw` without Unicode bidi controls (embeddings, overrides, isolates, marks)."""
    return "".join(ch for ch in raw if ch not in BIDI_CONTROLS)


def _display_name(raw: str) -> str:
    """A name shown to visitors beside fixed texts: no bidi controls (U+202E would
    reverse the disclosure around it), no control characters, at most 100."""
    cleaned = "".join(ch for ch in strip_bidi(raw) if unicodedata.category(ch) != "Cc")
    return " ".join(cleaned.split())[:100]


def _username(value: str) -> str:
    username = value.strip().lower()
    if not 2 <= len(username) <= 64 or not set(username) <= USERNAME_CHARACTERS:
        raise InvalidInput("username must be 2-64 characters: letters, digits, '.', '_' or '-'", field="username")
    return username


def _languages(values: Iterable[str]) -> list[str]:
    languages = sorted({v.strip().lower() for v in values if v.strip()})
    if not languages or not set(languages) <= set(SUPPORTED_LANGUAGES):
        raise InvalidInput(f"languages must be among {', '.join(SUPPORTED_LANGUAGES)}", field="languages")
    return languages


def _skills(values: Iterable[str]) -> list[str]:
    skills = sorted({v.strip().lower() for v in values if v.strip()})
    unknown = set(skills) - set(PRODUCT_CATEGORIES)
    if unknown:
        raise InvalidInput(
            f"unknown skill(s) {', '.join(sorted(unknown))}; known: {', '.join(PRODUCT_CATEGORIES)}", field="skills"
        )
    return skills


def _capacity(value: int) -> int:
    if not 1 <= value <= MAX_CAPACITY:
        raise InvalidInput(f"capacity must be between 1 and {MAX_CAPACITY}", field="capacity")
    return value


def _password(value: str) -> str:
    if len(value) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters", field="password")
    return value


def _keep_an_admin(admins: list[str], agent_id: str, *, stays_admin: bool) -> None:
    """Refuse a change that would leave no active admin."""
    if not stays_admin and agent_id in admins and len(admins) <= 1:
        raise Conflict("this is the last active admin: make another agent admin first", agent_id=agent_id)


class AgentService:
    def __init__(
        self, store: Store, *, token_ttl_seconds: float = 12 * 3600, idle_timeout_seconds: float = 2 * 3600
    ) -> None:
        self.store = store
        self.token_ttl = timedelta(seconds=token_ttl_seconds)
        self.idle_timeout = timedelta(seconds=idle_timeout_seconds)

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
        name = _username(username)
        values = {
            "id": new_id("a"),
            "username": name,
            "display_name": _display_name(display_name or name) or name,
            "role": role.value,
            "languages": _languages(languages),
            "skills": _skills(skills),
            "capacity": _capacity(capacity),
            "password_hash": await asyncio.to_thread(hash_password, _password(password)),
            "created_at": utcnow(),
        }
        try:
            async with self.store.sessions.begin() as session:
                await session.execute(insert(agents).values(**values))
        except IntegrityError:
            raise Conflict(f"an agent named {name!r} already exists", field="username") from None
        return await self.get(str(values["id"]))

    async def list(self) -> list[Agent]:
        async with self.store.sessions() as session:
            rows = (await session.execute(select(agents).order_by(agents.c.username))).all()
        return [_agent(row) for row in rows]

    async def get(self, agent_id: str) -> Agent:
        async with self.store.sessions() as session:
            row = (await session.execute(select(agents).where(agents.c.id == agent_id))).first()
        if row is None:
            raise NotFound("unknown agent", agent_id=agent_id)
        return _agent(row)

    async def get_by_username(self, username: str) -> Agent:
        async with self.store.sessions() as session:
            row = (await session.execute(select(agents).where(agents.c.username == username.strip().lower()))).first()
        if row is None:
            raise NotFound(f"no agent named {username!r}", username=username)
        return _agent(row)

    async def update(
        self,
        agent_id: str,
        *,
        role: AgentRole | None = None,
        languages: Iterable[str] | None = None,
        skills: Iterable[str] | None = None,
        capacity: int | None = None,
        display_name: str | None = None,
        password: str | None = None,
        active: bool | None = None,
    ) -> Agent:
        """Change an agent. A new password or role, or a deactivation, ends its sessions
        (in the store: the caller tells the sockets). The last active admin keeps its role
        and stays active (`Conflict`)."""
        values: dict[str, Any] = {}
        if role is not None:
            values["role"] = role.value
        if languages is not None:
            values["languages"] = _languages(languages)
        if skills is not None:
            values["skills"] = _skills(skills)
        if capacity is not None:
            values["capacity"] = _capacity(capacity)
        if display_name is not None:
            values["display_name"] = _display_name(display_name) or None
        if active is not None:
            values["active"] = active
        if password is not None:
            values["password_hash"] = await asyncio.to_thread(hash_password, _password(password))
        values = {key: value for key, value in values.items() if value is not None}
        async with self.store.sessions.begin() as session:
            admins = await self._lock_admins(session)
            current = await self._locked(session, agent_id)
            if values:
                stays_admin = values.get("role", current.role) == AgentRole.ADMIN.value and values.get(
                    "active", current.active
                )
                _keep_an_admin(admins, agent_id, stays_admin=bool(stays_admin))
                await session.execute(update(agents).where(agents.c.id == agent_id).values(**values))
                ends_sessions = (
                    "password_hash" in values
                    or values.get("role", current.role) != current.role
                    or values.get("active") is False
                )
                if ends_sessions:  # what they may do changed: log in again
                    await session.execute(delete(agent_sessions).where(agent_sessions.c.agent_id == agent_id))
        return await self.get(agent_id)

    async def remove(self, agent_id: str) -> None:
        async with self.store.sessions.begin() as session:
            admins = await self._lock_admins(session)
            await self._locked(session, agent_id)
            _keep_an_admin(admins, agent_id, stays_admin=False)
            await session.execute(delete(agent_sessions).where(agent_sessions.c.agent_id == agent_id))
            await session.execute(delete(agents).where(agents.c.id == agent_id))

    @staticmethod
    async def _locked(session: AsyncSession, agent_id: str) -> Row[Any]:
        """The agent's row, locked until the transaction ends (PostgreSQL; SQLite has one writer)."""
        row = (await session.execute(select(agents).where(agents.c.id == agent_id).with_for_update())).first()
        if row is None:
            raise NotFound("unknown agent", agent_id=agent_id)
        return row

    @staticmethod
    async def _lock_admins(session: AsyncSession) -> builtins.list[str]:
        """The active admins' ids, their rows locked (always first, in id order, so that
        concurrent changes queue up instead of deadlocking): two admins demoting each other
        at once are serialised, and the second sees one admin left."""
        query = (
            select(agents.c.id)
            .where(agents.c.role == AgentRole.ADMIN.value, agents.c.active.is_(True))
            .order_by(agents.c.id)
            .with_for_update()
        )
        return [str(value) for value in (await session.execute(query)).scalars().all()]

    # --- sessions ----------------------------------------------------------------------

    async def login(self, username: str, password: str) -> tuple[str, Agent]:
        async with self.store.sessions() as session:
            row = (
                await session.execute(select(agents).where(agents.c.username == username.strip().lower()))
            ).first()
        stored = row.password_hash if row is not None else _DUMMY_HASH
        valid, outdated = await asyncio.to_thread(verify_password, password, stored)
        if row is None or not valid:
            raise Unauthorized("wrong username or password")
        if not row.active:
            raise Unauthorized("this account is deactivated; ask an admin")
        token = new_secret()
        now = utcnow()
        async with self.store.sessions.begin() as session:
            if outdated:
                rehashed = await asyncio.to_thread(hash_password, password)
                await session.execute(update(agents).where(agents.c.id == row.id).values(password_hash=rehashed))
            await session.execute(delete(agent_sessions).where(agent_sessions.c.expires_at < now))
            await session.execute(
                insert(agent_sessions).values(
                    token_hash=secret_hash(token), agent_id=row.id, created_at=now, expires_at=now + self.token_ttl
                )
            )
        return token, _agent(row)

    async def authenticate(self, token: str) -> Agent:
        """The session's agent; a session past its lifetime, or unused for the idle
        timeout, is over. Use is recorded at most once a minute (not a write per request)."""
        token_hash = secret_hash(token)
        query = (
            select(agents, agent_sessions.c.expires_at, agent_sessions.c.created_at.label("session_created_at"),
                   agent_sessions.c.last_seen_at)
            .join(agent_sessions, agent_sessions.c.agent_id == agents.c.id)
            .where(agent_sessions.c.token_hash == token_hash)
        )
        async with self.store.sessions() as session:
            row = (await session.execute(query)).first()
        now = utcnow()
        if row is None or as_utc(row.expires_at) <= now or not row.active:
            raise Unauthorized("invalid or expired agent token")
        last_seen = as_utc(row.last_seen_at or row.session_created_at)
        if now - last_seen > self.idle_timeout:
            await self.logout(token)
            raise Unauthorized("session ended after inactivity; log in again")
        if now - last_seen > SEEN_GRANULARITY:
            async with self.store.sessions.begin() as session:
                await session.execute(
                    update(agent_sessions).where(agent_sessions.c.token_hash == token_hash).values(last_seen_at=now)
                )
        return _agent(row)

    async def logout(self, token: str) -> None:
        async with self.store.sessions.begin() as session:
            await session.execute(delete(agent_sessions).where(agent_sessions.c.token_hash == secret_hash(token)))
