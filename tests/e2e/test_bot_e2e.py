"""End to end with the real Rasa server: bot answers, escalation to the ambassador
with the matching skill, relay both ways, close, back to the bot, one transcript."""

from __future__ import annotations

from handoff.domain import AgentRole
from tests.support.service import REAL_BOT_TIMEOUT_SECONDS, ServiceFactory, add_agent


async def test_routine_questions_are_answered_by_the_bot_in_each_language(
    service_factory: ServiceFactory, rasa_server: str, rasa_token: str
) -> None:
    service = await service_factory(rasa_url=rasa_server, rasa_token=rasa_token, rasa_timeout_seconds=REAL_BOT_TIMEOUT_SECONDS)
    french = await service.start_conversation("fr")
    answer = await service.say(french, "combien coûte la livraison ?")
    assert answer["message"]["intent"] is None  # stored before the bot answered
    bot_texts = " ".join(r["text"] for r in answer["replies"] if r["sender_kind"] == "bot")
    assert "livraison" in bot_texts.lower()
    # Each bot turn names the model that answered (Rasa's /status).
    models = [r["data"]["model"] for r in answer["replies"] if r["sender_kind"] == "bot"]
    assert models and all(m["model_id"] and m["model_file"].endswith(".tar.gz") for m in models), models
    english = await service.start_conversation("en")
    answer = await service.say(english, "how long does shipping take?")
    bot_texts = " ".join(r["text"] for r in answer["replies"] if r["sender_kind"] == "bot")
    assert "deliver" in bot_texts.lower() or "shipping" in bot_texts.lower()
    status, body = await service.call(
        "GET", f"/api/visitor/conversations/{english['conversation_id']}/messages", token=english["visitor_token"]
    )
    assert body["messages"][0]["intent"] == "ask_shipping"
    assert body["messages"][0]["confidence"] > 0.5


async def test_product_advice_goes_to_the_ambassador_with_the_skill_and_back_to_the_bot(
    service_factory: ServiceFactory, rasa_server: str, rasa_token: str
) -> None:
    service = await service_factory(rasa_url=rasa_server, rasa_token=rasa_token, rasa_timeout_seconds=REAL_BOT_TIMEOUT_SECONDS)
    await add_agent(service.settings, "sol", skills=("solar",))
    await add_agent(service.settings, "awn", skills=("awning",))
    await add_agent(service.settings, "vic", role=AgentRole.ADVISOR)
    sol, awn = await service.go_online("sol"), await service.go_online("awn")
    visitor = await service.start_conversation("fr", page_url="https://shop.example/stores-bannes/fiamma-f45")
    cid = visitor["conversation_id"]

    await service.say(visitor, "combien coûte la livraison ?")
    escalated = await service.say(visitor, "quel store banne me conseillez-vous pour mon fourgon ?")
    assert escalated["conversation"]["status"] == "waiting"
    assert escalated["conversation"]["skill"] == "awning"
    offer = await service.await_offer(awn, cid)
    assert offer["skill"] == "awning"
    assert offer["page_url"] == "https://shop.example/stores-bannes/fiamma-f45"
    assert any(m["sender_kind"] == "bot" for m in offer["preview"])
    status, body = await service.call("GET", "/api/agents/me/conversations", token=sol)
    assert body["offers"] == []  # wrong skill: never offered

    status, _ = await service.call("POST", f"/api/conversations/{cid}/accept", token=awn)
    assert status == 200
    relayed = await service.say(visitor, "c'est pour un Ducato de 6 m")
    assert relayed["replies"] == []  # a human holds it: nothing goes to the bot
    status, _ = await service.call(
        "POST", f"/api/conversations/{cid}/messages", token=awn, json={"text": "Le F45 de 3,5 m est parfait."}
    )
    assert status == 201
    status, _ = await service.call("POST", f"/api/conversations/{cid}/close", token=awn, json={"outcome": "sale"})
    assert status == 200
    back = await service.say(visitor, "et les délais de livraison ?")
    assert any(r["sender_kind"] == "bot" for r in back["replies"])

    vic = await service.login("vic")
    status, transcript = await service.call("GET", f"/api/conversations/{cid}/transcript", token=vic)
    messages = transcript["messages"]
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    texts = [m["text"] for m in messages]
    order = [
        "combien coûte la livraison ?",
        "quel store banne me conseillez-vous pour mon fourgon ?",
        "c'est pour un Ducato de 6 m",
        "Le F45 de 3,5 m est parfait.",
        "et les délais de livraison ?",
    ]
    assert [texts.index(t) for t in order] == sorted(texts.index(t) for t in order)
    kinds = {m["sender_kind"] for m in messages}
    assert kinds == {"visitor", "bot", "system", "ambassador"}
    assert messages[-1]["sender_kind"] == "bot"
