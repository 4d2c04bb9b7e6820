"""The routing rules that live in the services, with the real bot (issue 10): a request
for a person goes to the pool the visitor named, else to the pool that can answer now,
and "I'm putting you in touch…" is never followed by "Nobody is available"."""

from __future__ import annotations

from typing import Any

from handoff.domain import AgentRole
from tests.support.service import ServiceFactory, add_agent

IN_TOUCH = ("putting you in touch", "je vous mets en relation")


def _announced(replies: list[dict[str, Any]]) -> bool:
    return any(any(words in r["text"].lower() for words in IN_TOUCH) for r in replies if r["sender_kind"] == "bot")


def _system(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r["data"] for r in replies if r["sender_kind"] == "system"]


async def test_asking_for_an_advisor_while_only_an_advisor_is_online_reaches_the_advisor(
    service_factory: ServiceFactory, rasa_server: str, rasa_token: str
) -> None:
    service = await service_factory(rasa_url=rasa_server, rasa_token=rasa_token)
    await add_agent(service.settings, "amb")  # a community member exists, offline
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR)
    adv = await service.go_online("adv")
    for language, text in (("fr", "je veux parler à un conseiller"), ("en", "I want to talk to an advisor")):
        visitor = await service.start_conversation(language)
        answer = await service.say(visitor, text)
        assert answer["conversation"]["status"] == "waiting", answer
        assert answer["conversation"]["pool"] == "advisor"
        [queued] = _system(answer["replies"])
        assert queued["event"] == "queued" and queued["pool"] == "advisor"
        await service.await_offer(adv, visitor["conversation_id"], seconds=15)


async def test_asking_for_someone_goes_to_the_pool_that_can_answer_now(
    service_factory: ServiceFactory, rasa_server: str, rasa_token: str
) -> None:
    service = await service_factory(rasa_url=rasa_server, rasa_token=rasa_token)
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR)
    adv = await service.go_online("adv")
    visitor = await service.start_conversation("en")
    answer = await service.say(visitor, "I want to talk to a human")
    assert answer["conversation"]["pool"] == "advisor", answer
    # The bot announced the community (pre-sale); the advisor answers, so the service's own notice says who.
    assert not _announced(answer["replies"])
    await service.await_offer(adv, visitor["conversation_id"], seconds=15)


async def test_nobody_online_is_said_once_without_announcing_anyone(
    service_factory: ServiceFactory, rasa_server: str, rasa_token: str
) -> None:
    service = await service_factory(rasa_url=rasa_server, rasa_token=rasa_token)
    for language, text in (("en", "I want to talk to an advisor"), ("fr", "je veux parler à quelqu'un")):
        visitor = await service.start_conversation(language)
        answer = await service.say(visitor, text)
        assert answer["conversation"]["status"] == "bot"
        assert not _announced(answer["replies"]), answer["replies"]
        assert [(d["event"], d["offline_form"]) for d in _system(answer["replies"])] == [("no_agent", True)]
