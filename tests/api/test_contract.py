"""The contract is one: every /api edge of the app is in the OpenAPI document the
service serves, the document comes from the models, docs/api.md's endpoint table is
generated from the same records, and the service keeps to what the document says
where it did not before (null for a non-nullable field, a missing required body,
a repeated `client_msg_id`'s 200)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from handoff.api.openapi import document, endpoint_table, operations
from handoff.app import create_app
from handoff.config import Settings
from handoff.domain import SUPPORTED_LANGUAGES
from tests.support.service import RunningService, ServiceFactory

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED_OUTSIDE_API = {"/healthz", "/readyz", "/metrics"}


def _app_edges(tmp_path: Path) -> set[tuple[str, str]]:
    """Every (method, path) the application routes under /api (and the ops edges)."""
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", backend="memory"))
    edges = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if (path.startswith("/api/") or path in DOCUMENTED_OUTSIDE_API) and route.method not in ("HEAD", "OPTIONS", "*"):
            edges.add((route.method.lower(), path))
    return edges


def test_every_api_route_is_documented(tmp_path: Path) -> None:
    edges = _app_edges(tmp_path)
    documented = {(method, path) for path, item in document()["paths"].items() for method in item}
    assert len(edges) >= 30, edges
    assert edges - documented == set(), "routes the OpenAPI document does not describe"
    assert documented - edges == set(), "documented operations the app does not route"


def test_the_document_comes_from_the_models() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]
    for op in operations():
        operation = doc["paths"][op.path][op.method.lower()]
        if op.body is not None:
            assert operation["requestBody"]["required"] is True
            assert operation["requestBody"]["content"]["application/json"]["schema"] == {
                "$ref": f"#/components/schemas/{op.body.__name__}"}
            assert op.body.__name__ in schemas
        for status in op.responses:
            assert str(status) in operation["responses"], (op.path, status)
        if op.security is not None:
            assert {"401", "403"} <= set(operation["responses"]), op.path
    message = schemas["PostMessage"]
    assert message["required"] == ["text"] and message["properties"]["text"]["maxLength"] == 4000
    # Optional but not nullable: the document does not offer null.
    assert message["properties"]["client_msg_id"] == {
        "maxLength": 64, "minLength": 1, "pattern": r"\S", "title": "Client Msg Id", "type": "string"}
    assert "null" not in str(schemas["StartConversation"]["properties"]["visitor_id"])
    languages = schemas["StartConversation"]["properties"]["language"]["enum"]
    assert tuple(languages) == SUPPORTED_LANGUAGES, "the contract's languages are the domain's"
    repeated = doc["paths"]["/api/visitor/conversations/{conversation_id}/messages"]["post"]["responses"]
    assert {"200", "201"} <= set(repeated)


def test_docs_api_md_holds_the_generated_endpoint_table() -> None:
    table = endpoint_table()
    assert table.count("\n") == len(operations()) + 2
    text = (REPO_ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert table in text, "docs/api.md's endpoint table is stale: paste handoff.api.openapi.endpoint_table()"


@pytest.fixture
async def service(service_factory: ServiceFactory) -> RunningService:
    return await service_factory()


async def test_the_service_keeps_to_the_document_where_it_did_not(service: RunningService) -> None:
    for body in ({"language": "en", "visitor_id": None}, {"language": None}, {"language": "en", "page_url": None}):
        status, answer = await service.call("POST", "/api/visitor/conversations", json=body)
        assert (status, answer["error"]["code"]) == (400, "invalid_input"), (body, answer)
        assert "must not be null" in answer["error"]["message"]
    conversation = await service.start_conversation()
    cid, token = conversation["conversation_id"], conversation["visitor_token"]
    path = f"/api/visitor/conversations/{cid}"
    status, answer = await service.call("POST", path + "/messages", token=token, json={"text": "hi", "client_msg_id": None})
    assert (status, answer["error"]["details"]["field"]) == (400, "client_msg_id"), answer
    status, answer = await service.call("POST", path + "/handoff", token=token)
    assert (status, answer["error"]["code"]) == (400, "invalid_input"), answer
    status, answer = await service.call("POST", path + "/handoff", token=token, json={"pool": None})
    assert status == 400, answer
    status, answer = await service.call("POST", path + "/typing", token=token, json={"typing": "true"})
    assert status == 400, answer  # strict: no coercion from text
    first: Any = await service.say(conversation, "hello", client_msg_id="m-1")
    status, again = await service.call("POST", path + "/messages", token=token, json={"text": "hello", "client_msg_id": "m-1"})
    assert status == 200 and again["message"] == first["message"]
    assert str(status) in document()["paths"]["/api/visitor/conversations/{conversation_id}/messages"]["post"]["responses"]
    said = [m for m in await service.messages(conversation) if m["sender_kind"] == "visitor"]
    assert [m["text"] for m in said] == ["hello"]  # once; nothing the refused requests sent was stored


def test_an_error_lists_every_field_at_fault() -> None:
    from handoff.api.contract.agents import Transfer
    from handoff.api.contract.route import invalid_input

    with pytest.raises(ValidationError) as caught:
        Transfer.model_validate_json('{"pool": "sales", "note": 3}', strict=True)
    error = invalid_input(caught.value)
    fields = {problem["field"] for problem in error.details["errors"]}
    assert fields == {"pool", "note"} and error.details["field"] in fields
    assert error.message.startswith(error.details["field"] + ": ")


def test_routes_not_in_the_contract_stay_out_of_it() -> None:
    """Pages and WebSockets are not HTTP API operations (docs/api.md describes the sockets)."""
    assert all(path.startswith("/api/") or path in DOCUMENTED_OUTSIDE_API for path in document()["paths"])
