"""Bad input on the agents' side gets a clear 4xx JSON error and changes nothing.

One desk is set up (a chat held by ann, a closed chat waiting for its rating, bob
online without chats); then every bad request is sent and, after each, the
conversations, transcripts, handoff events, queue and each agent's chats are
compared with what they were before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from handoff.api.agents import MAX_NOTE_LENGTH
from handoff.domain import AgentRole
from tests.support.service import RunningService, ServiceFactory, add_agent

UNKNOWN = "c_doesnotexist"


@dataclass
class Desk:
    service: RunningService
    tokens: dict[str, str]  # ann (holds `held`), bob (online, holds nothing), aud (advisor, reads everything)
    held: dict[str, Any]  # the visitor's side of the chat ann holds
    closed: dict[str, Any]  # a chat ann closed, not rated yet

    async def snapshot(self) -> dict[str, Any]:
        """Everything a bad request must leave as it was."""
        state: dict[str, Any] = {}
        for conversation in (self.held, self.closed):
            cid = conversation["conversation_id"]
            status, state[cid] = await self.service.call("GET", f"/api/conversations/{cid}/transcript", token=self.tokens["aud"])
            assert status == 200
        _, state["queue"] = await self.service.call("GET", "/api/queue", token=self.tokens["aud"])
        for name in ("ann", "bob"):
            _, state[name] = await self.service.call("GET", "/api/agents/me/conversations", token=self.tokens[name])
        return state


async def _hand_over(service: RunningService, token: str) -> dict[str, Any]:
    conversation = await service.start_conversation()
    cid = conversation["conversation_id"]
    await service.say(conversation, "hello")
    await service.ask_human(conversation)
    await service.await_offer(token, cid)
    status, body = await service.call("POST", f"/api/conversations/{cid}/accept", token=token)
    assert status == 200, body
    status, body = await service.call("POST", f"/api/conversations/{cid}/messages", token=token, json={"text": "Hi, Ann here"})
    assert status == 201, body
    return conversation


@pytest.fixture
async def desk(service_factory: ServiceFactory) -> Desk:
    service = await service_factory()
    await add_agent(service.settings, "ann")
    await add_agent(service.settings, "bob")
    await add_agent(service.settings, "aud", role=AgentRole.ADVISOR)
    ann = await service.go_online("ann")
    held = await _hand_over(service, ann)
    closed = await _hand_over(service, ann)
    status, body = await service.call(
        "POST", f"/api/conversations/{closed['conversation_id']}/close", token=ann, json={"outcome": "resolved"}
    )
    assert status == 200, body
    bob = await service.go_online("bob")
    return Desk(service, {"ann": ann, "bob": bob, "aud": await service.login("aud")}, held, closed)


# (what, method, path, who, body, expected status); paths use {held}, {closed}, {unknown}; who is
# an agent's name, "visitor" (the closed chat's visitor), "wrong" (an invalid token) or None.
BAD_REQUESTS: list[tuple[str, str, str, str | None, Any, int]] = [
    ("transfer without a target", "POST", "/api/conversations/{held}/transfer", "ann", {}, 400),
    ("transfer with a note only", "POST", "/api/conversations/{held}/transfer", "ann", {"note": "see order 12"}, 400),
    ("transfer to an unknown pool", "POST", "/api/conversations/{held}/transfer", "ann", {"pool": "sales"}, 400),
    ("transfer with a note over the limit", "POST", "/api/conversations/{held}/transfer", "ann",
     {"pool": "advisor", "note": "n" * (MAX_NOTE_LENGTH + 1)}, 400),
    ("transfer with a note that is not text", "POST", "/api/conversations/{held}/transfer", "ann",
     {"pool": "advisor", "note": {"text": "x"}}, 400),
    ("transfer to an unknown agent", "POST", "/api/conversations/{held}/transfer", "ann", {"agent_id": "a_nobody"}, 404),
    ("transfer by an agent who does not hold it", "POST", "/api/conversations/{held}/transfer", "bob",
     {"pool": "advisor"}, 403),
    ("transfer of an unknown conversation", "POST", "/api/conversations/{unknown}/transfer", "ann",
     {"pool": "advisor"}, 404),
    ("transfer with a wrong token", "POST", "/api/conversations/{held}/transfer", "wrong", {"pool": "advisor"}, 401),
    ("transfer without a token", "POST", "/api/conversations/{held}/transfer", None, {"pool": "advisor"}, 401),
    ("empty message", "POST", "/api/conversations/{held}/messages", "ann", {"text": "  "}, 400),
    ("message over the limit", "POST", "/api/conversations/{held}/messages", "ann", {"text": "m" * 4001}, 400),
    ("message that is not text", "POST", "/api/conversations/{held}/messages", "ann", {"text": ["hi"]}, 400),
    ("message that is not JSON", "POST", "/api/conversations/{held}/messages", "ann", b"{text: hi", 400),
    ("message from an agent who does not hold it", "POST", "/api/conversations/{held}/messages", "bob",
     {"text": "me too"}, 403),
    ("message to an unknown conversation", "POST", "/api/conversations/{unknown}/messages", "ann", {"text": "hi"}, 404),
    ("message with a wrong token", "POST", "/api/conversations/{held}/messages", "wrong", {"text": "hi"}, 401),
    ("read an unknown conversation", "GET", "/api/conversations/{unknown}/messages", "ann", None, 404),
    ("read another agent's chat", "GET", "/api/conversations/{held}/messages", "bob", None, 403),
    ("transcript of an unknown conversation", "GET", "/api/conversations/{unknown}/transcript", "aud", None, 404),
    ("accept what was not offered", "POST", "/api/conversations/{held}/accept", "bob", None, 409),
    ("accept an unknown conversation", "POST", "/api/conversations/{unknown}/accept", "bob", None, 404),
    ("decline an unknown conversation", "POST", "/api/conversations/{unknown}/decline", "bob", None, 404),
    ("claim an unknown conversation", "POST", "/api/conversations/{unknown}/claim", "bob", None, 404),
    ("claim a chat another agent holds", "POST", "/api/conversations/{held}/claim", "bob", None, 409),
    ("close by an agent who does not hold it", "POST", "/api/conversations/{held}/close", "bob", {}, 403),
    ("close with an outcome over the limit", "POST", "/api/conversations/{held}/close", "ann", {"outcome": "o" * 65}, 400),
    ("close an unknown conversation", "POST", "/api/conversations/{unknown}/close", "ann", {}, 404),
    ("typing that is not a boolean", "POST", "/api/conversations/{held}/typing", "ann", {"typing": "yes"}, 400),
    ("presence that does not exist", "POST", "/api/agents/me/presence", "bob", {"status": "busy"}, 400),
    ("rating 0", "POST", "/api/visitor/conversations/{closed}/rating", "visitor", {"rating": 0}, 400),
    ("rating 6", "POST", "/api/visitor/conversations/{closed}/rating", "visitor", {"rating": 6}, 400),
    ("rating 4.5", "POST", "/api/visitor/conversations/{closed}/rating", "visitor", {"rating": 4.5}, 400),
    ("rating as text", "POST", "/api/visitor/conversations/{closed}/rating", "visitor", {"rating": "5"}, 400),
    ("rating true", "POST", "/api/visitor/conversations/{closed}/rating", "visitor", {"rating": True}, 400),
    ("rating comment over the limit", "POST", "/api/visitor/conversations/{closed}/rating", "visitor",
     {"rating": 5, "comment": "c" * 2001}, 400),
    ("rating with an agent's token", "POST", "/api/visitor/conversations/{closed}/rating", "ann", {"rating": 5}, 401),
    ("rating an unknown conversation", "POST", "/api/visitor/conversations/{unknown}/rating", "visitor",
     {"rating": 5}, 404),
]


async def test_bad_agent_requests_get_a_json_4xx_and_change_nothing(desk: Desk) -> None:
    tokens: dict[str | None, str | None] = {**desk.tokens, None: None, "wrong": "not-a-token",
                                            "visitor": desk.closed["visitor_token"]}
    before = await desk.snapshot()
    wrong: list[str] = []
    for what, method, path, who, body, expected in BAD_REQUESTS:
        url = path.format(held=desk.held["conversation_id"], closed=desk.closed["conversation_id"], unknown=UNKNOWN)
        payload: dict[str, Any] = (
            {"data": body, "headers": {"Content-Type": "application/json"}} if isinstance(body, bytes) else {"json": body}
        )
        status, answer = await desk.service.call(method, url, token=tokens[who], **payload)
        error = answer.get("error") if isinstance(answer, dict) else None
        if status != expected or not (isinstance(error, dict) and error.get("code") and error.get("message")):
            wrong.append(f"{what}: expected {expected} with a JSON error, got {status} {answer}")
        if await desk.snapshot() != before:
            wrong.append(f"{what}: changed the conversations")
            before = await desk.snapshot()
    assert not wrong, "\n".join(wrong)
    status, ready = await desk.service.call("GET", "/readyz")
    assert ready["checks"]["store"] == "ok", ready
    # The same desk still works: the bad requests did not wedge anything.
    status, _ = await desk.service.call(
        "POST", f"/api/conversations/{desk.held['conversation_id']}/messages", token=desk.tokens["ann"], json={"text": "Still here"}
    )
    assert status == 201
