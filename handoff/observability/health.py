"""Readiness: can this instance serve? (liveness is only "the process answers").

`Readiness` runs named checks — the store, Redis when the backend is Redis, the
Rasa server — concurrently, each within a bound, and says which are down.
`app.py` chooses the checks (it knows the concrete backends) and which are
optional: the service works without them, degraded (without Rasa visitors are
told the bot is away and can still reach a person), so they must not take every
instance out of a load balancer. `GET /readyz` (api/ops.py) answers 200 when the
required checks pass (naming degraded ones), 503 naming the required ones down.
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
    optional: frozenset[str] = frozenset()

    @property
    def down(self) -> list[str]:
        """Required checks that failed: the instance cannot serve."""
        return [name for name, state in self.checks.items() if state != OK and name not in self.optional]

    @property
    def degraded(self) -> list[str]:
        """Optional checks that failed: the instance serves without them."""
        return [name for name, state in self.checks.items() if state != OK and name in self.optional]

    @property
    def ready(self) -> bool:
        return not self.down


class Readiness:
    """A check passes when it returns anything but False within the bound, without raising."""

    def __init__(
        self,
        checks: Mapping[str, Check],
        timeout_seconds: float = CHECK_TIMEOUT_SECONDS,
        *,
        optional: frozenset[str] = frozenset(),
    ) -> None:
        self._checks = dict(checks)
        self._optional = optional
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
        return Report(dict(zip(names, states, strict=True)), self._optional)
