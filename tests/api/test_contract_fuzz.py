"""The HTTP API fuzzed from its own OpenAPI document (Schemathesis).

The real service runs (tests/support/threaded.py, on each stack: SQLite + memory, and
PostgreSQL + Redis when configured) with a real visitor conversation, a
real advisor and a real admin; the document is read from the running service's
`GET /api/openapi.json`, and every operation but logout (the token must stay valid)
is called with generated data, each with the credentials it needs. Every answer must
be no 5xx, a status the document declares for that operation, of the declared content
type, and a body that matches the declared schema. The number of examples is bounded
(`MAX_EXAMPLES` per operation); the run's Hypothesis seed makes it reproducible
(docs/contributing.md, "Replaying a Hypothesis failure").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err

from handoff.api.openapi import document
from handoff.config import Settings
from handoff.domain import AgentRole
from tests.support.service import WAIT_SECONDS
from tests.support.smtp_sink import SmtpSink
from tests.support.threaded import ThreadedService

MAX_EXAMPLES = 20  # per operation: the whole test stays near a minute on a loaded 2-core machine
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Desk:
    """What the fuzzed calls act on: a live conversation, its visitor, two agents, an expendable
    agent for the admin's account edges, and an offline message of another conversation."""

    service: ThreadedService
    conversation: dict[str, Any]
    advisor: str
    admin: str
    spare_agent_id: str
    item_id: int

    def prepare(self, case: schemathesis.Case[Any]) -> dict[str, str]:
        """Aim the case at the real conversation and visitor (most of the time: a generated id
        is kept when its length is a multiple of 3), and give it the credentials it needs."""
        parameters = case.path_parameters or {}
        real = {"conversation_id": self.conversation["conversation_id"], "visitor_id": self.conversation["visitor_id"],
                "agent_id": self.spare_agent_id, "item_id": str(self.item_id), "seq": "1"}
        for name, value in real.items():
            if name in parameters and len(str(parameters[name])) % 3:
                parameters[name] = value
        path = case.operation.path
        if path.startswith("/api/visitor/conversations/"):
            token = self.conversation["visitor_token"]
        elif path.startswith("/api/admin/") and not (
            path.startswith("/api/admin/visitors/") and case.method.upper() == "DELETE"  # erasing would end the desk
        ):
            token = self.admin
        else:
            token = self.advisor
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def threaded_service(stack_settings: Settings, smtp_sink: SmtpSink) -> Iterator[ThreadedService]:
    """The stack's service with a real SMTP server: answering an offline message by email
    is a success or a 4xx, not the 503 of a shop without mail."""
    service = ThreadedService(replace(stack_settings, smtp=smtp_sink.settings()))
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def desk(threaded_service: ThreadedService) -> Desk:
    service = threaded_service
    advisor = service.add_agent("avery", AgentRole.ADVISOR)
    admin = service.add_agent("adele", AgentRole.ADMIN)
    answer = requests.post(service.url + "/api/agents/me/presence", json={"status": "online"},
                           headers={"Authorization": f"Bearer {advisor}"}, timeout=WAIT_SECONDS)
    assert answer.status_code == 200, answer.text
    spare = requests.get(service.url + "/api/agents/me", timeout=WAIT_SECONDS,
                         headers={"Authorization": f"Bearer {service.add_agent('sasha', AgentRole.ADVISOR)}"})
    assert spare.status_code == 200, spare.text
    conversation = service.start_conversation()
    left = service.start_conversation()
    offline = requests.post(
        service.url + f"/api/visitor/conversations/{left['conversation_id']}/offline-message", timeout=WAIT_SECONDS,
        json={"email": "lou@example.org", "text": "Can you call me back?"},
        headers={"Authorization": f"Bearer {left['visitor_token']}"},
    )
    assert offline.status_code == 201, offline.text
    inbox = requests.get(service.url + "/api/inbox", headers={"Authorization": f"Bearer {advisor}"}, timeout=WAIT_SECONDS)
    assert inbox.status_code == 200, inbox.text
    [item] = [item for item in inbox.json()["items"] if item["conversation_id"] == left["conversation_id"]]
    return Desk(service, conversation, advisor, admin, spare.json()["agent"]["id"], item["id"])


def test_every_answer_keeps_the_contract(desk: Desk) -> None:
    served = requests.get(desk.service.url + "/api/openapi.json", timeout=WAIT_SECONDS)
    assert served.status_code == 200 and served.json() == document(), "the served document is the generated one"
    contract = schemathesis.openapi.from_url(desk.service.url + "/api/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in contract.get_all_operations():
        if isinstance(result, Err):  # an operation the document describes badly
            failures.append(f"invalid operation in the document: {result.err()}")
            continue
        operation = result.ok()
        if operation.path == "/api/agents/logout":
            continue  # the advisor's token must stay valid
        operations += 1
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

        @given(case=strategy)
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  phases=[Phase.explicit, Phase.generate, Phase.shrink], database=None)
        def keeps_the_contract(case: schemathesis.Case[Any]) -> None:
            headers = desk.prepare(case)
            case.call_and_validate(base_url=desk.service.url, headers=headers, checks=CHECKS, timeout=WAIT_SECONDS)

        try:
            keeps_the_contract()
        except (Exception, BaseExceptionGroup) as exc:  # every operation is fuzzed; all failures reported together
            failures.append(f"{operation.method.upper()} {operation.path}:\n{exc}")
    assert operations >= 30
    assert not failures, "\n\n".join(failures)
