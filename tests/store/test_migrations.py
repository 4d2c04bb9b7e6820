"""Migrations: idempotent, and the schema they build is the one the code expects."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from handoff.store import open_store, upgrade
from handoff.store.schema import metadata


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_upgrade_is_idempotent_and_matches_the_schema(database_url: str) -> None:
    revision, head = await upgrade(database_url)
    assert revision == head == "0007"
    assert await upgrade(database_url) == (head, head)
    store = await open_store(database_url)
    try:
        async with store.engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await store.close()
