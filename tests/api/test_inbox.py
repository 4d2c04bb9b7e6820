"""The offline messages' inbox (issue 13): advisors list, assign, answer by email through a
real SMTP server (the aiosmtpd sink) and mark done; the answer is recorded in the
visitor's conversation; ambassadors are refused; an SMTP server that is down gives a
clear error and nothing is marked answered."""

from __future__ import annotations

from typing import Any

from handoff.config import SmtpSettings
from handoff.domain import AgentRole
from tests.support.service import RunningService, ServiceFactory, add_agent
from tests.support.smtp_sink import SmtpSink, free_port

QUESTION = "Do you ship the F45 awning to Ireland?"
ANSWER = "Yes: delivery to Ireland takes 5 working days."


async def _leave(service: RunningService, email: str, language: str = "en") -> dict[str, Any]:
    visitor = await service.start_conversation(language=language)
    status, body = await service.call(
        "POST", f"/api/visitor/conversations/{visitor['conversation_id']}/offline-message",
        token=visitor["visitor_token"], json={"email": email, "text": QUESTION},
    )
    assert status == 201, body
    return visitor


async def _item(service: RunningService, token: str, conversation_id: str, status: str = "open") -> dict[str, Any]:
    code, body = await service.call("GET", f"/api/inbox?status={status}", token=token)
    assert code == 200, body
    found = [item for item in body["items"] if item["conversation_id"] == conversation_id]
    assert len(found) == 1, body
    return dict(found[0])


async def test_an_advisor_answers_an_offline_message_by_email(service_factory: ServiceFactory, smtp_sink: SmtpSink) -> None:
    service = await service_factory(smtp=smtp_sink.settings(sender="shop@relais.test"))
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR)
    await add_agent(service.settings, "boss", role=AgentRole.ADMIN)
    adv, boss = await service.login("adv"), await service.login("boss")
    visitor = await _leave(service, "marie@example.org")
    cid = visitor["conversation_id"]

    item = await _item(service, adv, cid)
    assert (item["text"], item["email"], item["status"], item["assigned_agent_id"]) == (
        QUESTION, "marie@example.org", "open", None)

    status, body = await service.call("GET", "/api/agents/me", token=adv)
    adv_id = body["agent"]["id"]
    status, body = await service.call("POST", f"/api/inbox/{item['id']}/assign", token=boss, json={"agent_id": adv_id})
    assert status == 200 and body["item"]["assigned_agent_id"] == adv_id, body
    status, body = await service.call("GET", "/api/inbox?mine=1", token=adv)
    assert [i["id"] for i in body["items"]] == [item["id"]]

    status, body = await service.call("POST", f"/api/inbox/{item['id']}/answer", token=adv, json={"text": ANSWER})
    assert status == 200, body
    assert body["item"]["status"] == "answered" and body["item"]["answered_by"] == adv_id

    mail = await smtp_sink.next_message(to="marie@example.org")
    assert mail.rcpt_tos == ("marie@example.org",)
    assert mail.mail_from == "shop@relais.test" and mail.message["To"] == "marie@example.org"
    assert mail.message["Subject"] == "Answer to your message"
    assert ANSWER in mail.body and QUESTION in mail.body and "Adv" in mail.body

    # The conversation records the answer, as the visitor reads it.
    answered = [m for m in await service.messages(visitor) if m["text"] == ANSWER]
    assert len(answered) == 1
    assert answered[0]["sender_kind"] == "advisor" and answered[0]["seq"] == body["item"]["answer_seq"]
    assert answered[0]["data"]["offline_answer"] is True

    # Answered once: a second answer is refused and sends nothing.
    status, again = await service.call("POST", f"/api/inbox/{item['id']}/answer", token=adv, json={"text": "again"})
    assert status == 409, again
    assert len(smtp_sink.messages) == 1

    status, body = await service.call("POST", f"/api/inbox/{item['id']}/done", token=adv)
    assert status == 200 and body["item"]["status"] == "done" and body["item"]["done_at"], body
    status, body = await service.call("GET", "/api/inbox", token=adv)
    assert body["items"] == []  # open and answered by default
    assert (await _item(service, adv, cid, status="done"))["id"] == item["id"]


async def test_the_answer_is_in_the_visitors_language(service_factory: ServiceFactory, smtp_sink: SmtpSink) -> None:
    service = await service_factory(smtp=smtp_sink.settings())
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR)
    adv = await service.login("adv")
    visitor = await _leave(service, "jean@example.fr", language="fr")
    item = await _item(service, adv, visitor["conversation_id"])
    status, body = await service.call("POST", f"/api/inbox/{item['id']}/answer", token=adv, json={"text": "Oui."})
    assert status == 200, body
    mail = await smtp_sink.next_message(to="jean@example.fr")
    assert mail.message["Subject"] == "Réponse à votre message" and "Votre message" in mail.body


async def test_ambassadors_have_no_inbox(service_factory: ServiceFactory, smtp_sink: SmtpSink) -> None:
    service = await service_factory(smtp=smtp_sink.settings())
    await add_agent(service.settings, "amb")
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR)
    amb, adv = await service.login("amb"), await service.login("adv")
    visitor = await _leave(service, "marie@example.org")
    item = await _item(service, adv, visitor["conversation_id"])
    status, body = await service.call("GET", "/api/inbox", token=amb)
    assert status == 403 and body["error"]["code"] == "forbidden", body
    for action, payload in (("assign", {}), ("answer", {"text": "hi"}), ("done", {})):
        status, body = await service.call("POST", f"/api/inbox/{item['id']}/{action}", token=amb, json=payload)
        assert status == 403, (action, body)
    # Nor can an advisor assign a message to an ambassador.
    status, body = await service.call("GET", "/api/agents/me", token=amb)
    status, body = await service.call("POST", f"/api/inbox/{item['id']}/assign", token=adv,
                                      json={"agent_id": body["agent"]["id"]})
    assert status == 400, body
    assert smtp_sink.messages == []
    assert (await _item(service, adv, visitor["conversation_id"]))["status"] == "open"


async def test_smtp_down_is_a_clear_error_and_nothing_is_recorded(service_factory: ServiceFactory) -> None:
    closed_port = free_port()  # nothing listens there
    service = await service_factory(smtp=SmtpSettings(host="127.0.0.1", port=closed_port, starttls=False,
                                                      password="s3cret-pass", timeout_seconds=5))
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR)
    adv = await service.login("adv")
    visitor = await _leave(service, "marie@example.org")
    before = await service.messages(visitor)
    item = await _item(service, adv, visitor["conversation_id"])

    status, body = await service.call("POST", f"/api/inbox/{item['id']}/answer", token=adv, json={"text": ANSWER})
    assert status == 503, body
    assert body["error"]["code"] == "mail_unavailable"
    assert f"127.0.0.1:{closed_port}" in body["error"]["message"] and "s3cret" not in repr(body)
    assert (await _item(service, adv, visitor["conversation_id"]))["status"] == "open"
    assert await service.messages(visitor) == before


async def test_no_smtp_server_configured(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR)
    adv = await service.login("adv")
    visitor = await _leave(service, "marie@example.org")
    item = await _item(service, adv, visitor["conversation_id"])
    status, body = await service.call("POST", f"/api/inbox/{item['id']}/answer", token=adv, json={"text": ANSWER})
    assert status == 503 and "relais.smtp.host" in body["error"]["message"], body
    status, body = await service.call("POST", "/api/inbox/999999/done", token=adv)
    assert status == 404, body
