"""Run the handoff service as a real process (`python -m handoff.cli run`) for the fault tests.

`ServiceProcesses` (the `processes` fixture) starts instances on free loopback
ports, each from its own `endpoints.yml` written from a `Settings`, waits until
`/healthz` answers 200 (failing at once, with the instance's log, if the process
dies first), and sends them SIGTERM or SIGKILL. Every process it started is
killed and reaped when the test ends, whatever happened: no orphan survives a
failing test — nor a test run that is itself killed (the kernel sends the
instances SIGKILL when the pytest process dies, PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from handoff.config import REPO_ROOT, Settings
from tests.support.service import WAIT_SECONDS

# Variables that would override the file the harness writes (config.settings_from_mapping).
OVERRIDING_ENV = ("DATABASE_URL", "REDIS_URL", "RASA_URL", "RELAIS_HOST", "RELAIS_PORT", "RELAIS_PUBLIC_URL",
                  "RELAIS_WIDGET_ORIGINS")
LOG_TAIL_CHARS = 4000
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the process that started it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def endpoints_document(settings: Settings, port: int) -> dict[str, Any]:
    """The `relais` section of an endpoints.yml that gives `settings` on `port`."""
    routing = settings.routing
    return {
        "relais": {
            "service": {"host": "127.0.0.1", "port": port,
                        "shutdown_timeout_seconds": settings.shutdown_timeout_seconds},
            "store": {"url": settings.database_url},
            "backend": {"type": settings.backend, "redis_url": settings.redis_url, "key_prefix": settings.redis_prefix},
            "bot": {"url": settings.rasa_url, "timeout_seconds": settings.rasa_timeout_seconds},
            "routing": {
                "offer_timeout_seconds": routing.offer_timeout_seconds,
                "overflow_after_seconds": routing.overflow_after_seconds,
                "grace_period_seconds": routing.grace_period_seconds,
                "heartbeat_timeout_seconds": routing.heartbeat_timeout_seconds,
                "default_capacity": routing.default_capacity,
                "sweep_interval_seconds": routing.sweep_interval_seconds,
                "max_wait_seconds": routing.max_wait_seconds,
                "position_interval_seconds": routing.position_interval_seconds,
                "modes": {pool.value: mode for pool, mode in routing.modes.items()},
            },
            "limits": asdict(settings.limits),
        }
    }


@dataclass
class ServiceProcess:
    """One instance: a process that can be started (again, on the same port), stopped or killed."""

    name: str
    settings: Settings
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / f"{self.name}.log"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def start(self) -> None:
        """Start the process and return once /healthz answers 200."""
        self._spawn()
        await self._wait_ready()

    def _spawn(self) -> None:
        assert not self.alive, f"{self.name} is already running"
        config = self.directory / f"{self.name}.yml"
        config.write_text(yaml.safe_dump(endpoints_document(self.settings, self.port)))
        env = {k: v for k, v in os.environ.items() if k not in OVERRIDING_ENV}
        env["RELAIS_ENDPOINTS"] = str(config)
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "handoff.cli", "run"], cwd=REPO_ROOT, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            )

    async def _wait_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while True:
                if not self.alive:
                    raise AssertionError(f"{self.name} exited with {self.returncode()} while starting:\n{self.log_tail()}")
                try:
                    async with http.get(self.url + "/healthz") as response:
                        if response.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass  # not listening yet
                if loop.time() > deadline:
                    raise AssertionError(f"{self.name} not healthy within {WAIT_SECONDS} s:\n{self.log_tail()}")
                await asyncio.sleep(0.05)

    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def kill(self) -> None:
        """SIGKILL: the process ends at once, with whatever it was doing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self) -> None:
        """SIGTERM: ask for the graceful shutdown."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def wait_exit(self, seconds: float = WAIT_SECONDS) -> int:
        """The exit code; fails (with the log) if the process is still running after `seconds`."""
        assert self.process is not None
        try:
            return await asyncio.to_thread(self.process.wait, seconds)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {seconds} s:\n{self.log_tail()}") from None

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except FileNotFoundError:
            return "(no log)"

    def reap(self) -> None:
        if self.alive:
            self.kill()


class ServiceProcesses:
    """Makes instances for one test; `reap()` kills whatever is still running."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.instances: list[ServiceProcess] = []

    async def start(self, name: str, settings: Settings) -> ServiceProcess:
        instance = ServiceProcess(name, settings, self.directory)
        self.instances.append(instance)
        await instance.start()
        return instance

    def reap(self) -> None:
        for instance in self.instances:
            instance.reap()


@pytest.fixture
async def processes(tmp_path: Path) -> AsyncIterator[ServiceProcesses]:
    made = ServiceProcesses(tmp_path)
    try:
        yield made
    finally:
        made.reap()
