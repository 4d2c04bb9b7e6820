"""The one launcher of the bot: the Rasa server and its action server.

`relais run --with-bot` (handoff/server.py, asynchronous) and the test fixture
`rasa_server` (tests/support/rasa.py, synchronous) both start the bot through
`BotProcesses`, so they run it the same way:

- from the bot's own environment (`.venv-bot`, Rasa 3.6 on Python 3.10), with the
  repository root as working directory and on `PYTHONPATH` (for `bot.actions`
  and the custom NLU component `bot.nlu.fallback`);
- the action server: `rasa run actions --actions bot.actions -p <actions_port>`,
  bound to loopback (`SANIC_HOST=127.0.0.1`);
- the Rasa server: `rasa run --enable-api --auth-token <token> -i 127.0.0.1 -p
  <rasa_port> --model <model> --endpoints <log_dir>/endpoints.yml`, a generated
  endpoints file that points at that action server; its HTTP API (trackers,
  model, status) answers only with `?token=` (`auth_token`, random unless given),
  so no other local process reads conversations or replaces the model (`relais run
  --with-bot` keeps a random token in var/rasa-token, mode 0600, for `relais bot
  promote`); `--model` is given the start-up link's target, so Rasa names the model
  it answers with (`relais-<sha12>.tar.gz`);
- each process in its own process group, its output in `<log_dir>/rasa.log` and
  `<log_dir>/actions.log`; stopping sends SIGTERM to the group, then SIGKILL
  after a grace period.

Ready means: Rasa's `/status` names a loaded model and the action server's
`/health` answers `{"status": "ok"}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from handoff.config import REPO_ROOT

BOT_VENV = REPO_ROOT / ".venv-bot"
MODEL_PATH = REPO_ROOT / "bot" / "models" / "relais.tar.gz"
# `relais run --with-bot` without a configured token: the random one, for `relais bot promote`.
TOKEN_FILE = REPO_ROOT / "var" / "rasa-token"
DEFAULT_RASA_PORT = 5005
DEFAULT_ACTIONS_PORT = 5055
START_TIMEOUT_SECONDS = 240.0
STOP_GRACE_SECONDS = 10.0
PROBE_TIMEOUT_SECONDS = 2.0
LOG_TAIL_LINES = 60


def write_token_file(token: str) -> None:
    """Keep the Rasa server's token in TOKEN_FILE, readable by this user only."""
    TOKEN_FILE.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(TOKEN_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token)


def read_token_file() -> str | None:
    try:
        return TOKEN_FILE.read_text().strip() or None
    except OSError:
        return None


class BotStartError(RuntimeError):
    """The bot's processes could not be started or did not become ready."""


def port_of(url: str, default: int) -> int:
    """The port of a URL, or `default` when it names none."""
    return urlparse(url).port or default


def free_ports(count: int = 1) -> list[int]:
    """`count` distinct TCP ports that nobody listens on right now on 127.0.0.1.

    Never the bot's default ports (5005, 5055), so a developer's `make run` can
    keep running next to a test session.
    """
    reserved = {DEFAULT_RASA_PORT, DEFAULT_ACTIONS_PORT}
    ports: list[int] = []
    with contextlib.ExitStack() as held:  # hold every socket until all are picked
        while len(ports) < count:
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
            if port not in reserved:
                ports.append(port)
    return ports


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_SECONDS) as response:
        return json.loads(response.read() or b"null")


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class BotProcesses:
    """The Rasa server and the action server, started from the bot's environment."""

    rasa_port: int = DEFAULT_RASA_PORT
    actions_port: int = DEFAULT_ACTIONS_PORT
    model: Path = MODEL_PATH
    bot_venv: Path = BOT_VENV
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="relais-bot-")))
    auth_token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(
        default_factory=list, init=False, repr=False
    )

    @property
    def model_file(self) -> Path:
        """The start-up link's target (one level), so that Rasa's /status names the model
        (`relais-<sha12>.tar.gz`), not the link."""
        if self.model.is_symlink():
            return self.model.parent / os.readlink(self.model)
        return self.model

    @property
    def url(self) -> str:
        """Base URL of the Rasa server (REST channel, HTTP API)."""
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}"

    @property
    def rasa_log(self) -> Path:
        return self.log_dir / "rasa.log"

    @property
    def actions_log(self) -> Path:
        return self.log_dir / "actions.log"

    def logs(self) -> str:
        """The end of both logs, for error messages."""
        return (
            f"--- action server ({self.actions_log}) ---\n{_tail(self.actions_log)}\n"
            f"--- Rasa server ({self.rasa_log}) ---\n{_tail(self.rasa_log)}"
        )

    # synchronous API (the test fixture; the asynchronous one below wraps it) --------

    def launch(self) -> None:
        """Spawn both processes; returns at once (see `wait_until_ready`)."""
        rasa = self.bot_venv / "bin" / "rasa"
        if not rasa.exists():
            raise BotStartError(f"{rasa} is missing: run `make env` (the bot's environment)")
        if not self.model.exists():
            raise BotStartError(f"no bot model at {self.model}: run `make model`")
        if self._processes:
            raise BotStartError("the bot is already started")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        endpoints = self.log_dir / "endpoints.yml"
        endpoints.write_text(f'action_endpoint:\n  url: "{self.actions_url}/webhook"\n')
        self._spawn(
            "action server",
            [str(rasa), "run", "actions", "--actions", "bot.actions", "-p", str(self.actions_port)],
            self.actions_log,
        )
        self._spawn(
            "Rasa server",
            [
                # One argument: a random token may start with "-", which argparse would take for an option.
                str(rasa), "run", "--enable-api", f"--auth-token={self.auth_token}",
                "-i", "127.0.0.1", "-p", str(self.rasa_port),
                "--model", str(self.model_file), "--endpoints", str(endpoints),
            ],
            self.rasa_log,
        )

    def _spawn(self, name: str, command: list[str], log_path: Path) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "SANIC_HOST": "127.0.0.1",  # the action server listens on loopback only
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "RASA_TELEMETRY_ENABLED": "false",
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self._processes.append((name, process))

    def exited(self) -> list[str]:
        """The names of the processes that already ended."""
        return [name for name, process in self._processes if process.poll() is not None]

    def is_ready(self) -> bool:
        """True when the model is loaded and the action server answers."""
        try:
            status = _get_json(f"{self.url}/status?{urllib.parse.urlencode({'token': self.auth_token})}")
            health = _get_json(f"{self.actions_url}/health")
        except (OSError, urllib.error.URLError, ValueError):
            return False
        model_loaded = isinstance(status, dict) and bool(status.get("model_file"))
        return model_loaded and isinstance(health, dict) and health.get("status") == "ok"

    def _check_alive(self) -> None:
        exited = self.exited()
        if exited:
            raise BotStartError(f"a bot process exited early: {exited}\n{self.logs()}")

    def wait_until_ready(self, timeout_seconds: float = START_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            self._check_alive()
            if self.is_ready():
                return
            time.sleep(1.0)
        raise BotStartError(f"the bot was not ready after {timeout_seconds:.0f} s\n{self.logs()}")

    def terminate(self) -> None:
        """Stop both processes (SIGTERM to each group, SIGKILL after the grace period)."""
        for _, process in self._processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for _, process in self._processes:
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._processes.clear()

    # asynchronous API (`relais run --with-bot`) ------------------------------------------

    async def start(self) -> None:
        self.launch()

    async def wait_ready(self, timeout_seconds: float = START_TIMEOUT_SECONDS) -> None:
        """Wait until the model is loaded and the action server answers."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            self._check_alive()
            if await asyncio.to_thread(self.is_ready):
                return
            await asyncio.sleep(1.0)
        raise BotStartError(f"the bot was not ready after {timeout_seconds:.0f} s\n{self.logs()}")

    async def stop(self) -> None:
        await asyncio.to_thread(self.terminate)
