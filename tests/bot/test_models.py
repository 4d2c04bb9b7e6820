"""The bot's models (handoff/botmodels.py, handoff/bottrain.py): named by the hash of their
inputs, promoted into the running Rasa server, rolled back, with the history in history.json.

Rasa is a small stand-in here (its `PUT /model` and `/status`, the REST channel and the
tracker); tests/e2e/test_model_promotion_e2e.py does the same with the real Rasa server.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from handoff.botmodels import (
    CURRENT_LINK,
    ModelError,
    ModelPromoter,
    ModelShelf,
    RasaModels,
    fingerprint,
    is_model_name,
    model_name,
)
from handoff.bottrain import Inputs, train
from handoff.config import REPO_ROOT
from handoff.domain import AgentRole, Conflict, InvalidInput, NotFound
from tests.support.service import ServiceFactory, add_agent

TOKEN = "s3cret-token"


@dataclass
class FakeRasa:
    """Rasa's model API as the promotion uses it: `PUT /model` (with the token), `/status`."""

    url: str = ""
    loaded: str | None = None  # the path Rasa was asked to load last
    refuse: bool = False  # answer 500 to PUT /model, as a model that does not load
    puts: list[str] = field(default_factory=list)

    async def put_model(self, request: web.Request) -> web.Response:
        if request.query.get("token") != TOKEN:
            return web.json_response({"message": "no token"}, status=401)
        path = (await request.json())["model_file"]
        self.puts.append(path)
        if self.refuse or not await asyncio.to_thread(os.path.isfile, path):
            return web.json_response({"message": "LoadingError"}, status=500)
        self.loaded = path
        return web.Response(status=204)

    async def status(self, request: web.Request) -> web.Response:
        if request.query.get("token") != TOKEN:
            return web.json_response({"message": "no token"}, status=401)
        return web.json_response({"model_file": Path(self.loaded).name if self.loaded else None, "model_id": "x"})

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response([{"recipient_id": body["sender"], "text": "an answer"}])

    async def tracker(self, request: web.Request) -> web.Response:
        return web.json_response({"latest_message": {"intent": {"name": "greet", "confidence": 0.9}}})


@pytest.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    rasa = FakeRasa()
    app = web.Application()
    app.router.add_put("/model", rasa.put_model)
    app.router.add_get("/status", rasa.status)
    app.router.add_post("/webhooks/rest/webhook", rasa.webhook)
    app.router.add_get("/conversations/{sender}/tracker", rasa.tracker)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    rasa.url = str(server.make_url("")).rstrip("/")
    yield rasa
    await server.close()


def _inputs(tmp_path: Path) -> Inputs:
    """A copy of the bot's config, domain and data that a test may change."""
    shutil.copytree(REPO_ROOT / "bot" / "data", tmp_path / "data")
    shutil.copy(REPO_ROOT / "config.yml", tmp_path / "config.yml")
    return Inputs.default(config=tmp_path / "config.yml", data=tmp_path / "data")


def _shelf(tmp_path: Path, *names: str) -> ModelShelf:
    """A models directory holding (empty) model files of these names."""
    directory = tmp_path / "models"
    directory.mkdir()
    for index, name in enumerate(names):
        (directory / name).write_bytes(b"model")
        os.utime(directory / name, (1_700_000_000 + index, 1_700_000_000 + index))
    return ModelShelf(directory)


# names --------------------------------------------------------------------------------------


def test_a_model_is_named_by_the_hash_of_its_data_and_config(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path)
    first = model_name(inputs.fingerprint())
    assert is_model_name(first), first
    assert model_name(inputs.fingerprint()) == first  # the same inputs, the same name
    nlu = inputs.data / "nlu" / "en.yml"
    original = nlu.read_text()
    nlu.write_text(original + '    - is my parcel on its way yet\n')
    with_example = model_name(inputs.fingerprint())
    assert with_example != first  # one more example: another model
    nlu.write_text(original)
    assert model_name(inputs.fingerprint()) == first
    inputs.config.write_text(inputs.config.read_text().replace("epochs: 50", "epochs: 40"))
    assert model_name(inputs.fingerprint()) not in (first, with_example)  # another config: another model
    # The custom NLU components are inputs too, and a file's place in the tree counts.
    assert fingerprint(inputs.config, inputs.domain, inputs.data, tmp_path / "none") != inputs.fingerprint()


def test_training_is_skipped_when_a_model_of_the_same_inputs_exists(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    existing = models / model_name(inputs.fingerprint())
    existing.write_bytes(b"trained before")
    # No bot environment at this path: training would fail, so nothing was trained.
    result = train(inputs, models, bot_venv=tmp_path / "no-venv")
    assert (result.model, result.trained) == (existing, False)
    assert os.readlink(models / CURRENT_LINK) == existing.name  # the start-up link is made when missing
    assert existing.read_bytes() == b"trained before"


# promotion, history, rollback ---------------------------------------------------------------


async def test_promote_then_roll_back_through_the_history(tmp_path: Path, fake_rasa: FakeRasa) -> None:
    a, b, c = (model_name(sha * 12) for sha in "abc")
    shelf = _shelf(tmp_path, a, b, c)
    shelf.point_link(c)  # c was trained last...
    fake_rasa.loaded = str(shelf.directory / a)  # ... but Rasa runs a
    promoter = ModelPromoter(shelf, RasaModels(fake_rasa.url, TOKEN))
    assert shelf.current() is None  # nothing promoted yet
    assert await promoter.current() == a  # the model in service: the one Rasa runs

    change = await promoter.promote("bbbb", by="cli:test")  # the start of the hash is enough
    assert (change.action, change.model, change.previous, change.by) == ("promote", b, a, "cli:test")
    assert fake_rasa.loaded == str(shelf.directory / b)
    assert await promoter.rasa.loaded() == b
    await promoter.promote(c, by="admin:root")
    assert shelf.stack() == [a, b, c] and shelf.current() == c
    assert os.readlink(shelf.link) == c  # a restart starts with the promoted model

    back = await promoter.rollback(by="cli:test")
    assert (back.action, back.model, back.previous) == ("rollback", b, c)
    assert fake_rasa.loaded == str(shelf.directory / b) and os.readlink(shelf.link) == b
    assert (await promoter.rollback(by="cli:test")).model == a
    with pytest.raises(Conflict):
        await promoter.rollback(by="cli:test")  # a was there first: nothing before it
    assert fake_rasa.loaded == str(shelf.directory / a)

    document = json.loads(shelf.history_path.read_text())
    assert document["current"] == a
    assert [(c["action"], c["model"]) for c in document["changes"]] == [
        ("promote", b), ("promote", c), ("rollback", b), ("rollback", a)
    ]
    described = await promoter.describe()
    assert (described["current"], described["running"], described["linked"]) == (a, a, a)
    assert [m["name"] for m in described["models"]] == [c, b, a]  # newest first
    # Promoting again after rollbacks stacks on the model in service.
    await promoter.promote(c, by="cli:test")
    assert shelf.stack() == [a, c]
    assert (await promoter.rollback(by="cli:test")).model == a


async def test_a_model_rasa_cannot_load_changes_nothing(tmp_path: Path, fake_rasa: FakeRasa) -> None:
    a, b = model_name("a" * 12), model_name("b" * 12)
    shelf = _shelf(tmp_path, a, b)
    shelf.point_link(a)
    fake_rasa.refuse = True
    with pytest.raises(ModelError):
        await ModelPromoter(shelf, RasaModels(fake_rasa.url, TOKEN)).promote(b, by="cli:test")
    with pytest.raises(ModelError, match="token"):
        await ModelPromoter(shelf, RasaModels(fake_rasa.url, "wrong")).promote(b, by="cli:test")
    with pytest.raises(ModelError, match="unreachable"):
        await ModelPromoter(shelf, RasaModels("http://127.0.0.1:9", TOKEN)).promote(b, by="cli:test")
    assert shelf.history() == [] and shelf.current() is None and os.readlink(shelf.link) == a


def test_models_are_named_by_file_name_path_or_hash_prefix(tmp_path: Path) -> None:
    one, two = model_name("ab12" + "0" * 8), model_name("ab34" + "0" * 8)
    shelf = _shelf(tmp_path, one, two)
    assert shelf.resolve(one) == shelf.directory / one
    assert shelf.resolve(str(shelf.directory / two)) == shelf.directory / two
    assert shelf.resolve("ab3") == shelf.directory / two
    with pytest.raises(InvalidInput):
        shelf.resolve("ab")  # both
    with pytest.raises(NotFound):
        shelf.resolve("ffff")
    outside = tmp_path / model_name("cd" * 6)
    outside.write_bytes(b"model")
    with pytest.raises(InvalidInput):
        shelf.resolve(str(outside))


# the command line and the admin API -----------------------------------------------------------


async def _relais(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "handoff.cli", *args, cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_the_command_line_promotes_lists_and_rolls_back(tmp_path: Path, fake_rasa: FakeRasa) -> None:
    a, b = model_name("a" * 12), model_name("b" * 12)
    shelf = _shelf(tmp_path, a, b)
    shelf.point_link(a)
    fake_rasa.loaded = str(shelf.directory / a)
    env = {"RASA_URL": fake_rasa.url, "RASA_TOKEN": TOKEN, "RELAIS_BOT_MODELS_DIR": str(shelf.directory)}
    code, output = await _relais("bot", "promote", "bbb", env=env)
    assert code == 0, output
    assert f"promoted {b}" in output and fake_rasa.loaded == str(shelf.directory / b)
    code, output = await _relais("bot", "models", env=env)
    assert code == 0, output
    line_b = next(line for line in output.splitlines() if line.strip().startswith(b))
    assert "current" in line_b and "running" in line_b
    assert "promote" in output and "cli:" in output
    code, output = await _relais("bot", "rollback", env=env)
    assert code == 0, output
    assert f"rolled back to {a}" in output and fake_rasa.loaded == str(shelf.directory / a)
    code, output = await _relais("bot", "rollback", env=env)
    assert code == 1 and "no earlier model" in output


async def test_admins_promote_and_roll_back_through_the_api_and_bot_turns_name_the_model(
    service_factory: ServiceFactory, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    a, b = model_name("a" * 12), model_name("b" * 12)
    shelf = _shelf(tmp_path, a, b)
    shelf.point_link(a)
    fake_rasa.loaded = str(shelf.directory / a)
    service = await service_factory(rasa_url=fake_rasa.url, rasa_token=TOKEN, models_dir=shelf.directory)
    await add_agent(service.settings, "root", role=AgentRole.ADMIN)
    await add_agent(service.settings, "amy")
    root, amy = await service.login("root"), await service.login("amy")
    visitor = await service.start_conversation("en")

    async def model_of_next_turn(text: str) -> str:
        answer = await service.say(visitor, text)
        [reply] = [r for r in answer["replies"] if r["sender_kind"] == "bot"]
        return str(reply["data"]["model"]["model_file"])

    assert await model_of_next_turn("hello") == a
    status, body = await service.call("POST", "/api/admin/bot/model", token=amy, json={"model": b})
    assert status == 403, body
    status, body = await service.call("POST", "/api/admin/bot/model", token=root, json={"model": "ffff"})
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await service.call("POST", "/api/admin/bot/model", token=root, json={"model": "../../etc/x"})
    assert (status, body["error"]["code"]) == (400, "invalid_input")
    status, body = await service.call("POST", "/api/admin/bot/model", token=root, json={"model": b})
    assert status == 200, body
    assert (body["action"], body["model"], body["previous"], body["by"]) == ("promote", b, a, "admin:root")
    assert await model_of_next_turn("hello again") == b  # at once, not after the bridge's 30 s
    status, body = await service.call("GET", "/api/admin/bot/models", token=root)
    assert status == 200, body
    assert (body["current"], body["running"], body["linked"]) == (b, b, b)
    status, body = await service.call("POST", "/api/admin/bot/rollback", token=root)
    assert status == 200 and body["model"] == a, body
    assert await model_of_next_turn("and now?") == a
    status, body = await service.call("POST", "/api/admin/bot/rollback", token=root)
    assert (status, body["error"]["code"]) == (409, "conflict")
    # A promotion from the command line (history.json changes) is seen at the next turn too.
    fake_rasa.loaded = str(shelf.directory / b)
    await ModelPromoter(shelf, RasaModels(fake_rasa.url, TOKEN)).promote(b, by="cli:test")
    assert await model_of_next_turn("one more") == b


def test_training_progress_follows_rasa_s_output() -> None:
    """One bar per component Rasa trains, with DIET's epochs as tqdm prints them (carriage returns)."""
    import io

    from rich.console import Console
    from rich.progress import Progress

    from handoff.bottrain import _Bars, _chunks

    output = (
        b"2026-12-08 00:41:57 INFO     rasa.cli.train  - Started validating domain and training data...\n"
        b"2026-12-08 00:42:14 INFO     rasa.engine.training.hooks  - Starting to train component 'DIETClassifier'.\n"
        b"Epochs:   0%|          | 0/50 [00:00<?, ?it/s]\rEpochs:   2%|\xe2\x96\x8f         | 1/50 [00:32<26:26]\r"
        b"Epochs:  60%|######    | 30/50 [00:40<00:10, t_loss=4.2]\r"
        b"2026-12-08 00:42:14 INFO     rasa.engine.training.hooks  - Finished training component 'DIETClassifier'.\n"
        b"2026-12-08 00:42:15 INFO     rasa.engine.training.hooks  - Starting to train component 'TEDPolicy'.\n"
        b"Epochs:  10%|#         | 3/30 [00:03<00:27]"
    )
    console = Console(file=io.StringIO(), force_terminal=True)
    with Progress(console=console) as progress:
        bars = _Bars(progress)
        seen = []
        for line in _chunks(io.BufferedReader(io.BytesIO(output))):  # type: ignore[arg-type]
            bars.feed(line)
            seen.append(line)
        states = [(task.description, task.completed, task.total) for task in progress.tasks]
        assert states == [("validating the data", 1, 1), ("training DIETClassifier", 50, 50),
                          ("training TEDPolicy", 3, 30)]
        bars.close()
        assert progress.tasks[-1].completed == 30
    assert len(seen) == 8 and "0/50" in seen[2]
