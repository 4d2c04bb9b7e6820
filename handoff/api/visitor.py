"""The widget's HTTP API (`/api/visitor/...`, `/api/availability`)."""

from __future__ import annotations

from aiohttp import web

from handoff.api.context import client_ip, current_visitor_conversation, services
from handoff.api.payload import (
    MAX_ID_LENGTH,
    after_param,
    bool_field,
    enum_field,
    int_field,
    json_body,
    optional_text,
    optional_url,
    text_field,
)
from handoff.domain import SUPPORTED_LANGUAGES, InvalidInput, Pool

routes = web.RouteTableDef()


@routes.post("/api/visitor/conversations")
async def start_conversation(request: web.Request) -> web.Response:
    body = await json_body(request)
    language = body.get("language")
    if language not in SUPPORTED_LANGUAGES:
        raise InvalidInput(f"language must be one of: {', '.join(SUPPORTED_LANGUAGES)}", field="language")
    page_url = optional_url(body, "page_url")
    visitor_id = optional_text(body, "visitor_id", max_length=MAX_ID_LENGTH)
    await services(request).limits.check("conversations_per_ip", client_ip(request))
    conversation, token = await services(request).conversations.start(language, page_url, visitor_id)
    return web.json_response(
        {
            "conversation_id": conversation.id,
            "visitor_id": conversation.visitor_id,
            "visitor_token": token,
            "conversation": conversation.to_json(),
        },
        status=201,
    )


@routes.post("/api/visitor/conversations/{conversation_id}/messages")
async def post_message(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    body = await json_body(request)
    text = text_field(body, "text")
    client_msg_id = optional_text(body, "client_msg_id", max_length=MAX_ID_LENGTH)
    await services(request).limits.check("messages_per_conversation", conversation.id)
    posted = await services(request).visitors.post_message(conversation, text, client_msg_id)
    return web.json_response(
        services(request).moderation.for_visitors({
            "message": posted.message.to_json(),
            "replies": [reply.to_json() for reply in posted.replies],
            "conversation": posted.conversation.to_json(),
        }),
        status=201 if posted.created else 200,
    )


@routes.get("/api/visitor/conversations/{conversation_id}/messages")
async def list_messages(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    svc = services(request)
    messages = await svc.conversations.messages(conversation.id, after=after_param(request))
    return web.json_response(svc.moderation.for_visitors(  # agents' abusive words masked
        {"messages": [m.to_json() for m in messages], "conversation": conversation.to_json()}
    ))


@routes.post("/api/visitor/conversations/{conversation_id}/handoff")
async def ask_for_human(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    pool = enum_field(await json_body(request), "pool", Pool, required=False)
    svc = services(request)
    position = await svc.visitors.ask_for_human(conversation, pool)
    current = await svc.conversations.get(conversation.id)
    estimate = await svc.handoffs.estimated_wait(current, position)
    return web.json_response({"conversation": current.to_json(), "position": position, "estimated_wait_seconds": estimate})


@routes.post("/api/visitor/conversations/{conversation_id}/page")
async def set_page(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    page_url = optional_url(await json_body(request), "page_url")
    if page_url is None:
        raise InvalidInput("page_url is required", field="page_url")
    updated = await services(request).visitors.set_page(conversation, page_url)
    return web.json_response({"conversation": updated.to_json()})


@routes.post("/api/visitor/conversations/{conversation_id}/typing")
async def typing(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    await services(request).visitors.typing(conversation, bool_field(await json_body(request), "typing"))
    return web.Response(status=204)


@routes.post("/api/visitor/conversations/{conversation_id}/offline-message")
async def offline_message(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    body = await json_body(request)
    email = text_field(body, "email", max_length=254)
    text = text_field(body, "text")
    message, updated = await services(request).visitors.leave_offline_message(conversation, email, text)
    return web.json_response({"message": message.to_json(), "conversation": updated.to_json()}, status=201)


@routes.post("/api/visitor/conversations/{conversation_id}/rating")
async def rate(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    body = await json_body(request)
    rating = int_field(body, "rating", minimum=1, maximum=5)
    comment = optional_text(body, "comment", max_length=2000)
    updated = await services(request).visitors.rate(conversation, rating, comment)
    return web.json_response({"conversation": updated.to_json()})


@routes.get("/api/availability")
async def availability(request: web.Request) -> web.Response:
    svc = services(request)
    pools = await svc.handoffs.availability.pools()
    return web.json_response(
        {"pools": pools, "min_available": {p.value: n for p, n in svc.settings.min_available.items()}},
        headers={"Cache-Control": "no-store"},
    )
