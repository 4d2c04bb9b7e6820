"""Which failures mean "a dependency is unreachable right now" (the database, Redis).

Such a failure is an outage, not a bug: the API answers it with a 503 and one log
line (`api/errors.py`), background loops log it once and keep trying
(`background.py`). The rule lives here so that both agree on it.
"""

from __future__ import annotations

import redis.exceptions
import sqlalchemy.exc

REDIS = "redis"
DATABASE = "database"


def unavailable_dependency(exc: BaseException) -> str | None:
    """The dependency `exc` says is unreachable ("redis", "database"), or None when
    `exc` is something else."""
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return REDIS  # includes "loading the dataset" right after a Redis restart
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError)
    ):
        return DATABASE
    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        return DATABASE  # no pooled connection came free in time
    if isinstance(exc, OSError):
        return DATABASE  # the driver's own connect (asyncpg raises the socket's error as is)
    return None


def describe(exc: BaseException) -> str:
    """One short line for a log: the error's type and first line (no SQL, no traceback)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first[:200]}"
