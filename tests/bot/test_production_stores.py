"""Rasa's production stores (bot/endpoints.production.yml, docs/operations.md).

The tracker store keeps a conversation's dialogue state across a Rasa restart (a
new process reads what the first one saved), and the lock store serialises one
conversation across two Rasa replicas. Rasa's own factories build both from the
production endpoints file, in the bot's environment: on PostgreSQL (a database of
this test's own) and the shared test Redis (a key prefix of its own) with the
production stack, on a SQLite file and a redis-server of this test's own with the
embedded one. Starting whole Rasa servers twice would cost a minute or more per
stack for nothing more: `rasa run` builds its stores with these same factories.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis
from sqlalchemy import make_url

from handoff.config import REPO_ROOT, Settings
from tests.support.redis_server import own_redis_server
from tests.support.service import WAIT_SECONDS

pytestmark = pytest.mark.rasa
BOT_PYTHON = REPO_ROOT / ".venv-bot" / "bin" / "python"
PROBE = Path(__file__).with_name("production_stores_probe.py")


@pytest.fixture
async def rasa_store_env(stack: str, stack_settings: Settings, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """The variables bot/endpoints.production.yml reads, pointing at this test's own stores."""
    env = {"RASA_ACTION_ENDPOINT_URL": "http://127.0.0.1:9/webhook", "RASA_LOCK_STORE_PASSWORD": ""}
    if stack == "postgresql-redis":
        url = make_url(stack_settings.database_url).set(drivername="postgresql")  # psycopg2 in the bot's env
        redis_url = make_url(stack_settings.redis_url)
        env |= {"RASA_TRACKER_STORE_URL": url.render_as_string(hide_password=False),
                "RASA_LOCK_STORE_HOST": redis_url.host or "127.0.0.1", "RASA_LOCK_STORE_PORT": str(redis_url.port or 6379),
                "RASA_LOCK_STORE_DB": str(redis_url.database or 0)}
        yield env
        return
    async with own_redis_server() as server:
        env |= {"RASA_TRACKER_STORE_URL": f"sqlite:///{tmp_path / 'rasa.db'}",
                "RASA_LOCK_STORE_HOST": "127.0.0.1", "RASA_LOCK_STORE_PORT": str(server.port), "RASA_LOCK_STORE_DB": "0"}
        yield env


async def probe(env: dict[str, str], *args: str) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        str(BOT_PYTHON), str(PROBE), *args, cwd=REPO_ROOT,
        env={**os.environ, **env, "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "TF_CPP_MIN_LOG_LEVEL": "2"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), WAIT_SECONDS * 4)
    assert process.returncode == 0, err.decode(errors="replace")[-3000:]
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


async def test_dialogue_state_survives_a_restart_and_replicas_take_turns(rasa_store_env: dict[str, str]) -> None:
    sender = f"c_{uuid.uuid4().hex}"
    saved = await probe(rasa_store_env, "save", sender)
    assert saved == {"tracker_store": "SQLTrackerStore"}  # not Rasa's silent in-memory fallback
    checked = await probe(rasa_store_env, "check", sender)  # a new process: a restarted Rasa
    assert checked == {
        "tracker_store": "SQLTrackerStore",
        "texts": ["how long does delivery take?", "Delivery takes 2 to 4 working days."],
        "lock_store": "RedisLockStore",
        "second_replica_waited": True,
        "second_replica_served_after": True,
        "lock_left": False,
    }
    client = redis.Redis(host=rasa_store_env["RASA_LOCK_STORE_HOST"], port=int(rasa_store_env["RASA_LOCK_STORE_PORT"]),
                         db=int(rasa_store_env["RASA_LOCK_STORE_DB"]))
    try:
        assert [key async for key in client.scan_iter(match=f"*{sender}*")] == []  # nothing left behind
    finally:
        await client.aclose()
