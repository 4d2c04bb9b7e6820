"""`relais review`, `relais review --stats` and the keyboard-driven `relais review label`,
run through the CLI's entry point. The prompt reads prompt_toolkit's pipe input: the
keys a maintainer would press are sent, the labels that reach the store are checked."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from handoff.cli import main
from handoff.config import ReviewSettings
from handoff.services.review import ReviewService
from handoff.store import open_store
from tests.support.review_seed import Seeder, ago

DOWN, ENTER = "\x1b[B", "\r"


async def seed(url: str) -> dict[str, tuple[str, int]]:
    ids = {}
    async with Seeder(url) as seeder:
        for index, text in enumerate(("do you sell gift cards", "Do you sell gift cards?")):
            cid = await seeder.conversation("en", at=ago(hours=20 + index))
            ids[f"gift{index}"] = (cid, await seeder.turn(cid, text, at=ago(hours=20 + index), intent="nlu_fallback",
                                                         confidence=0.3))
        for name, text, intent, hours in (
            ("stock", "is the inflatable awning in stock", "ask_stock", 1),
            ("rental", "do you rent vans", "out_of_scope", 2),
            ("weather", "nice weather today", "out_of_scope", 3),
            ("joke", "tell me a joke", "out_of_scope", 4),
        ):
            cid = await seeder.conversation("en", at=ago(hours=hours))
            ids[name] = (cid, await seeder.turn(cid, text, at=ago(hours=hours), intent=intent, confidence=0.4))
    return ids


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'relais.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return url


async def labels(url: str) -> list[dict[str, Any]]:
    store = await open_store(url)
    try:
        return await ReviewService(store, ReviewSettings()).labels()
    finally:
        await store.close()


def test_list_and_stats(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(seed(database))
    assert main(["review"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out[1:] if not line.startswith(" " * 11)]
    assert rows[0].split()[:4] == ["2", "en", "nlu_fallback", "0.30"]
    assert rows[0].endswith("do you sell gift cards") and "fallback" in rows[0]
    assert [row.split()[-1] for row in rows[1:]] == ["stock", "vans", "today", "joke"]  # newest first
    assert "/console/review?conversation=" in out[2]

    assert main(["review", "--language", "fr"]) == 0
    assert "nothing to review" in capsys.readouterr().out

    assert main(["review", "--stats"]) == 0
    stats = capsys.readouterr().out.splitlines()
    assert stats[0].split() == ["WEEK", "INTENT", "MESSAGES", "CONTAINED", "ESCALATED", "CONTAINMENT"]
    counted: dict[str, list[int]] = {}
    for line in stats[1:]:  # the seeded days may fall in two weeks
        _, intent, messages, contained, escalated, _ = line.split()
        total = counted.setdefault(intent, [0, 0, 0])
        for index, value in enumerate((messages, contained, escalated)):
            total[index] += int(value)
    assert counted == {"nlu_fallback": [2, 2, 0], "ask_stock": [1, 1, 0], "out_of_scope": [3, 3, 0]}


def test_label_with_the_keyboard(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    ids = asyncio.run(seed(database))
    keys = [
        # 1. the gift cards (2 phrasings): another intent, typed, no product
        "i", ENTER, "ask_payment", ENTER, ENTER,
        # 2. the awning: the bot's reading confirmed, "awning" marked
        "c", ENTER, "inflatable awning", ENTER,
        # 3. rentals: a candidate for a new intent
        "n", ENTER, "ask_rental", ENTER,
        # 4. weather: skipped with the arrow keys (confirm, another, candidate, skip)
        DOWN, DOWN, DOWN, ENTER,
        # 5. quit
        "q", ENTER,
    ]
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text("".join(keys))
        assert main(["review", "label"]) == 0
    out = capsys.readouterr().out
    assert "labelled 3 group(s)" in out and "[1/5] ×2 en" in out

    saved = {(item["conversation_id"], item["seq"]): item for item in asyncio.run(labels(database))}
    gift = saved[ids["gift0"]]
    assert (gift["action"], gift["intent"], gift["entities"]) == ("intent", "ask_payment", [])
    assert sorted(map(tuple, gift["members"])) == sorted([ids["gift0"], ids["gift1"]])
    stock = saved[ids["stock"]]
    assert (stock["intent"], stock["entities"]) == ("ask_stock", [{"start": 7, "end": 24}])
    assert stock["text"][7:24] == "inflatable awning"
    rental = saved[ids["rental"]]
    assert (rental["action"], rental["candidate"], rental["intent"]) == ("candidate", "ask_rental", None)
    assert ids["weather"] not in saved and ids["joke"] not in saved
    assert len(saved) == 3

    # what was labelled left the list; what was skipped stays
    assert main(["review"]) == 0
    listed = capsys.readouterr().out
    assert "gift" not in listed and "awning" not in listed and "vans" not in listed
    assert "nice weather today" in listed and "tell me a joke" in listed
    assert os.environ["DATABASE_URL"] == database
