"""Opening the database: the async engine, the session factory and migrations.

`open_store(url)` is the one entry point. It creates the SQLite file's folder
when needed, brings the schema to the latest Alembic revision (under a
PostgreSQL advisory lock, so instances starting together migrate once) and
returns a `Store` that the conversation and agent services share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK_ID = 0x52454C41  # "RELA": the advisory lock held while migrating PostgreSQL
SQLITE_BUSY_TIMEOUT_SECONDS = 30
# A database that does not answer is an outage (a 503), not a request hanging for the driver's 60 s.
CONNECT_TIMEOUT_SECONDS = 5


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite gives naive datetimes back; every datetime leaving the store is aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(slots=True)
class Store:
    """An open database: what the services need to run transactions."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    command.upgrade(_alembic_config(connection), "head")


def _current_revision(connection: Connection) -> tuple[str | None, str | None]:
    context = MigrationContext.configure(connection)
    head = ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()
    return context.get_current_revision(), head


def _sqlite_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    database = parsed.database or ""
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}}
    if database in ("", ":memory:"):
        kwargs["poolclass"] = StaticPool
    else:
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        # One connection: SQLite has one writer anyway, and queueing in the pool
        # is kinder than "database is locked" errors between our own sessions.
        kwargs.update(pool_size=1, max_overflow=0, pool_timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if database not in ("", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return engine


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # pool_pre_ping: a connection an outage killed is replaced when it is checked out, not failed on.
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True,
                               connect_args={"timeout": CONNECT_TIMEOUT_SECONDS})


async def upgrade(url: str) -> tuple[str | None, str | None]:
    """Bring the database at `url` to the latest revision; return (revision, head)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
        async with engine.connect() as connection:
            return await connection.run_sync(_current_revision)
    finally:
        await engine.dispose()


async def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the database at `url`, migrating it to the latest schema first."""
    engine = create_engine(url)
    if migrate:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
    return Store(engine=engine, sessions=async_sessionmaker(engine, expire_on_commit=False))
