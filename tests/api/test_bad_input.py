"""Bad input gets a clear JSON 4xx, changes nothing and never crashes the service."""

from __future__ import annotations

import pytest

from tests.support.service import RunningService, ServiceFactory


@pytest.fixture
async def service(service_factory: ServiceFactory) -> RunningService:
    return await service_factory()


async def _transcript_length(service: RunningService, conversation: dict[str, object]) -> int:
    status, body = await service.call(
        "GET", f"/api/visitor/conversations/{conversation['conversation_id']}/messages",
        token=str(conversation["visitor_token"]),
    )
    assert status == 200
    return len(body["messages"])


async def test_start_conversation_validates_its_fields(service: RunningService) -> None:
    cases = [
        ({"language": "de"}, "language"),
        ({}, "language"),
        ({"language": "fr", "page_url": "javascript:alert(1)"}, "page_url"),
        ({"language": "fr", "page_url": "https://x/" + "a" * 3000}, "page_url"),
        ({"language": "fr", "visitor_id": "v" * 65}, "visitor_id"),
    ]
    for body, field in cases:
        status, answer = await service.call("POST", "/api/visitor/conversations", json=body)
        assert status == 400, body
        assert answer["error"]["code"] == "invalid_input"
        assert field in answer["error"]["message"]


async def test_malformed_and_oversized_bodies(service: RunningService) -> None:
    conversation = await service.start_conversation()
    path = f"/api/visitor/conversations/{conversation['conversation_id']}/messages"
    token = conversation["visitor_token"]
    status, answer = await service.call("POST", path, token=token, data=b"{not json", headers={"Content-Type": "application/json"})
    assert (status, answer["error"]["code"]) == (400, "invalid_input")
    status, answer = await service.call("POST", path, token=token, json=["a", "list"])
    assert (status, answer["error"]["code"]) == (400, "invalid_input")
    status, answer = await service.call("POST", path, token=token, json={"client_msg_id": "x"})
    assert status == 400 and "text" in answer["error"]["message"]
    status, answer = await service.call("POST", path, token=token, json={"text": "   "})
    assert status == 400
    status, answer = await service.call("POST", path, token=token, json={"text": "a" * 4001})
    assert status == 400 and "4000" in answer["error"]["message"]
    status, answer = await service.call("POST", path, token=token, json={"text": 42})
    assert status == 400
    status, answer = await service.call("POST", path, token=token, data=b"x" * (70 * 1024))
    assert (status, answer["error"]["code"]) == (413, "too_large")
    assert await _transcript_length(service, conversation) == 0


async def test_unknown_conversation_and_wrong_tokens(service: RunningService) -> None:
    conversation = await service.start_conversation()
    other = await service.start_conversation()
    base = f"/api/visitor/conversations/{conversation['conversation_id']}/messages"
    status, answer = await service.call("POST", "/api/visitor/conversations/c_nope/messages", token="t", json={"text": "hi"})
    assert (status, answer["error"]["code"]) == (404, "not_found")
    status, answer = await service.call("POST", base, json={"text": "hi"})
    assert (status, answer["error"]["code"]) == (401, "unauthorized")
    status, answer = await service.call("POST", base, token="wrong", json={"text": "hi"})
    assert status == 401
    status, answer = await service.call("POST", base, token=other["visitor_token"], json={"text": "hi"})
    assert status == 401
    status, answer = await service.call("GET", "/api/queue", token="not-an-agent-token")
    assert status == 401
    status, answer = await service.call("POST", "/api/agents/login", json={"username": "ghost", "password": "whatever123"})
    assert (status, answer["error"]["code"]) == (401, "unauthorized")
    assert await _transcript_length(service, conversation) == 0


async def test_unknown_api_path_is_json_404_and_service_stays_up(service: RunningService) -> None:
    status, answer = await service.call("GET", "/api/nothing-here")
    assert (status, answer["error"]["code"]) == (404, "not_found")
    status, answer = await service.call("DELETE", "/api/availability")
    assert status == 405
    status, ready = await service.call("GET", "/readyz")
    assert ready["checks"]["store"] == "ok", ready


async def test_hostile_html_is_stored_as_plain_text(service: RunningService) -> None:
    conversation = await service.start_conversation()
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    answer = await service.say(conversation, hostile)
    assert answer["message"]["text"] == hostile
    assert answer["message"]["sender_kind"] == "visitor"


async def test_openapi_document_lists_the_contract(service: RunningService) -> None:
    status, document = await service.call("GET", "/api/openapi.json")
    assert status == 200
    for path in ("/api/visitor/conversations", "/api/agents/login", "/api/queue", "/api/availability",
                 "/api/conversations/{conversation_id}/transcript", "/api/history", "/api/history/{conversation_id}",
                 "/api/inbox", "/api/inbox/{item_id}/answer"):
        assert path in document["paths"]


async def test_the_widget_may_call_the_visitor_api_from_another_origin(service_factory: ServiceFactory) -> None:
    service = await service_factory(widget_origins=("https://shop.example",))
    origin = {"Origin": "https://shop.example"}
    async with service.http.options(
        service.url + "/api/visitor/conversations",
        headers={**origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    ) as preflight:
        assert preflight.status == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    status, _ = await service.call("POST", "/api/visitor/conversations", json={"language": "en"}, headers=origin)
    assert status == 201
    async with service.http.get(service.url + "/api/availability", headers=origin) as response:
        assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    # Another site, and the agents' API, get no CORS grant.
    async with service.http.get(service.url + "/api/availability", headers={"Origin": "https://evil.example"}) as response:
        assert "Access-Control-Allow-Origin" not in response.headers
    async with service.http.post(service.url + "/api/agents/login", json={}, headers=origin) as response:
        assert "Access-Control-Allow-Origin" not in response.headers
