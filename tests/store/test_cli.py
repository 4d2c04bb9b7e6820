"""`relais agents …` and `relais db upgrade`, run as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys

from handoff.agents import AgentService
from handoff.store import open_store


def relais(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli", *args], input=stdin, env=env, capture_output=True, text=True, timeout=120
    )


async def test_agents_lifecycle_from_the_command_line(database_url: str) -> None:
    upgraded = relais(database_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "revision 0007" in upgraded.stdout

    added = relais(
        database_url, "agents", "add", "alice", "--role", "ambassador", "--languages", "fr,en",
        "--skills", "awning,solar", "--display-name", "Alice", stdin="a long enough secret\n",
    )
    assert added.returncode == 0, added.stderr
    listed = relais(database_url, "agents", "list")
    assert "alice" in listed.stdout and "awning,solar" in listed.stdout

    changed = relais(database_url, "agents", "set", "alice", "--capacity", "5", "--skills", "fridge")
    assert changed.returncode == 0, changed.stderr
    store = await open_store(database_url)
    try:
        agents = AgentService(store)
        alice = await agents.get_by_username("alice")
        assert (alice.capacity, alice.skills, alice.display_name) == (5, ("fridge",), "Alice")
        token, _ = await agents.login("alice", "a long enough secret")
        assert (await agents.authenticate(token)).id == alice.id
    finally:
        await store.close()

    removed = relais(database_url, "agents", "remove", "alice")
    assert removed.returncode == 0, removed.stderr
    assert "alice" not in relais(database_url, "agents", "list").stdout


async def test_bad_input_is_a_one_line_error(database_url: str) -> None:
    unknown_skill = relais(database_url, "agents", "add", "bob", "--role", "advisor", "--languages", "fr",
                           "--skills", "teleporter", stdin="a long enough secret\n")
    assert unknown_skill.returncode == 1
    assert "unknown skill" in unknown_skill.stderr and "Traceback" not in unknown_skill.stderr
    short_password = relais(database_url, "agents", "add", "bob", "--role", "advisor", "--languages", "fr", stdin="x\n")
    assert short_password.returncode == 1 and "password" in short_password.stderr
    missing = relais(database_url, "agents", "remove", "nobody")
    assert missing.returncode == 1 and "nobody" in missing.stderr
    bad_url = relais("mysql://nope", "agents", "list")
    assert bad_url.returncode == 2 and "DATABASE_URL" in bad_url.stderr
    assert "bob" not in relais(database_url, "agents", "list").stdout
