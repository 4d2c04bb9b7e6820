"""The route decorator and the readers that tie every /api edge to its models.

`Api.route(method, path, body=…, query=…, response=…, status=…, security=…)`
registers the handler on aiohttp and records an `Operation`: what the
OpenAPI document (`handoff/api/openapi.py`) and docs/api.md's endpoint table are
generated from. Handlers read their input with `read_body` / `read_query`, which
validate it against the same models: the raw body first passes `safe_json`'s
bounds (depth, number size, text), then pydantic in strict JSON mode; a refusal
is an `InvalidInput` (400, `handoff/api/errors.py`) naming the field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from handoff.api import safe_json
from handoff.domain import InvalidInput

Security = Literal["visitor", "agent", "admin"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)
B = TypeVar("B", bound=BaseModel)

JSON = "application/json"
NO_CONTENT = 204


@dataclass(frozen=True)
class Operation:
    """One documented edge: what it takes, what it answers, who may call it."""

    method: str
    path: str
    summary: str
    handler_name: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    responses: Mapping[int, type[BaseModel] | None]  # None: no body (204) or not JSON (see content_type)
    errors: tuple[int, ...]
    security: Security | None
    content_type: str = JSON
    description: str = ""

    @property
    def path_parameters(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{") and part.endswith("}")]


@dataclass
class Api:
    """The edges of one area (visitor, agents, admin, ops …) and their contract."""

    routes: web.RouteTableDef = field(default_factory=web.RouteTableDef)
    operations: list[Operation] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        response: type[BaseModel] | None = None,
        status: int = 200,
        also: Mapping[int, type[BaseModel] | None] | None = None,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        security: Security | None = None,
        errors: tuple[int, ...] = (),
        content_type: str = JSON,
        description: str = "",
    ) -> Callable[[H], H]:
        """Register the handler for `method path`; `response` is the body answered with
        `status`, `also` other successful statuses (a repeated `client_msg_id`'s 200),
        `errors` the error statuses beyond those every such edge may answer."""

        def register(handler: H) -> H:
            responses: dict[int, type[BaseModel] | None] = {status: response, **(also or {})}
            self.operations.append(
                Operation(
                    method=method.upper(), path=path, summary=summary, handler_name=handler.__name__,
                    body=body, query=query, responses=responses,
                    errors=_error_statuses(path, body, security, errors), security=security,
                    content_type=content_type, description=description,
                )
            )
            self.routes.route(method.upper(), path)(handler)
            return handler

        return register


def _error_statuses(path: str, body: type[BaseModel] | None, security: Security | None, extra: tuple[int, ...]) -> tuple[int, ...]:
    """400 anywhere (a query or path value the store cannot hold), 503 anywhere (the
    database or Redis unreachable); 401/403 with credentials; 404 with an id in the
    path; 413 with a body."""
    statuses = {400, 503, *extra}
    if security is not None:
        statuses |= {401, 403}
    if "{" in path:
        statuses.add(404)
    if body is not None:
        statuses.add(413)
    return tuple(sorted(statuses))


async def read_body(request: web.Request, model: type[B]) -> B:
    """The request's JSON body as `model`; InvalidInput (400) when it is missing,
    not a bounded JSON object, or does not fit the model."""
    raw = await request.read()
    if not raw.strip():
        raise InvalidInput("a JSON body is required")
    document = safe_json.loads(raw)  # bounds first: depth, digits, text
    if not isinstance(document, dict):
        raise InvalidInput("body must be a JSON object")
    nullable: frozenset[str] = getattr(model, "nullable", frozenset())
    for name, value in document.items():
        if value is None and name in model.model_fields and name not in nullable:
            raise InvalidInput(f"{name} must not be null", field=name)
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise invalid_input(exc) from None


def read_query(request: web.Request, model: type[B]) -> B:
    """The query string as `model` (values are text: numbers are read from it)."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise invalid_input(exc) from None


def invalid_input(exc: ValidationError) -> InvalidInput:
    """One 400 naming the first field at fault; every problem listed in `details.errors`."""
    problems: list[dict[str, str]] = []
    for error in exc.errors(include_url=False, include_input=False):
        if error["type"] == "none_required":
            continue  # the `Absent` branch of an optional field: the other branch says what is wrong
        problem = _problem(error)
        if problem not in problems:
            problems.append(problem)
    first = problems[0]
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    details: dict[str, Any] = {"errors": problems}
    if first["field"]:
        details["field"] = first["field"]
    return InvalidInput(message, **details)


def _problem(error: Any) -> dict[str, str]:
    """The field (dotted, with list indices; a union's branch names left out) and what is wrong."""
    loc = error["loc"]
    parts = [str(part) for index, part in enumerate(loc) if index == 0 or isinstance(part, int)]
    where = ".".join(parts)
    if error["type"] == "value_error":
        message = str(error["ctx"]["error"])
    elif error["type"] == "missing":
        message = "is required"
    else:
        message = str(error["msg"])
    return {"field": where, "message": message}
