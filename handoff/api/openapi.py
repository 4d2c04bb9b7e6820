"""The OpenAPI 3.1 document served at `GET /api/openapi.json`, generated from the
contract (`handoff/api/contract/`): every edge registered with `Api.route`, its
body, query and answers as pydantic models. `endpoint_table()` renders the same
records as docs/api.md's endpoint table (tests/api/test_contract.py keeps them
together)."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from handoff import __version__
from handoff.api import admin, agents, ops, records, review, tools, visitor
from handoff.api.contract import Api, Operation
from handoff.api.contract import ops as m
from handoff.api.contract.common import Error
from handoff.api.contract.route import JSON, NO_CONTENT

api = Api()
routes = api.routes
REF = "#/components/schemas/{model}"
_ERROR_REASONS = {
    400: "invalid input", 401: "missing or wrong token", 403: "not for this caller", 404: "not found",
    409: "does not fit the conversation's state", 413: "body too large", 429: "rate limited",
    503: "a dependency is unreachable",
}
_SECURITY_NOTES = {"visitor": "the conversation's visitor token", "agent": "an agent's token", "admin": "an admin's token"}


def operations() -> list[Operation]:
    """Every documented edge, in the order of docs/api.md."""
    areas = (visitor.api, agents.api, tools.api, records.api, admin.api, review.api, ops.api, api)
    return [op for area in areas for op in area.operations]


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document (the same object on every call: do not change it)."""
    ops_ = operations()
    models: dict[tuple[type[BaseModel], Literal["validation", "serialization"]], None] = {(Error, "serialization"): None}
    for op in ops_:
        for model in (op.body, op.query):
            if model is not None:
                models[(model, "validation")] = None
        for answer in op.responses.values():
            if answer is not None:
                models[(answer, "serialization")] = None
    refs, definitions = models_json_schema(list(models), ref_template=REF)
    schemas = {name: _without_null_defaults(schema) for name, schema in definitions.get("$defs", {}).items()}

    def ref(model: type[BaseModel], mode: Literal["validation", "serialization"]) -> dict[str, Any]:
        return dict(refs[(model, mode)])

    paths: dict[str, Any] = {}
    for op in ops_:
        responses: dict[str, Any] = {}
        for status, answer in sorted(op.responses.items()):
            entry: dict[str, Any] = {"description": answer.__doc__.strip().splitlines()[0] if answer and answer.__doc__ else "success"}
            if status != NO_CONTENT:
                schema = ref(answer, "serialization") if answer is not None else {"type": "string"}
                entry["content"] = {op.content_type: {"schema": schema}}
            responses[str(status)] = entry
        for status in op.errors:
            responses.setdefault(str(status), {
                "description": _ERROR_REASONS.get(status, "error"),
                "content": {JSON: {"schema": ref(Error, "serialization")}},
            })
        operation: dict[str, Any] = {"summary": op.summary, "operationId": op.handler_name, "responses": responses}
        if op.description:
            operation["description"] = op.description
        parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
                      for name in op.path_parameters]
        if op.query is not None:
            query_schema = schemas[ref(op.query, "validation")["$ref"].rsplit("/", 1)[-1]]
            required = set(query_schema.get("required", []))
            parameters += [{"name": name, "in": "query", "required": name in required, "schema": schema}
                           for name, schema in query_schema["properties"].items()]
        if parameters:
            operation["parameters"] = parameters
        if op.security is not None:
            operation["security"] = [{"bearer": []}]
            operation["x-credentials"] = op.security
        if op.body is not None:
            operation["requestBody"] = {"required": True, "content": {JSON: {"schema": ref(op.body, "validation")}}}
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Relais handoff service", "version": __version__},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def _without_null_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    """`X | Absent = None` fields: the document shows them optional, without `default: null`."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]
    return schema


def endpoint_table() -> str:
    """docs/api.md's endpoint table (Markdown), from the same records as the document."""
    lines = ["| method | path | credentials | body, query | answers | summary |", "|---|---|---|---|---|---|"]
    for op in operations():
        given = [f"`{op.body.__name__}`"] if op.body is not None else []
        if op.query is not None:
            given += [f"`?{name}`" for name in op.query.model_fields]
        body = ", ".join(given) or "—"
        answers = ", ".join(
            f"{status}" + (f" `{answer.__name__}`" if answer is not None else "")
            for status, answer in sorted(op.responses.items())
        )
        credentials = _SECURITY_NOTES[op.security] if op.security else "—"
        lines.append(f"| {op.method} | `{op.path}` | {credentials} | {body} | {answers} | {op.summary} |")
    return "\n".join(lines) + "\n"


@api.route("GET", "/api/openapi.json", summary="This document", response=m.Document)
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())
