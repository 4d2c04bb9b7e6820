"""Pytest fixtures that run the REAL bot: the Rasa server and its action server.

`rasa_server` (session scope) starts, from the bot's environment (`.venv-bot`),

- the action server: `rasa run actions --actions bot.actions -p <free port>`;
- the Rasa server: `rasa run --enable-api -i 127.0.0.1 -p <free port>
  --model bot/models/relais.tar.gz --endpoints <temp endpoints.yml>`, whose
  temporary endpoints file points at that action server;

waits until `/status` names a loaded model and the action server's `/health`
answers, yields the base URL (`http://127.0.0.1:<port>`), then stops both
(SIGTERM to the process group, SIGKILL after a grace period).

Free ports are picked at random, never 5005/5055, so a developer's `make run`
can keep running. Both processes log to files in a temporary directory; when
the bot fails to start, the fixture fails with the end of those logs.
The model must exist (`make model` trains it; `make pytest` depends on it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RASA = REPO_ROOT / ".venv-bot" / "bin" / "rasa"
MODEL = REPO_ROOT / "bot" / "models" / "relais.tar.gz"
START_TIMEOUT_SECONDS = 180.0
STOP_GRACE_SECONDS = 10.0
RESERVED_PORTS = {5005, 5055}


def free_port() -> int:
    """A TCP port nobody listens on right now on 127.0.0.1 (never 5005/5055)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


def _get_json(url: str, timeout: float = 2.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class BotStack:
    """The two bot processes, their ports and their log files."""

    rasa_port: int
    actions_port: int
    log_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def rasa_log(self) -> Path:
        return self.log_dir / "rasa.log"

    @property
    def actions_log(self) -> Path:
        return self.log_dir / "actions.log"

    def logs(self) -> str:
        return (
            f"--- action server log ({self.actions_log}) ---\n{_tail(self.actions_log)}\n"
            f"--- Rasa server log ({self.rasa_log}) ---\n{_tail(self.rasa_log)}"
        )

    def _spawn(self, command: list[str], log_path: Path) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "SANIC_HOST": "127.0.0.1",  # the action server binds to loopback only
        }
        with log_path.open("wb") as log:
            self.processes.append(
                subprocess.Popen(
                    command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                )
            )

    def start(self) -> None:
        endpoints = self.log_dir / "endpoints.yml"
        endpoints.write_text(
            f'action_endpoint:\n  url: "http://127.0.0.1:{self.actions_port}/webhook"\n'
        )
        self._spawn(
            [str(RASA), "run", "actions", "--actions", "bot.actions", "-p", str(self.actions_port)],
            self.actions_log,
        )
        self._spawn(
            [
                str(RASA), "run", "--enable-api", "-i", "127.0.0.1", "-p", str(self.rasa_port),
                "--model", str(MODEL), "--endpoints", str(endpoints),
            ],
            self.rasa_log,
        )

    def ready(self) -> bool:
        try:
            status = _get_json(f"{self.url}/status")
            health = _get_json(f"http://127.0.0.1:{self.actions_port}/health")
        except (OSError, urllib.error.URLError, ValueError):
            return False
        model_loaded = isinstance(status, dict) and bool(status.get("model_file"))
        return model_loaded and isinstance(health, dict) and health.get("status") == "ok"

    def wait_ready(self, timeout_seconds: float = START_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            exited = [p.args for p in self.processes if p.poll() is not None]
            if exited:
                raise RuntimeError(f"a bot process exited early: {exited}\n{self.logs()}")
            if self.ready():
                return
            time.sleep(1.0)
        raise RuntimeError(f"the bot was not ready after {timeout_seconds:.0f} s\n{self.logs()}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()


@pytest.fixture(scope="session")
def rasa_stack() -> Iterator[BotStack]:
    """The running bot (Rasa server + action server), with ports and logs."""
    if not RASA.exists():
        pytest.fail(f"{RASA} is missing: run `make env` (the bot's environment)")
    if not MODEL.exists():
        pytest.fail(f"no bot model at {MODEL}: run `make model`")
    stack = BotStack(
        rasa_port=free_port(),
        actions_port=free_port(),
        log_dir=Path(tempfile.mkdtemp(prefix="relais-rasa-test-")),
    )
    try:
        stack.start()
        stack.wait_ready()
    except Exception as exc:  # any start failure fails the tests that need the bot
        stack.stop()
        pytest.fail(f"could not start the bot: {exc}", pytrace=False)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def rasa_server(rasa_stack: BotStack) -> str:
    """Base URL of a running Rasa server with the trained model and real actions."""
    return rasa_stack.url
