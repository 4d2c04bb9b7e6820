"""Databases for the tests: a fresh SQLite file, and — when TEST_DATABASE_URL is
set — a fresh PostgreSQL database created for the test and dropped after it.

`database_url` is parametrized over both, so every store test runs against the
embedded default and against production's database.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
DATABASES = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])


@contextlib.asynccontextmanager
async def isolated_database_url() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on TEST_DATABASE_URL's server; dropped on exit."""
    assert TEST_DATABASE_URL, "TEST_DATABASE_URL is not set"
    base = make_url(TEST_DATABASE_URL)
    name = f"relais_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'relais.db'}"
        return
    async with isolated_database_url() as url:
        yield url
