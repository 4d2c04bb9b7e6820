"""The maintainer's whole loop, end to end with the REAL Rasa server: conversations with
fallbacks and escalations → the review groups them → an admin labels them → the export
writes NLU YAML (validated by `rasa data validate --fail-on-warnings`, no personal data)
→ a retrained model → promoted while a visitor keeps talking → the same messages are
now understood as labelled → rolled back.

On a temporary copy of the bot project: a new phrasing (Dutch visitors asking about
delivery, which the shipped model does not understand) is seeded as fallbacks and one
escalation (docs/maintainers.md), labelled `ask_shipping` through the admin review API,
exported by `ReviewExport` (what `relais review export` runs) into the copy's
`data/nlu/reviewed_en.yml`; `relais bot train` trains from the copy with the small test
config (tests/bot/config.small.yml), then an admin promotes the model through the API
while a visitor talks: every message of the visitor gets the bot's answer. The same
messages are then classified as labelled, each bot turn names the new model, and the
rollback brings the first model back. The session's Rasa server is given its model
back whatever happens.
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
from handoff.config import REPO_ROOT, ReviewSettings
from handoff.domain import AgentRole
from handoff.services.review_export import ReviewExport
from handoff.store import open_store
from tests.support.review_seed import Seeder, ago
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


PERSONAL = "stuur het naar jan.devries@example.nl hoe lang duurt de levering"  # an email: never exported


def _project_copy(root: Path) -> Path:
    """The bot project (config.yml, bot/ without its models) under `root`; the copy's bot directory."""
    shutil.copy(REPO_ROOT / "config.yml", root / "config.yml")
    bot = root / "bot"
    shutil.copytree(REPO_ROOT / "bot", bot, ignore=shutil.ignore_patterns("models", ".rasa", "__pycache__"))
    return bot


async def _seed(database_url: str) -> None:
    """Each new phrasing read as a fallback, twice; one of them escalated; one with an email."""
    async with Seeder(database_url) as seeder:
        for index, text in enumerate(NEW_PHRASING * 2):
            cid = await seeder.conversation("en", at=ago(hours=3))
            await seeder.turn(cid, text, at=ago(hours=2, minutes=index), intent="nlu_fallback", confidence=0.31)
            if index == 0:
                await seeder.handoff(cid, "fallback", at=ago(hours=2, minutes=index, seconds=-5))
        cid = await seeder.conversation("en", at=ago(hours=1))
        await seeder.turn(cid, PERSONAL, at=ago(minutes=50), intent="nlu_fallback", confidence=0.2)


async def _review_and_label(service: RunningService, admin: str) -> None:
    """The review lists the new phrasing grouped (each twice at least); every group is labelled."""
    status, body = await service.call("GET", "/api/admin/review?language=en&limit=200", token=admin)
    assert status == 200, body
    groups = [g for g in body["groups"] if {g["text"], *g["examples"]} & {*NEW_PHRASING, PERSONAL}]
    listed = {text for g in groups for text in (g["text"], *g["examples"])}
    assert set(NEW_PHRASING) <= listed, (sorted(set(NEW_PHRASING) - listed), body["groups"])
    assert all(g["count"] >= 2 for g in groups if g["text"] in NEW_PHRASING), groups
    assert any("escalated" in g["reasons"] for g in groups), groups
    for group in groups:
        status, labelled = await service.call("POST", "/api/admin/review/labels", token=admin, json={
            "conversation_id": group["conversation_id"], "seq": group["seq"], "action": "intent",
            "intent": LABEL, "members": group["members"],
        })
        assert status == 201, labelled


async def _export(database_url: str, bot: Path) -> str:
    """What `relais review export` does, into the copy; the reviewed file's text."""
    store = await open_store(database_url)
    try:
        settings = ReviewSettings(bot_dir=bot, held_out_share=0.0)  # every example trains: they are asked below
        report = await ReviewExport(store, settings, rasa=REPO_ROOT / ".venv-bot" / "bin" / "rasa").run()
    finally:
        await store.close()
    # run() validated the data (rasa data validate --fail-on-warnings) or raised, the files restored
    assert report.languages["en"].personal_data >= 1, report
    return (bot / "data" / "nlu" / "reviewed_en.yml").read_text(encoding="utf-8")


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

    bot = _project_copy(tmp_path)

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

        await _seed(service.settings.database_url)
        await _review_and_label(service, admin)
        exported = await _export(service.settings.database_url, bot)
        assert all(f"- {text}" in exported for text in NEW_PHRASING), exported
        assert "@" not in exported and "jan.devries" not in exported, exported

        trained = await _train(bot / "data", models)
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
