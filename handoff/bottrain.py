"""`relais bot train`: train the bot's model, named by the hash of its inputs.

Runs `rasa train` from the bot's environment (`.venv-bot`) with the repository on
`PYTHONPATH` (the custom NLU component), writes `<models_dir>/relais-<sha12>.tar.gz`
and points `<models_dir>/relais.tar.gz` at it. When a model of the same inputs
already exists nothing is trained (`make model`), unless `force` (`make train`).
Progress is shown with rich: one bar per trained component (DIET's and TED's
epochs as they go), read from Rasa's output; Rasa's whole output goes to
`<models_dir>/train.log`.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from handoff.botmodels import ModelShelf, fingerprint, model_name
from handoff.botprocess import BOT_VENV
from handoff.config import REPO_ROOT
from handoff.domain import DomainError

COMPONENTS = REPO_ROOT / "bot" / "nlu"  # custom NLU components: part of every model's inputs
_STARTED = re.compile(r"Starting to train component '([^']+)'")
_FINISHED = re.compile(r"Finished training component '([^']+)'")
_EPOCHS = re.compile(r"Epochs:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")
_VALIDATING = "Started validating domain and training data"


class TrainingFailed(DomainError):
    status = 500
    code = "training_failed"


@dataclass(frozen=True, slots=True)
class Inputs:
    config: Path
    domain: Path
    data: Path

    @classmethod
    def default(cls, config: Path | None = None, data: Path | None = None, domain: Path | None = None) -> Inputs:
        bot = REPO_ROOT / "bot"
        default_domain = bot / "domain" if (bot / "domain").is_dir() else bot / "domain.yml"
        inputs = cls(config or REPO_ROOT / "config.yml", domain or default_domain, data or bot / "data")
        for name, path in (("config", inputs.config), ("domain", inputs.domain), ("data", inputs.data)):
            if not path.exists():
                raise DomainError(f"the {name} {path} does not exist")
        return inputs

    def fingerprint(self) -> str:
        return fingerprint(self.config, self.domain, self.data, COMPONENTS)


@dataclass(frozen=True, slots=True)
class Trained:
    model: Path
    trained: bool  # False: a model of these inputs existed already
    seconds: float


def _chunks(stream: IO[bytes]) -> Iterator[str]:
    """Rasa's output split on newlines and on tqdm's carriage returns."""
    pending = b""
    while True:
        block = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
        if not block:
            break
        pending += block
        *lines, pending = re.split(rb"[\r\n]", pending)
        for line in lines:
            yield line.decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")


class _Bars:
    """One bar per stage Rasa reports; a component with epochs shows them."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.current: TaskID | None = None
        self.seen: dict[str, int] = {}

    def _start(self, label: str) -> None:
        self._finish()
        self.current = self.progress.add_task(label, total=None)

    def _finish(self) -> None:
        if self.current is not None:
            task = self.progress.tasks[self.progress.task_ids.index(self.current)]
            self.progress.update(self.current, total=task.total or 1, completed=task.total or 1)
            self.current = None

    def feed(self, line: str) -> None:
        if _VALIDATING in line:
            self._start("validating the data")
        elif started := _STARTED.search(line):
            name = started.group(1)
            self.seen[name] = self.seen.get(name, 0) + 1
            self._start(f"training {name}" + (f" ({self.seen[name]})" if self.seen[name] > 1 else ""))
        elif _FINISHED.search(line):
            self._finish()
        elif (epochs := _EPOCHS.search(line)) and self.current is not None:
            self.progress.update(self.current, completed=int(epochs.group(1)), total=int(epochs.group(2)))

    def close(self) -> None:
        self._finish()


def train(
    inputs: Inputs,
    models_dir: Path,
    *,
    force: bool = False,
    console: Console | None = None,
    bot_venv: Path = BOT_VENV,
) -> Trained:
    """Train (unless a model of these inputs exists and not `force`); point the link at it."""
    console = console or Console(stderr=True)
    shelf = ModelShelf(models_dir)
    name = model_name(inputs.fingerprint())
    model = models_dir / name
    if model.exists() and not force:
        if shelf.linked() is None:
            shelf.point_link(name)
        return Trained(model, trained=False, seconds=0.0)
    rasa = bot_venv / "bin" / "rasa"
    if not rasa.exists():
        raise TrainingFailed(f"{rasa} is missing: run `make env` (the bot's environment)")
    models_dir.mkdir(parents=True, exist_ok=True)
    log_path = models_dir / "train.log"
    command = [
        str(rasa), "train", "--config", str(inputs.config), "--domain", str(inputs.domain),
        "--data", str(inputs.data), "--out", str(models_dir), "--fixed-model-name", name.removesuffix(".tar.gz"),
    ]
    if force:
        command.append("--force")  # no reuse of Rasa's training cache
    env = {
        **os.environ, "PYTHONPATH": str(REPO_ROOT), "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false",
    }
    started = time.monotonic()
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())
    with log_path.open("w", encoding="utf-8") as log, Progress(*columns, console=console, transient=False,
                                                               disable=not console.is_terminal) as progress:
        bars = _Bars(progress)
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        for line in _chunks(process.stdout):
            log.write(line + "\n")
            bars.feed(line)
            if not console.is_terminal and (_STARTED.search(line) or _VALIDATING in line):
                console.print(line.split(" - ", 1)[-1].strip())  # without a terminal: one line per stage
        code = process.wait()
        bars.close()
    if code != 0 or not model.exists():
        tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise TrainingFailed(f"training failed (exit code {code}); full log in {log_path}\n{tail}")
    shelf.point_link(name)
    return Trained(model, trained=True, seconds=time.monotonic() - started)
