"""End to end with the REAL Rasa server: labelled messages → a retrained model → promoted
while a visitor keeps talking → the same messages are now understood → rolled back.

The maintainer's loop of docs/bot.md, on a temporary copy of the bot's data: a new
phrasing (Dutch visitors asking about delivery, which the shipped model does not
understand) is labelled `ask_shipping` in a reviewed NLU file (as the review's export
writes it), `relais bot train` trains with the small test config
(tests/bot/config.small.yml: one training of well under a minute), then an admin
promotes the model through the API while a visitor talks: every message of the
visitor gets the bot's answer. The same messages are then classified as labelled,
each bot turn names the new model, and the rollback brings the first model back.
The session's Rasa server is given its model back whatever happens.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from handoff.botmodels import RasaModels, is_model_name, model_name
from handoff.botprocess import BotProcesses
from handoff.config import REPO_ROOT
from handoff.domain import AgentRole
from tests.support.service import (
    REAL_BOT_TIMEOUT_SECONDS,
    RunningService,
    ServiceFactory,
    add_agent,
)

pytestmark = pytest.mark.rasa

LABEL = "ask_shipping"
NEW_PHRASING = [  # labelled by a maintainer in the review
    "hoe lang duurt de levering",
    "leveren jullie ook in nederland",
    "zijn de verzendkosten gratis",
    "wanneer komt mijn pakketje",
    "hoeveel dagen duurt het bezorgen",
    "wat kost verzending naar nederland",
    "wanneer wordt mijn bestelling geleverd",
    "bezorgen jullie ook in belgie",
]
ASKED = NEW_PHRASING[:4]  # what the visitor types, before and after the promotion
SMALL_CONFIG = REPO_ROOT / "tests" / "bot" / "config.small.yml"
TRAIN_TIMEOUT_SECONDS = 900.0  # one small training; a bound for broken runs only


def _reviewed_file(language: str) -> str:
    examples = "\n".join(f"    - {text}" for text in NEW_PHRASING)
    return f'version: "3.1"\n# labelled in the review ({language})\nnlu:\n- intent: {LABEL}\n  examples: |\n{examples}\n'


async def _train(data: Path, models: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "handoff.cli", "bot", "train", "--config", str(SMALL_CONFIG), "--data", str(data),
        "--models-dir", str(models), cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), TRAIN_TIMEOUT_SECONDS)
    assert process.returncode == 0, output.decode()
    [line] = [line for line in output.decode().splitlines() if line.startswith("trained ")]
    return Path(line.split()[1]).name  # "trained <models>/relais-<sha12>.tar.gz in N s; ..."


async def _intents(service: RunningService, texts: list[str]) -> list[tuple[str, str]]:
    """Say each text, each in a new conversation (no dialogue state in between): the intent
    recorded for it, and the model named by the bot's answer."""
    found = []
    for text in texts:
        visitor = await service.start_conversation("en")
        answer = await service.say(visitor, text)
        bot = [reply for reply in answer["replies"] if reply["sender_kind"] == "bot"]
        assert bot, answer  # the bot answered (not the "assistant unavailable" notice)
        stored = [m for m in await service.messages(visitor) if m["seq"] == answer["message"]["seq"]]
        found.append((str(stored[0]["intent"]), str(bot[0]["data"]["model"]["model_file"])))
    return found


# One stack: what is tested here is the bot's side (the stacks are covered by tests/bot/test_models.py).
@pytest.mark.parametrize("stack", ["sqlite-memory"], indirect=True)
async def test_a_retrained_model_is_promoted_while_a_visitor_talks_then_rolled_back(
    service_factory: ServiceFactory, rasa_bot: BotProcesses, tmp_path: Path
) -> None:
    # The models directory of this test: the session's model (what Rasa runs) and, soon, the new one.
    rasa = RasaModels(rasa_bot.url, rasa_bot.auth_token)
    running = await rasa.loaded()
    assert running, "the session's Rasa server names no model"
    original_file = rasa_bot.model_file.resolve()
    models = tmp_path / "models"
    models.mkdir()
    original = running if is_model_name(running) else model_name("0" * 12)
    (models / original).symlink_to(original_file)

    data = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "bot" / "data", data)
    (data / "nlu" / "reviewed_en.yml").write_text(_reviewed_file("en"), encoding="utf-8")

    service = await service_factory(
        rasa_url=rasa_bot.url, rasa_token=rasa_bot.auth_token, rasa_timeout_seconds=REAL_BOT_TIMEOUT_SECONDS,
        models_dir=models,
    )
    await add_agent(service.settings, "root", role=AgentRole.ADMIN)
    admin = await service.login("root")
    try:
        if original != running:  # a checkout whose model predates hash names: make it the one in service
            status, body = await service.call("POST", "/api/admin/bot/model", token=admin, json={"model": original})
            assert status == 200, body

        before = await _intents(service, ASKED)
        assert {model for _, model in before} == {original}
        assert any(intent != LABEL for intent, _ in before), f"the shipped model already understands them: {before}"

        trained = await _train(data, models)
        assert is_model_name(trained) and trained != original

        # A visitor keeps talking while the admin promotes the new model.
        talker = await service.start_conversation("en")
        promoting = asyncio.Event()
        promoted = asyncio.Event()
        spans: list[tuple[float, float, dict[str, Any]]] = []

        async def talk() -> None:
            texts = ["how much is delivery?", "do you ship to Belgium?", "hello"]
            while not (promoted.is_set() and len(spans) >= 2):
                sent = time.monotonic()
                answer = await service.say(talker, texts[len(spans) % len(texts)])
                spans.append((sent, time.monotonic(), answer))
                if len(spans) == 1:
                    promoting.set()  # promote once the visitor is in full flow

        talking = asyncio.create_task(talk())
        await promoting.wait()
        started = time.monotonic()
        status, change = await service.call("POST", "/api/admin/bot/model", token=admin, json={"model": trained[7:13]})
        ended = time.monotonic()
        promoted.set()
        await talking
        assert status == 200, change
        assert (change["action"], change["model"], change["previous"]) == ("promote", trained, original)
        for _, _, answer in spans:  # every visitor message got the bot's answer
            kinds = [(reply["sender_kind"], reply["data"].get("event")) for reply in answer["replies"]]
            assert any(kind == "bot" for kind, _ in kinds), answer
            assert ("system", "bot_unavailable") not in kinds, answer
        assert any(sent < ended and answered > started for sent, answered, _ in spans), "no message during the switch"

        after = await _intents(service, ASKED)
        assert after == [(LABEL, trained)] * len(ASKED)  # understood now, by the new model

        status, body = await service.call("GET", "/api/admin/bot/models", token=admin)
        assert (body["current"], body["running"]) == (trained, trained), body

        status, back = await service.call("POST", "/api/admin/bot/rollback", token=admin)
        assert status == 200, back
        assert (back["action"], back["model"], back["previous"]) == ("rollback", original, trained)
        [(_, model)] = await _intents(service, ASKED[:1])
        assert model == original
    finally:
        if await rasa.loaded() != running:  # whatever failed: the other tests get the session's model back
            await rasa.load(rasa_bot.model_file)
