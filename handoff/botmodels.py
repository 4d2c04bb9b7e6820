"""The bot's models: named by what they were trained on, promoted and rolled back.

A model is `<models_dir>/relais-<sha12>.tar.gz`, where `sha12` is the start of the
SHA-256 of its inputs (`fingerprint`: the config, the domain, the training data and
the custom NLU components in bot/nlu), so the same data and config always give the
same name and `make model` knows when there is nothing to train.
`<models_dir>/relais.tar.gz` is a symbolic link to the model the bot starts with:
the last one trained or promoted.

Promoting loads a model into the running Rasa server with its HTTP API
(`PUT /model`, with the server's `--auth-token`): Rasa keeps serving, and a
conversation's next message is answered by the new model. Every promotion and
rollback is appended to `<models_dir>/history.json`; the models promoted one after
the other form a stack, and a rollback loads the one before the current one. The
service's bot bridge watches that file to name the right model in each bot turn.

Used by the command line (`relais bot train|models|promote|rollback`) and by the
admin API (`POST /api/admin/bot/model`, `POST /api/admin/bot/rollback`).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from handoff.domain import Conflict, DomainError, InvalidInput, NotFound

PREFIX = "relais-"
SUFFIX = ".tar.gz"
CURRENT_LINK = "relais.tar.gz"
HISTORY_FILE = "history.json"
LOAD_TIMEOUT_SECONDS = 300.0  # loading a model in Rasa on a loaded 2-core machine
_NAME = re.compile(r"^relais-[0-9a-f]{12}\.tar\.gz$")


class ModelError(DomainError):
    """A model could not be loaded into Rasa (unreachable, refused, or failed to load it)."""

    status = 502
    code = "bot_model"


def training_inputs(config: Path, domain: Path, data: Path, components: Path) -> list[Path]:
    """Every file a training reads: the config, then the domain, data and component files."""
    files: list[Path] = []
    for root in (domain, data, components):
        if root.is_file():
            files.append(root)
        elif root.is_dir():
            files += sorted(
                path for path in root.rglob("*")
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
            )
    return [config, *files]


def fingerprint(config: Path, domain: Path, data: Path, components: Path) -> str:
    """SHA-256 of the training inputs (their contents, and where each sits in its tree)."""
    digest = hashlib.sha256()
    roots = (domain, data, components)
    for index, path in enumerate(training_inputs(config, domain, data, components)):
        if index == 0:
            label = "config"
        else:
            root = next(r for r in roots if path == r or r in path.parents)
            label = f"{roots.index(root)}/{path.relative_to(root).as_posix() if root.is_dir() else path.name}"
        digest.update(label.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def model_name(sha: str) -> str:
    return f"{PREFIX}{sha[:12]}{SUFFIX}"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class ModelFile:
    name: str
    size: int
    modified: str  # ISO 8601, UTC


@dataclass(frozen=True, slots=True)
class Change:
    """One line of the history: a promotion or a rollback."""

    action: str  # "promote" | "rollback"
    model: str  # the model loaded
    previous: str | None  # the model it replaced, when known
    at: str
    by: str

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "model": self.model, "previous": self.previous, "at": self.at, "by": self.by}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Change:
        return cls(
            action=str(raw["action"]), model=str(raw["model"]),
            previous=str(raw["previous"]) if raw.get("previous") else None,
            at=str(raw.get("at", "")), by=str(raw.get("by", "")),
        )


class ModelShelf:
    """The models directory: the model files, the start-up link and the history."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def history_path(self) -> Path:
        return self.directory / HISTORY_FILE

    @property
    def link(self) -> Path:
        return self.directory / CURRENT_LINK

    def models(self) -> list[ModelFile]:
        """The trained models, newest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.glob(f"{PREFIX}*{SUFFIX}"):
            if path.name == CURRENT_LINK or not path.exists():
                continue
            stat = path.stat()
            modified = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.UTC).isoformat(timespec="seconds")
            found.append(ModelFile(path.name, stat.st_size, modified))
        return sorted(found, key=lambda model: (model.modified, model.name), reverse=True)

    def linked(self) -> str | None:
        """The model `relais.tar.gz` points to (what the bot starts with)."""
        if self.link.is_symlink():
            return Path(os.readlink(self.link)).name
        return CURRENT_LINK if self.link.exists() else None

    def point_link(self, name: str) -> None:
        """Make `relais.tar.gz` point to `name` (atomically: a rename over the old link)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.directory / f".{CURRENT_LINK}.{os.getpid()}"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(name)
        temporary.replace(self.link)

    def history(self) -> list[Change]:
        try:
            raw = json.loads(self.history_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        return [Change.from_json(item) for item in raw.get("changes", [])]

    def _write_history(self, changes: Iterable[Change]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        document = {"current": None, "changes": [change.to_json() for change in changes]}
        document["current"] = document["changes"][-1]["model"] if document["changes"] else None
        with tempfile.NamedTemporaryFile("w", dir=self.directory, prefix=".history.", delete=False,
                                         encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        os.chmod(handle.name, 0o644)  # as any file written here (NamedTemporaryFile makes it 0600)
        Path(handle.name).replace(self.history_path)

    def record(self, change: Change) -> None:
        self._write_history([*self.history(), change])

    def stack(self) -> list[str]:
        """The models promoted one after the other, the current one last (rollbacks pop)."""
        stack: list[str] = []
        for change in self.history():
            if not stack and change.previous:
                stack.append(change.previous)
            if change.action == "rollback":
                if stack and stack[-1] == change.previous:
                    stack.pop()
                if not stack or stack[-1] != change.model:
                    stack.append(change.model)
            else:
                stack.append(change.model)
        return stack

    def current(self) -> str | None:
        """The model in service as the history says: the last promoted (or rolled back to)."""
        stack = self.stack()
        return stack[-1] if stack else None

    def resolve(self, reference: str) -> Path:
        """A model of this directory from its file name, its path or the start of its hash."""
        candidate = Path(reference)
        if candidate.name != reference and candidate.exists():
            if candidate.resolve().parent != self.directory.resolve():
                raise InvalidInput(f"promote models of {self.directory} only (relais bot train puts them there)",
                                   field="model")
            return self.directory / candidate.name
        names = [model.name for model in self.models()]
        if reference in names:
            return self.directory / reference
        matches = [name for name in names if name.startswith(PREFIX + reference.lower())]
        if len(matches) == 1:
            return self.directory / matches[0]
        if len(matches) > 1:
            raise InvalidInput(f"{reference!r} names several models: {', '.join(matches)}", field="model")
        raise NotFound(f"no model {reference!r} in {self.directory} (relais bot models lists them)")


class RasaModels:
    """The running Rasa server's model: which one is loaded, and loading another."""

    def __init__(self, rasa_url: str, token: str | None, timeout_seconds: float = LOAD_TIMEOUT_SECONDS) -> None:
        self._url = rasa_url.rstrip("/")
        self._params = {"token": token} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def loaded(self) -> str | None:
        """The file name of the model Rasa answers with (None when Rasa does not say)."""
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
                http.get(f"{self._url}/status", params=self._params) as response,
            ):
                status = await response.json(content_type=None) if response.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        name = status.get("model_file") if isinstance(status, dict) else None
        return str(name) if name else None

    async def load(self, model: Path) -> None:
        """`PUT /model`: Rasa loads the file (an absolute path on Rasa's machine) and answers
        with it from then on."""
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as http,
                http.put(f"{self._url}/model", params=self._params, json={"model_file": str(model)}) as response,
            ):
                if response.status in (401, 403):
                    raise ModelError("Rasa refused the token: set relais.bot.token (RASA_TOKEN) to its --auth-token")
                if response.status >= 300:
                    raise ModelError(f"Rasa could not load {model.name}: HTTP {response.status} "
                                     f"{(await response.text())[:300]}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ModelError(f"Rasa at {self._url} unreachable: {exc!r}") from exc


class ModelPromoter:
    """Promote a model of the shelf into the running Rasa server, or roll back."""

    def __init__(self, shelf: ModelShelf, rasa: RasaModels) -> None:
        self.shelf = shelf
        self.rasa = rasa

    async def _load(self, action: str, model: Path, previous: str | None, by: str) -> Change:
        await self.rasa.load(model)
        change = Change(action=action, model=model.name, previous=previous, at=_now(), by=by)
        self.shelf.record(change)
        self.shelf.point_link(model.name)
        return change

    async def current(self) -> str | None:
        """The model in service: the last promoted (or rolled back to); before any promotion, the
        one Rasa runs when it is on the shelf (a training since then moved the start-up link)."""
        promoted = self.shelf.current()
        if promoted is not None:
            return promoted
        running = await self.rasa.loaded()
        return running if running in {model.name for model in self.shelf.models()} else None

    async def promote(self, reference: str, by: str) -> Change:
        model = self.shelf.resolve(reference)
        return await self._load("promote", model, await self.current(), by)

    async def rollback(self, by: str) -> Change:
        stack = self.shelf.stack()
        if len(stack) < 2:
            raise Conflict("no earlier model to roll back to (none was promoted before this one)")
        target = self.shelf.directory / stack[-2]
        if not target.exists():
            raise NotFound(f"the previous model {stack[-2]} is no longer in {self.shelf.directory}")
        return await self._load("rollback", target, stack[-1], by)

    async def describe(self) -> dict[str, Any]:
        """The models, the current one, the one Rasa runs, the start-up link and the history."""
        return {
            "current": await self.current(),
            "running": await self.rasa.loaded(),
            "linked": self.shelf.linked(),
            "models": [{"name": m.name, "size": m.size, "modified": m.modified} for m in self.shelf.models()],
            "history": [change.to_json() for change in self.shelf.history()],
        }


def is_model_name(name: str) -> bool:
    return bool(_NAME.match(name))
