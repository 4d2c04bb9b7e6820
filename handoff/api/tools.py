"""The console's desk tools over HTTP: canned responses and internal notes."""

from __future__ import annotations

from aiohttp import web

from handoff.api.agents import answer
from handoff.api.context import current_agent, services
from handoff.api.payload import json_body, optional_text, text_field
from handoff.canned import MAX_BRAND_LENGTH, MAX_SHORTCUT_LENGTH, MAX_TITLE_LENGTH
from handoff.domain import DEFAULT_BRAND, MAX_TEXT_LENGTH, InvalidInput

routes = web.RouteTableDef()

MAX_QUERY_LENGTH = 100
EDITABLE = ("brand", "language", "shortcut", "title", "text")
_LIMITS = {"brand": MAX_BRAND_LENGTH, "language": 8, "shortcut": MAX_SHORTCUT_LENGTH,
           "title": MAX_TITLE_LENGTH, "text": MAX_TEXT_LENGTH}


@routes.get("/api/canned")
async def search_canned(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    query = request.query.get("q", "")
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"q must be at most {MAX_QUERY_LENGTH} characters", field="q")
    found = await services(request).tools.search_canned(
        agent, query=query, language=request.query.get("language") or None, brand=request.query.get("brand") or None
    )
    return web.json_response({"responses": [r.to_json() for r in found]})


@routes.post("/api/canned")
async def create_canned(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request)
    created = await services(request).tools.create_canned(
        agent,
        brand=optional_text(body, "brand", max_length=MAX_BRAND_LENGTH) or DEFAULT_BRAND,
        language=text_field(body, "language", max_length=8),
        shortcut=text_field(body, "shortcut", max_length=MAX_SHORTCUT_LENGTH + 1),
        title=optional_text(body, "title", max_length=MAX_TITLE_LENGTH) or "",
        text=text_field(body, "text"),
    )
    return web.json_response({"response": created.to_json()}, status=201)


@routes.put("/api/canned/{canned_id}")
async def update_canned(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request)
    changes = {name: text_field(body, name, max_length=_LIMITS[name] + (name == "shortcut"))
               for name in EDITABLE if name in body}
    updated = await services(request).tools.update_canned(agent, request.match_info["canned_id"], **changes)
    return web.json_response({"response": updated.to_json()})


@routes.delete("/api/canned/{canned_id}")
async def delete_canned(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    await services(request).tools.delete_canned(agent, request.match_info["canned_id"])
    return web.Response(status=204)


@routes.get("/api/conversations/{conversation_id}/notes")
async def read_notes(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    notes = await services(request).tools.notes(agent, request.match_info["conversation_id"])
    return answer(request, agent, {"notes": [n.to_json() for n in notes]})


@routes.post("/api/conversations/{conversation_id}/notes")
async def add_note(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    text = text_field(await json_body(request), "text")
    await services(request).limits.check("messages_per_agent", agent.id)
    note = await services(request).tools.add_note(agent, request.match_info["conversation_id"], text)
    return answer(request, agent, {"note": note.to_json()}, status=201)
