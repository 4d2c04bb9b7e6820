"""Readiness: can this instance serve? (liveness is only "the process answers").

`Readiness` runs named checks — the store, Redis when the backend is Redis, the
Rasa server — concurrently, each within a bound, and says which are down.
`app.py` chooses the checks (it knows the concrete backends); `GET /readyz`
(api/ops.py) answers 200 when all pass, 503 naming those that failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)
CHECK_TIMEOUT_SECONDS = 3.0
Check = Callable[[], Awaitable[object]]
OK, DOWN = "ok", "down"


@dataclass(frozen=True, slots=True)
class Report:
    checks: dict[str, str]

    @property
    def down(self) -> list[str]:
        return [name for name, state in self.checks.items() if state != OK]

    @property
    def ready(self) -> bool:
        return not self.down


class Readiness:
    """A check passes when it returns anything but False within the bound, without raising."""

    def __init__(self, checks: Mapping[str, Check], timeout_seconds: float = CHECK_TIMEOUT_SECONDS) -> None:
        self._checks = dict(checks)
        self._timeout = timeout_seconds

    async def _run(self, name: str, check: Check) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                result = await check()
        except Exception as exc:
            log.warning("readiness: %s is down: %r", name, exc)
            return DOWN
        if result is False:
            log.warning("readiness: %s is down", name)
            return DOWN
        return OK

    async def report(self) -> Report:
        names = list(self._checks)
        states = await asyncio.gather(*(self._run(name, self._checks[name]) for name in names))
        return Report(dict(zip(names, states, strict=True)))
