"""The review's labels as Rasa NLU training data (`relais review export`, docs/maintainers.md).

Every label that confirms or corrects an intent becomes examples: the labelled
message (its `product_category` spans annotated) and the other phrasings of its
group (annotated where the same words appear; left out when the label marks spans
that a phrasing does not contain). The files are rebuilt from all labels each time:

- `<bot_dir>/data/nlu/reviewed_<language>.yml`: the training share;
- `<bot_dir>/tests/nlu_reviewed_held/<language>.yml`: a held-out share
  (`review.held_out_share`, chosen by a hash of the text, so an example stays on
  its side from one export to the next), scored apart by the evaluation.

An example is dropped when it repeats one already in the bot's data (compared
normalised, annotations removed), when it holds personal data (an email, a phone,
card or IBAN number: the rules of services/privacy.py, which masks them for
ambassadors), or when it holds characters of Rasa's annotation syntax.

Then `rasa data validate --fail-on-warnings` runs in the bot's environment; when it
fails, the previous files are put back as they were and the export fails with
Rasa's output. Candidates for a new intent are not exported (they need a domain
change first).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import select, update

from handoff.config import ReviewSettings
from handoff.domain import DomainError
from handoff.services.privacy import HIDDEN, contains_personal_data
from handoff.services.review import normalise
from handoff.store import Store, utcnow
from handoff.store.schema import messages, review_labels

ENTITY = "product_category"
HELD_DIR = Path("tests") / "nlu_reviewed_held"
REVIEWED_PREFIX = "reviewed_"
VALIDATE_TIMEOUT_SECONDS = 600
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
_SYNTAX = re.compile(r"[\[\]{}]")
_SPACES = re.compile(r"\s+")
HEADER = (
    "# Written by `relais review export` from the maintainers' labels (docs/maintainers.md).\n"
    "# Rebuilt at each export: change the labels, not this file.\n"
)


class ExportFailed(DomainError):
    """Rasa refused the exported data; the previous files were restored."""

    code = "export_failed"
    status = 409


@dataclass(slots=True)
class Counts:
    training: int = 0
    held_out: int = 0
    duplicates: int = 0
    personal_data: int = 0
    unusable: int = 0


@dataclass(slots=True)
class ExportReport:
    files: list[Path] = field(default_factory=list)
    languages: dict[str, Counts] = field(default_factory=dict)
    validation: str = ""


@dataclass(frozen=True, slots=True)
class Example:
    language: str
    intent: str
    text: str  # annotated


def strip_annotations(text: str) -> str:
    return _ANNOTATION.sub(r"\1", text)


def existing_examples(bot_dir: Path) -> set[str]:
    """Every intent example already in the bot's data (not the review's own files), normalised."""
    found: set[str] = set()
    for path in sorted((bot_dir / "data").rglob("*.yml")):
        if path.name.startswith(REVIEWED_PREFIX):
            continue
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in document.get("nlu") or [] if isinstance(document, dict) else []:
            if isinstance(item, dict) and "intent" in item and isinstance(item.get("examples"), str):
                for line in item["examples"].splitlines():
                    line = line.strip()
                    if line.startswith("- "):
                        found.add(normalise(strip_annotations(line[2:])))
    return found


def annotate(text: str, spans: Sequence[dict[str, int]]) -> str:
    out, last = [], 0
    for span in sorted(spans, key=lambda s: s["start"]):
        out.append(text[last:span["start"]])
        out.append(f"[{text[span['start']:span['end']]}]({ENTITY})")
        last = span["end"]
    out.append(text[last:])
    return "".join(out)


def project(text: str, words: Sequence[str]) -> list[dict[str, int]] | None:
    """The spans of `words` (the labelled message's entity texts) in another phrasing;
    None when one of them is missing from it."""
    spans: list[dict[str, int]] = []
    lowered = text.casefold()
    for word in words:
        at = lowered.find(word.casefold())
        if at < 0 or any(at < s["end"] and s["start"] < at + len(word) for s in spans):
            return None
        spans.append({"start": at, "end": at + len(word)})
    return spans


def held_out(text: str, share: float) -> bool:
    digest = int(hashlib.sha256(normalise(strip_annotations(text)).encode()).hexdigest()[:8], 16)
    return digest % 1000 < share * 1000


def render(examples: Iterable[Example]) -> str:
    by_intent: dict[str, list[str]] = {}
    for example in examples:
        by_intent.setdefault(example.intent, []).append(example.text)
    lines = [HEADER, 'version: "3.1"\n', "nlu:\n"]
    for intent in sorted(by_intent):
        lines.append(f"- intent: {intent}\n  examples: |\n")
        lines.extend(f"    - {text}\n" for text in by_intent[intent])
    return "".join(lines)


class ReviewExport:
    def __init__(self, store: Store, settings: ReviewSettings, *, rasa: Path | None = None) -> None:
        self.store = store
        self.settings = settings
        self.bot_dir = settings.bot_dir
        self.project_dir = self.bot_dir.parent
        self.rasa = rasa or self.project_dir / ".venv-bot" / "bin" / "rasa"

    async def examples(self) -> tuple[list[Example], dict[str, Counts]]:
        """The examples the labels give, with what was dropped and why."""
        known = existing_examples(self.bot_dir)
        counts: dict[str, Counts] = {}
        chosen: list[Example] = []
        async with self.store.sessions() as session:
            labels = (await session.execute(
                select(review_labels).where(review_labels.c.action == "intent")
                .order_by(review_labels.c.created_at.desc(), review_labels.c.id.desc())
            )).all()
            for label in labels:
                tally = counts.setdefault(label.language, Counts())
                spans = [{"start": int(s["start"]), "end": int(s["end"])} for s in label.entities or []]
                words = [label.text[s["start"]:s["end"]] for s in spans]
                texts: list[tuple[str, list[dict[str, int]] | None]] = [(label.text, spans)]
                others = [tuple(m) for m in label.members or [] if tuple(m) != (label.conversation_id, label.seq)]
                if others:
                    rows = (await session.execute(
                        select(messages.c.conversation_id, messages.c.seq, messages.c.text)
                        .where(messages.c.conversation_id.in_({str(m[0]) for m in others}))
                    )).all()
                    wanted = {(str(m[0]), int(m[1])) for m in others}
                    texts += [(row.text, project(row.text, words)) for row in rows
                              if (row.conversation_id, row.seq) in wanted and row.text]
                for text, found in texts:
                    text = _SPACES.sub(" ", text).strip()
                    plain = normalise(text)
                    if found is None or not plain or _SYNTAX.search(text) or text.startswith(("- ", "#")):
                        tally.unusable += 1
                        continue
                    if contains_personal_data(text) or HIDDEN in text:  # masked by the retention rule
                        tally.personal_data += 1
                        continue
                    if plain in known:
                        tally.duplicates += 1
                        continue
                    known.add(plain)
                    chosen.append(Example(label.language, str(label.intent), annotate(text, found)))
        return chosen, counts

    def _targets(self, languages: Iterable[str]) -> list[Path]:
        nlu = self.bot_dir / "data" / "nlu"
        paths = set(nlu.glob(f"{REVIEWED_PREFIX}*.yml")) | set((self.bot_dir / HELD_DIR).glob("*.yml"))
        for language in languages:
            paths.add(nlu / f"{REVIEWED_PREFIX}{language}.yml")
            paths.add(self.bot_dir / HELD_DIR / f"{language}.yml")
        return sorted(paths)

    async def run(self) -> ExportReport:
        examples, counts = await self.examples()
        report = ExportReport(languages=counts)
        targets = self._targets(counts)
        previous = {path: path.read_bytes() if path.exists() else None for path in targets}
        try:
            for language in sorted(counts):
                train = [e for e in examples if e.language == language
                         and not held_out(e.text, self.settings.held_out_share)]
                held = [e for e in examples if e.language == language
                        and held_out(e.text, self.settings.held_out_share)]
                counts[language].training, counts[language].held_out = len(train), len(held)
                for path, chosen in ((self.bot_dir / "data" / "nlu" / f"{REVIEWED_PREFIX}{language}.yml", train),
                                     (self.bot_dir / HELD_DIR / f"{language}.yml", held)):
                    if chosen:
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text(render(chosen), encoding="utf-8")
                        report.files.append(path)
                    elif path.exists():
                        path.unlink()
            for path in targets:  # a language without labels any more
                if path not in report.files and path.exists() and path.stem.removeprefix(REVIEWED_PREFIX) not in counts:
                    path.unlink()
            report.validation = await self.validate()
        except BaseException:
            restore(previous)
            raise
        async with self.store.sessions.begin() as session:
            await session.execute(update(review_labels).where(review_labels.c.action == "intent")
                                  .values(exported_at=utcnow()))
        return report

    async def validate(self) -> str:
        """`rasa data validate --fail-on-warnings` on the bot's data; ExportFailed when it refuses."""
        env = {**os.environ, "PYTHONPATH": str(self.project_dir), "TF_CPP_MIN_LOG_LEVEL": "2",
               "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
        command: list[str] = [
            str(self.rasa), "data", "validate", "--fail-on-warnings",
            "--config", str(self.project_dir / "config.yml"), "--domain", str(self.bot_dir / "domain.yml"),
            "--data", str(self.bot_dir / "data"),
        ]
        try:
            process = await asyncio.create_subprocess_exec(
                *command, cwd=self.project_dir, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )
        except FileNotFoundError:
            raise ExportFailed(f"the bot's environment is missing ({self.rasa}): run make env") from None
        try:
            output, _ = await asyncio.wait_for(process.communicate(), VALIDATE_TIMEOUT_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise ExportFailed("rasa data validate did not finish in time") from None
        text = output.decode(errors="replace")
        if process.returncode != 0:
            raise ExportFailed("rasa data validate refused the exported data; the previous files are back",
                               output=_relevant(text))
        return text


def restore(previous: dict[Path, bytes | None]) -> None:
    for path, content in previous.items():
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


def _relevant(output: str) -> str:
    """Rasa's complaints without the library noise (deprecation warnings and their source lines)."""
    lines = [line for line in output.splitlines()
             if line.strip() and "DeprecationWarning" not in line and not line.startswith("  ")]
    return "\n".join(lines[-30:])


def describe(report: ExportReport) -> list[str]:
    lines = []
    for language, counts in sorted(report.languages.items()):
        lines.append(
            f"{language}: {counts.training} training, {counts.held_out} held out; dropped "
            f"{counts.duplicates} already in the data, {counts.personal_data} with personal data, "
            f"{counts.unusable} unusable"
        )
    lines.extend(f"wrote {path}" for path in report.files)
    return lines
