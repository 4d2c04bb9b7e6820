"""Starting and stopping the bot's two processes (Rasa server and action server).

Used by `relais run --with-bot` and by the test suite, so both run the bot the
same way: from the bot's own environment (`.venv-bot`), Rasa bound to loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import aiohttp

from handoff.config import REPO_ROOT

BOT_VENV = REPO_ROOT / ".venv-bot"
MODEL_PATH = REPO_ROOT / "bot" / "models" / "relais.tar.gz"


class BotStartError(RuntimeError):
    """The bot's processes could not be started or did not become ready."""


@dataclass
class BotProcesses:
    rasa_port: int = 5005
    actions_port: int = 5055
    model: Path = MODEL_PATH
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="relais-bot-")))
    _processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def rasa_log(self) -> Path:
        return self.log_dir / "rasa.log"

    @property
    def actions_log(self) -> Path:
        return self.log_dir / "actions.log"

    async def start(self) -> None:
        rasa = BOT_VENV / "bin" / "rasa"
        if not rasa.exists():
            raise BotStartError(f"{rasa} is missing: run `make env` first")
        if not self.model.exists():
            raise BotStartError(f"no bot model at {self.model}: run `make model` first")
        endpoints = self.log_dir / "endpoints.yml"
        endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{self.actions_port}/webhook"\n')
        await self._spawn(
            [str(rasa), "run", "actions", "--actions", "bot.actions", "-p", str(self.actions_port)],
            self.actions_log,
        )
        await self._spawn(
            [str(rasa), "run", "--enable-api", "-i", "127.0.0.1", "-p", str(self.rasa_port),
             "--model", str(self.model), "--endpoints", str(endpoints)],
            self.rasa_log,
        )

    async def _spawn(self, command: list[str], log_path: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *command, cwd=REPO_ROOT, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        self._processes.append(process)

    async def wait_ready(self, timeout_seconds: float = 240.0) -> None:
        """Wait until the model is loaded and the action server answers."""
        deadline = time.monotonic() + timeout_seconds
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                for process in self._processes:
                    if process.returncode is not None:
                        raise BotStartError(f"a bot process exited early; see {self.log_dir}")
                if await self._ready(session):
                    return
                await asyncio.sleep(1.0)
        raise BotStartError(f"the bot was not ready after {timeout_seconds:.0f} s; see {self.log_dir}")

    async def _ready(self, session: aiohttp.ClientSession) -> bool:
        try:
            async with session.get(f"{self.url}/status", timeout=aiohttp.ClientTimeout(total=2)) as response:
                status = await response.json(content_type=None) if response.status == 200 else {}
            async with session.get(
                f"http://127.0.0.1:{self.actions_port}/health", timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                actions_ok = response.status == 200
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False
        return bool(status.get("model_file")) and actions_ok

    async def stop(self) -> None:
        for process in self._processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self._processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        self._processes.clear()


def port_of(url: str, default: int) -> int:
    return urlparse(url).port or default
