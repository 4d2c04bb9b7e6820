"""The console's desk tools over HTTP: canned responses and internal notes; bodies in
`handoff/api/contract/tools.py`."""

from __future__ import annotations

from aiohttp import web

from handoff.api.agents import answer
from handoff.api.context import current_agent, services
from handoff.api.contract import Api, read_body, read_query
from handoff.api.contract import tools as m
from handoff.domain import DEFAULT_BRAND

api = Api()
routes = api.routes
CANNED = "/api/canned/{canned_id}"
NOTES = "/api/conversations/{conversation_id}/notes"


@api.route("GET", "/api/canned", summary="Search canned responses (?q=, ?language=, ?brand=; every agent)",
           security="agent", query=m.CannedSearch, response=m.CannedFound)
async def search_canned(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    query = read_query(request, m.CannedSearch)
    found = await services(request).tools.search_canned(agent, query=query.q, language=query.language, brand=query.brand)
    return web.json_response({"responses": [r.to_json() for r in found]})


@api.route("POST", "/api/canned", summary="Add a canned response (advisors and admins; 409 when the shortcut exists)",
           security="agent", body=m.NewCanned, response=m.CannedAnswer, status=201, errors=(409,))
async def create_canned(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await read_body(request, m.NewCanned)
    created = await services(request).tools.create_canned(
        agent, brand=body.brand or DEFAULT_BRAND, language=body.language, shortcut=body.shortcut,
        title=body.title or "", text=body.text,
    )
    return web.json_response({"response": created.to_json()}, status=201)


@api.route("PUT", CANNED, summary="Change a canned response (advisors and admins; a field left out stays)",
           security="agent", body=m.CannedChange, response=m.CannedAnswer, errors=(409,))
async def update_canned(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await read_body(request, m.CannedChange)
    changes = body.model_dump(exclude_none=True)
    updated = await services(request).tools.update_canned(agent, request.match_info["canned_id"], **changes)
    return web.json_response({"response": updated.to_json()})


@api.route("DELETE", CANNED, summary="Remove a canned response (advisors and admins)", security="agent", status=204)
async def delete_canned(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    await services(request).tools.delete_canned(agent, request.match_info["canned_id"])
    return web.Response(status=204)


@api.route("GET", NOTES, summary="Internal notes of a conversation (agents only)", security="agent",
           response=m.Notes)
async def read_notes(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    notes = await services(request).tools.notes(agent, request.match_info["conversation_id"])
    return answer(request, agent, {"notes": [n.to_json() for n in notes]})


@api.route("POST", NOTES, summary="Leave an internal note (its holder, or an advisor; never shown to the visitor)",
           security="agent", body=m.NewNote, response=m.NoteAnswer, status=201, errors=(429,))
async def add_note(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    text = (await read_body(request, m.NewNote)).text
    await services(request).limits.check("messages_per_agent", agent.id)
    note = await services(request).tools.add_note(agent, request.match_info["conversation_id"], text)
    return answer(request, agent, {"note": note.to_json()}, status=201)
