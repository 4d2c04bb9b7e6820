"""Operations answers: liveness, readiness, the OpenAPI document itself."""

from __future__ import annotations

from typing import Any, Literal

from handoff.api.contract.common import Absent, Answer


class Alive(Answer):
    status: Literal["ok"]


class Readiness(Answer):
    """200 `ready` or `degraded` (only an optional dependency down); 503 `not_ready`."""

    status: Literal["ready", "degraded", "not_ready"]
    checks: dict[str, str]
    degraded: list[str] | Absent = None
    down: list[str] | Absent = None


class Document(Answer):
    """An OpenAPI 3.1 document."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
