"""The maintainers' review (docs/maintainers.md): which visitor messages are listed and
why, near-duplicates grouped and ranked, the filters, who may flag a message, labels,
and the containment per intent and week.

Conversations are written straight into the store (tests/support/review_seed.py) with
the intents, confidences and times a real bot would have left, so every reason is
checked against a known transcript."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.web import RouteDef
from sqlalchemy import select

from handoff.api import review
from handoff.api.openapi import document
from handoff.domain import AgentRole
from handoff.store import open_store
from handoff.store.schema import conversations, review_flags
from handoff.visitor_data import VisitorData
from tests.support.review_seed import NOW, Seeder, ago
from tests.support.service import RunningService, ServiceFactory, add_agent


async def admin(service: RunningService) -> str:
    await add_agent(service.settings, "ada", role=AgentRole.ADMIN)
    return await service.login("ada")


async def listed(service: RunningService, token: str, **query: str) -> list[dict[str, Any]]:
    status, body = await service.call("GET", "/api/admin/review", token=token, params=query)
    assert status == 200, body
    return list(body["groups"])


async def seed_mixed(service: RunningService) -> dict[str, Any]:
    """Three phrasings of one new question, two of another, one of each other reason."""
    ids: dict[str, Any] = {}
    async with Seeder(service.settings.database_url) as seed:
        gift = [
            ("do you sell gift cards?", ago(hours=30)),
            ("Do you sell gift cards", ago(hours=20)),
            ("do you sell giftcards ?", ago(hours=5)),
        ]
        ids["gift"] = []
        for text, at in gift:
            cid = await seed.conversation("en", at=at)
            ids["gift"].append((cid, await seed.turn(cid, text, at=at, intent="nlu_fallback", confidence=0.31)))
        for text, at in (("can I pay in bitcoin", ago(hours=40)), ("can i pay with bitcoin", ago(hours=39))):
            cid = await seed.conversation("en", at=at)
            await seed.turn(cid, text, at=at, intent="ask_payment", confidence=0.42)  # low confidence
        cid = await seed.conversation("fr", at=ago(hours=3))
        ids["oos"] = (cid, await seed.turn(cid, "quel temps fait-il à Lyon", at=ago(hours=3), intent="out_of_scope"))
        # well understood: not listed
        cid = await seed.conversation("en", at=ago(hours=2))
        await seed.turn(cid, "how much is shipping", at=ago(hours=2), intent="ask_shipping", confidence=0.97)
        # the bot escalated after a confident reading
        cid = await seed.conversation("en", at=ago(hours=8))
        ids["escalated"] = (cid, await seed.turn(cid, "my awning arrived torn", at=ago(hours=8), intent="complaint"))
        await seed.handoff(cid, "intent", at=ago(hours=8) + timedelta(seconds=2))
        # the visitor asked for a person right after (in words)
        cid = await seed.conversation("en", at=ago(hours=7))
        ids["asked"] = (cid, await seed.turn(cid, "is the roof rack ok on a t6", at=ago(hours=7), intent="ask_stock"))
        await seed.turn(cid, "let me talk to a human", at=ago(hours=7) + timedelta(seconds=30), intent="request_human")
        await seed.handoff(cid, "intent", at=ago(hours=7) + timedelta(seconds=32))
        # ... and with the button
        cid = await seed.conversation("fr", at=ago(hours=6))
        ids["button"] = (cid, await seed.turn(cid, "le kit solaire tient sur un fourgon ?", at=ago(hours=6),
                                              intent="ask_stock"))
        await seed.handoff(cid, "requested", at=ago(hours=6) + timedelta(seconds=40))
        # older than the default period
        cid = await seed.conversation("en", at=ago(days=45))
        await seed.turn(cid, "do you sell gift cards?", at=ago(days=45), intent="nlu_fallback", confidence=0.2)
    return ids


async def test_reasons_grouping_and_ranking(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    token = await admin(service)
    ids = await seed_mixed(service)
    groups = await listed(service, token)

    assert [g["count"] for g in groups][:2] == [3, 2]
    gift, bitcoin = groups[0], groups[1]
    assert gift["text"] == "do you sell giftcards ?"  # the newest phrasing heads the row
    assert gift["reasons"] == {"fallback": 3}
    assert sorted(map(tuple, gift["members"])) == sorted(ids["gift"])  # not the 45-day-old one
    assert bitcoin["reasons"] == {"low_confidence": 2} and bitcoin["intent"] == "ask_payment"
    singles = groups[2:]
    assert all(g["count"] == 1 for g in singles)
    assert [g["last_seen"] for g in singles] == sorted((g["last_seen"] for g in singles), reverse=True)
    by_key = {(g["conversation_id"], g["seq"]): g for g in groups}
    assert by_key[ids["oos"]]["reasons"] == {"out_of_scope": 1}
    assert by_key[ids["escalated"]]["reasons"] == {"escalated": 1}
    assert by_key[ids["asked"]]["reasons"] == {"asked_for_person": 1}
    assert by_key[ids["button"]]["reasons"] == {"asked_for_person": 1}
    texts = {g["text"] for g in groups}
    assert "how much is shipping" not in texts and "let me talk to a human" not in texts
    assert len(groups) == 6


async def test_filters_language_intent_and_period(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    token = await admin(service)
    await seed_mixed(service)

    french = await listed(service, token, language="fr")
    assert {g["language"] for g in french} == {"fr"} and len(french) == 2
    payment = await listed(service, token, intent="ask_payment")
    assert [g["count"] for g in payment] == [2]
    recent = await listed(service, token, since=ago(hours=10).isoformat())
    assert all(g["last_seen"] >= ago(hours=10).isoformat() for g in recent)
    assert "can I pay in bitcoin" not in {g["text"] for g in recent}
    old = await listed(service, token, since=ago(days=60).isoformat(), until=ago(days=40).isoformat())
    assert [(g["text"], g["count"]) for g in old] == [("do you sell gift cards?", 1)]
    status, body = await service.call("GET", "/api/admin/review", token=token, params={"since": "yesterday"})
    assert status == 400 and body["error"]["details"]["field"] == "since"


async def test_only_admins_read_the_review(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "bob", role=AgentRole.ADVISOR)
    token = await service.login("bob")
    for path in ("/api/admin/review", "/api/admin/review/stats", "/api/admin/review/labels"):
        status, _ = await service.call("GET", path, token=token)
        assert status == 403, path
    status, _ = await service.call("GET", "/api/admin/review")
    assert status == 401


async def test_flag_by_the_agent_of_the_conversation_only(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    admin_token = await admin(service)
    amy = await add_agent(service.settings, "amy", role=AgentRole.AMBASSADOR)
    await add_agent(service.settings, "sam", role=AgentRole.AMBASSADOR)
    async with Seeder(service.settings.database_url) as seed:
        cid = await seed.conversation("en", at=ago(hours=2), assigned_agent_id=amy.id)
        seq = await seed.turn(cid, "which fridge fits a Trafic", at=ago(hours=2), intent="ask_product_advice",
                              confidence=0.99)
    path = f"/api/conversations/{cid}/messages/{seq}/flag"
    assert not await listed(service, admin_token)  # confident and not escalated: not listed

    status, body = await service.call("POST", path, token=await service.login("sam"))
    assert status == 403, body
    status, _ = await service.call("POST", path)
    assert status == 401
    amy_token = await service.login("amy")
    status, body = await service.call("POST", f"/api/conversations/{cid}/messages/{seq + 1}/flag", token=amy_token)
    assert status == 400 and body["error"]["details"]["field"] == "seq"  # the bot's reply
    status, body = await service.call("POST", f"/api/conversations/{cid}/messages/99/flag", token=amy_token)
    assert status == 404, body
    status, body = await service.call("POST", f"/api/conversations/{cid}/messages/x/flag", token=amy_token)
    assert status == 400, body
    for _ in range(2):  # flagging twice is one flag
        status, body = await service.call("POST", path, token=amy_token)
        assert status == 200 and body == {"conversation_id": cid, "seq": seq, "flagged": True}

    groups = await listed(service, admin_token)
    assert [(g["conversation_id"], g["seq"], g["reasons"]) for g in groups] == [(cid, seq, {"flagged": 1})]


async def test_labels_take_a_group_off_the_list(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    token = await admin(service)
    ids = await seed_mixed(service)
    gift = (await listed(service, token))[0]

    async def label(**body: Any) -> tuple[int, Any]:
        return await service.call("POST", "/api/admin/review/labels", token=token, json=body)

    status, body = await label(conversation_id=gift["conversation_id"], seq=gift["seq"], action="intent",
                               intent="ask_gift_cards")
    assert status == 400 and body["error"]["details"]["field"] == "intent"  # not in the domain
    status, body = await label(conversation_id=gift["conversation_id"], seq=gift["seq"], action="intent",
                               intent="ask_payment", entities=[{"start": 3, "end": 99}])
    assert status == 400 and body["error"]["details"]["field"] == "entities"
    status, body = await label(conversation_id=gift["conversation_id"], seq=gift["seq"], action="candidate",
                               candidate="ask_gift_cards", members=gift["members"])
    assert status == 201, body
    assert body["action"] == "candidate" and body["candidate"] == "ask_gift_cards" and body["intent"] is None
    assert sorted(map(tuple, body["members"])) == sorted(ids["gift"])

    groups = await listed(service, token)
    assert "gift" not in " ".join(g["text"] for g in groups)  # the whole group left the list
    assert len(groups) == 5

    oos = ids["oos"]
    status, body = await label(conversation_id=oos[0], seq=oos[1], action="intent", intent="out_of_scope")
    assert status == 201, body
    bitcoin = (await listed(service, token))[0]
    text = bitcoin["text"]
    start = text.index("bitcoin")
    status, body = await label(conversation_id=bitcoin["conversation_id"], seq=bitcoin["seq"], action="intent",
                               intent="ask_payment", entities=[{"start": start, "end": start + 7}],
                               members=bitcoin["members"])
    assert status == 201 and body["entities"] == [{"start": start, "end": start + 7}]

    status, body = await service.call("GET", "/api/admin/review/labels", token=token, params={"action": "intent"})
    assert status == 200
    assert [(item["intent"], item["text"]) for item in body["labels"]] == [
        ("ask_payment", text), ("out_of_scope", "quel temps fait-il à Lyon")]
    status, _ = await service.call("DELETE", f"/api/admin/review/labels/{oos[0]}/{oos[1]}", token=token)
    assert status == 204
    assert oos in {(g["conversation_id"], g["seq"]) for g in await listed(service, token)}  # back on the list
    status, _ = await service.call("DELETE", f"/api/admin/review/labels/{oos[0]}/{oos[1]}", token=token)
    assert status == 404

    status, body = await service.call("GET", "/api/admin/review/intents", token=token)
    assert status == 200 and "ask_payment" in body["intents"] and "request_human" in body["intents"]


async def test_stats_contained_and_escalated_per_intent_and_week(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    token = await admin(service)
    this_monday = (NOW - timedelta(days=NOW.weekday())).replace(hour=9, minute=0, second=0)
    if this_monday > NOW:
        this_monday -= timedelta(days=7)
    last_week = this_monday - timedelta(days=7)
    async with Seeder(service.settings.database_url) as seed:
        for index in range(3):  # last week: three shipping questions answered
            cid = await seed.conversation("en", at=last_week)
            await seed.turn(cid, f"shipping {index}", at=last_week + timedelta(minutes=index), intent="ask_shipping")
        cid = await seed.conversation("en", at=last_week)  # ... and one complaint handed to a person
        await seed.turn(cid, "this is broken", at=last_week, intent="complaint")
        await seed.handoff(cid, "intent", at=last_week + timedelta(seconds=2))
        cid = await seed.conversation("fr", at=this_monday)  # this week: shipping answered, then escalated
        await seed.turn(cid, "livraison ?", at=this_monday, intent="ask_shipping")
        await seed.turn(cid, "je veux un humain", at=this_monday + timedelta(minutes=1), intent="request_human")
        await seed.handoff(cid, "intent", at=this_monday + timedelta(minutes=1, seconds=2))

    status, body = await service.call("GET", "/api/admin/review/stats", token=token, params={"weeks": "4"})
    assert status == 200, body
    rows = {(r["week"], r["intent"]): (r["messages"], r["contained"], r["escalated"]) for r in body["rows"]}
    last, this = last_week.date().isoformat(), this_monday.date().isoformat()
    assert rows == {
        (last, "ask_shipping"): (3, 3, 0),
        (last, "complaint"): (1, 0, 1),
        (this, "ask_shipping"): (1, 1, 0),
        (this, "request_human"): (1, 0, 1),
    }
    status, body = await service.call("GET", "/api/admin/review/stats", token=token,
                                      params={"weeks": "4", "language": "fr"})
    assert {r["intent"] for r in body["rows"]} == {"ask_shipping", "request_human"}


def test_every_review_endpoint_is_in_the_openapi_document() -> None:
    paths = document()["paths"]
    routes = [route for route in review.routes if isinstance(route, RouteDef)]
    assert len(routes) == 7
    for route in routes:
        assert route.method.lower() in paths.get(route.path, {}), (route.method, route.path)


async def test_erasing_a_visitor_takes_their_flags_and_labels_and_retention_masks_labels(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory()
    token = await admin(service)
    async with Seeder(service.settings.database_url) as seed:
        kept = await seed.conversation("en", at=ago(days=2))
        kept_seq = await seed.turn(kept, "write to me at jo@example.com about gift cards", at=ago(days=2),
                                   intent="nlu_fallback", confidence=0.2)
        erased = await seed.conversation("en", at=ago(days=1))
        erased_seq = await seed.turn(erased, "do you rent vans", at=ago(days=1), intent="out_of_scope")
    for cid, seq in ((kept, kept_seq), (erased, erased_seq)):
        status, body = await service.call("POST", "/api/admin/review/labels", token=token,
                                          json={"conversation_id": cid, "seq": seq, "action": "candidate",
                                                "candidate": "ask_rental"})
        assert status == 201, body
    status, _ = await service.call("POST", f"/api/conversations/{erased}/messages/{erased_seq}/flag", token=token)
    assert status == 200

    store = await open_store(service.settings.database_url)
    try:
        async with store.sessions() as session:
            visitor = (await session.execute(select(conversations.c.visitor_id)
                                             .where(conversations.c.id == erased))).scalar_one()
        await VisitorData(store).erase(visitor)
        async with store.sessions() as session:
            assert (await session.execute(select(review_flags))).all() == []
        await VisitorData(store).anonymise_older_than(NOW + timedelta(minutes=1))
    finally:
        await store.close()
    status, body = await service.call("GET", "/api/admin/review/labels", token=token)
    assert [(label["conversation_id"], label["text"]) for label in body["labels"]] == [
        (kept, "write to me at •••@••• about gift cards")]
