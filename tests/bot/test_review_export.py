"""The review's export (handoff/services/review_export.py, docs/maintainers.md): labels
become Rasa NLU examples with no duplicate of the bot's data and no visitor's personal
data, `rasa data validate --fail-on-warnings` runs for real in the bot's environment
(.venv-bot), and an export Rasa refuses puts the previous files back.

The bot project is copied into a temporary folder, so the repository's data is never
touched."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import insert

from handoff.cli import main
from handoff.config import REPO_ROOT, ReviewSettings
from handoff.services.privacy import contains_personal_data
from handoff.services.review import ReviewService, normalise
from handoff.services.review_export import (
    ExportFailed,
    ReviewExport,
    existing_examples,
    strip_annotations,
)
from handoff.store import open_store, utcnow
from handoff.store.schema import review_labels
from tests.support.review_seed import Seeder, ago

pytestmark = pytest.mark.rasa

RASA = REPO_ROOT / ".venv-bot" / "bin" / "rasa"
PERSONAL = ["jo.martin@example.com", "06 12 34 56 78", "4539 1488 0343 6467", "FR76 3000 6000 0112 3456 7890 189"]


@pytest.fixture
def bot_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "bot").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "config.yml", project / "config.yml")
    shutil.copy(REPO_ROOT / "bot" / "domain.yml", project / "bot" / "domain.yml")
    shutil.copytree(REPO_ROOT / "bot" / "data", project / "bot" / "data",
                    ignore=shutil.ignore_patterns("reviewed_*"))
    shutil.copytree(REPO_ROOT / "bot" / "nlu", project / "bot" / "nlu", ignore=shutil.ignore_patterns("__pycache__"))
    return project / "bot"


@pytest.fixture
async def review(tmp_path: Path, bot_project: Path) -> AsyncIterator[tuple[ReviewService, ReviewExport, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'relais.db'}"
    store = await open_store(url)
    settings = ReviewSettings(bot_dir=bot_project, held_out_share=0.5)
    yield ReviewService(store, settings), ReviewExport(store, settings, rasa=RASA), url
    await store.close()


async def label_group(service: ReviewService, seed: Seeder, language: str, texts: list[str], *, intent: str,
                      entity: str | None = None) -> None:
    keys = []
    for index, text in enumerate(texts):
        cid = await seed.conversation(language, at=ago(hours=10 - index))
        keys.append((cid, await seed.turn(cid, text, at=ago(hours=10 - index), intent="nlu_fallback", confidence=0.2)))
    head = texts[0]
    entities = [{"start": head.index(entity), "end": head.index(entity) + len(entity)}] if entity else None
    await service.label(keys[0][0], keys[0][1], action="intent", intent=intent, entities=entities,
                        members=[list(k) for k in keys])


def exported(bot_dir: Path) -> dict[Path, list[tuple[str, str]]]:
    files = sorted((bot_dir / "data" / "nlu").glob("reviewed_*.yml")) + sorted(
        (bot_dir / "tests" / "nlu_reviewed_held").glob("*.yml"))
    out = {}
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[path] = [(item["intent"], line.strip()[2:]) for item in document["nlu"]
                     for line in item["examples"].splitlines() if line.strip()]
    return out


async def test_export_writes_new_clean_examples_and_rasa_validates_them(
    review: tuple[ReviewService, ReviewExport, str], bot_project: Path
) -> None:
    service, export, url = review
    known = existing_examples(bot_project)
    assert normalise("hello") in known
    async with Seeder(url) as seed:
        await label_group(service, seed, "en", [
            "can I pay with a gift voucher",
            "can i pay with gift vouchers please",
            "payment by gift voucher possible?",
            f"gift voucher ok? mail me at {PERSONAL[0]}",
        ], intent="ask_payment")
        await label_group(service, seed, "en", [
            "is the roll-out awning sent in one box",
            "the awning comes in one box?",
            "does it come in one box",  # no awning in it: left out (its span cannot be marked)
        ], intent="ask_shipping", entity="awning")
        await label_group(service, seed, "en", ["Hello!", "hello", f"call me on {PERSONAL[1]}"], intent="greet")
        await label_group(service, seed, "fr", [
            "je peux payer avec une carte cadeau",
            "paiement en carte cadeau possible ?",
            f"ma carte {PERSONAL[2]} est refusée",
            f"virement depuis {PERSONAL[3]} ok ?",
        ], intent="ask_payment")
        cid = await seed.conversation("en", at=ago(hours=1))
        seq = await seed.turn(cid, "do you rent vans", at=ago(hours=1), intent="out_of_scope")
        await service.label(cid, seq, action="candidate", candidate="ask_rental")

    report = await export.run()

    files = exported(bot_project)
    examples = [example for chosen in files.values() for example in chosen]
    texts = [strip_annotations(text) for _, text in examples]
    assert sorted(texts) == sorted([
        "can I pay with a gift voucher", "can i pay with gift vouchers please", "payment by gift voucher possible?",
        "is the roll-out awning sent in one box", "the awning comes in one box?",
        "je peux payer avec une carte cadeau", "paiement en carte cadeau possible ?",
    ])
    assert ("ask_shipping", "is the roll-out [awning](product_category) sent in one box") in examples
    assert ("ask_shipping", "the [awning](product_category) comes in one box?") in examples
    assert "do you rent vans" not in texts  # a candidate waits for a new intent
    # no duplicate: of the bot's data, nor among themselves
    assert not {normalise(t) for t in texts} & known
    assert len({normalise(t) for t in texts}) == len(texts)
    # no personal data anywhere in what was written
    for path in files:
        content = path.read_text(encoding="utf-8")
        assert not contains_personal_data(content)
        assert not any(item in content for item in PERSONAL) and "example.com" not in content
    counts = report.languages
    assert (counts["en"].duplicates, counts["en"].personal_data, counts["en"].unusable) == (2, 2, 1)
    assert (counts["fr"].personal_data, counts["fr"].training + counts["fr"].held_out) == (2, 2)
    assert counts["en"].training + counts["en"].held_out == 5
    # the held-out share is apart from the training data
    held = [p for p in files if "nlu_reviewed_held" in str(p)]
    training = [p for p in files if p.parent == bot_project / "data" / "nlu"]
    assert training and held
    assert sum(len(files[p]) for p in held) == counts["en"].held_out + counts["fr"].held_out

    # a second export gives the same files
    before = {p: p.read_bytes() for p in files}
    await export.run()
    assert {p: p.read_bytes() for p in exported(bot_project)} == before


async def test_an_export_rasa_refuses_puts_the_previous_files_back(
    review: tuple[ReviewService, ReviewExport, str], bot_project: Path
) -> None:
    service, export, url = review
    export = ReviewExport(export.store, replace(export.settings, held_out_share=0.0), rasa=RASA)  # all in bot/data
    async with Seeder(url) as seed:
        await label_group(service, seed, "en", ["can I pay with a gift voucher", "can i pay with gift vouchers"],
                          intent="ask_payment")
    await export.run()
    before = {p: p.read_bytes() for p in exported(bot_project)}
    assert before

    # the domain lost an intent since it was labelled: Rasa refuses the data
    async with Seeder(url) as seed:
        cid = await seed.conversation("fr", at=ago(hours=2))
        seq = await seed.turn(cid, "vous louez des vans aménagés ?", at=ago(hours=2), intent="out_of_scope")
        async with seed.store.sessions.begin() as session:
            await session.execute(insert(review_labels).values(
                conversation_id=cid, seq=seq, language="fr", text="vous louez des vans aménagés ?",
                action="intent", intent="ask_rental", entities=[], members=[[cid, seq]],
                created_at=utcnow() - timedelta(seconds=1),
            ))
    with pytest.raises(ExportFailed) as failure:
        await export.run()
    assert "ask_rental" in failure.value.details["output"]
    after = {p: p.read_bytes() for p in exported(bot_project)}
    assert after == before  # the French file it wrote is gone, the English one as it was
    assert not (bot_project / "data" / "nlu" / "reviewed_fr.yml").exists()
    assert before == {bot_project / "data" / "nlu" / "reviewed_en.yml": before[next(iter(before))]}


def test_relais_review_export_from_the_command_line(
    tmp_path: Path, bot_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`relais review export` with `relais.review.bot_dir` pointing at the copy; the bot's
    environment is found beside it, as in a checkout."""
    (bot_project.parent / ".venv-bot").symlink_to(RASA.parent.parent)
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"relais:\n  review:\n    bot_dir: {bot_project}\n    held_out_share: 0\n", encoding="utf-8")
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("RELAIS_ENDPOINTS", str(endpoints))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("REDIS_URL", raising=False)

    async def labelled() -> None:
        store = await open_store(url)
        try:
            async with Seeder(url) as seed:
                await label_group(ReviewService(store, ReviewSettings(bot_dir=bot_project)), seed, "fr",
                                  ["je peux payer avec une carte cadeau", "carte cadeau acceptée ?"],
                                  intent="ask_payment")
        finally:
            await store.close()

    asyncio.run(labelled())
    assert main(["review", "export"]) == 0
    out = capsys.readouterr().out
    assert "fr: 2 training, 0 held out" in out and "rasa data validate --fail-on-warnings: passed" in out
    written = (bot_project / "data" / "nlu" / "reviewed_fr.yml").read_text(encoding="utf-8")
    assert "    - je peux payer avec une carte cadeau\n" in written
