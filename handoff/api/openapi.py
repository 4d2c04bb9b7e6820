"""The OpenAPI 3.1 document served at `GET /api/openapi.json` (see docs/api.md)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handoff import __version__
from handoff.domain import MAX_TEXT_LENGTH

routes = web.RouteTableDef()

_STRING = {"type": "string"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_LENGTH}
_CLIENT_ID = {"type": "string", "maxLength": 64}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Any] = {
    "Error": _object(["error"], error=_object(["code", "message"], code=_STRING, message=_STRING, details={"type": "object"})),
    "Message": _object(
        ["conversation_id", "seq", "sender_kind", "text", "created_at"],
        conversation_id=_STRING,
        seq={"type": "integer", "minimum": 1},
        sender_kind={"enum": ["visitor", "bot", "ambassador", "advisor", "system"]},
        sender_id={"type": ["string", "null"]},
        text=_STRING,
        created_at={"type": "string", "format": "date-time"},
        client_msg_id={"type": ["string", "null"]},
        intent={"type": ["string", "null"]},
        confidence={"type": ["number", "null"]},
        data={"type": "object"},
    ),
    "Conversation": _object(
        ["id", "visitor_id", "language", "status"],
        id=_STRING,
        visitor_id=_STRING,
        language={"enum": ["fr", "en"]},
        page_url={"type": ["string", "null"]},
        status={"enum": ["bot", "waiting", "assigned", "offline_message", "closed"]},
        assigned_agent_id={"type": ["string", "null"]},
        pool={"enum": ["ambassador", "advisor", None]},
        skill={"type": ["string", "null"]},
        rating={"type": ["integer", "null"]},
        last_seq={"type": "integer"},
        brand=_STRING,
    ),
    "InboxItem": _object(
        ["id", "conversation_id", "seq", "status", "created_at", "text"],
        id={"type": "integer"},
        conversation_id=_STRING,
        seq={"type": "integer"},
        status={"enum": ["open", "answered", "done"]},
        created_at={"type": "string", "format": "date-time"},
        text=_STRING,
        email={"type": ["string", "null"]},
        language={"enum": ["fr", "en"]},
        visitor_id=_STRING,
        page_url={"type": ["string", "null"]},
        assigned_agent_id={"type": ["string", "null"]},
        answered_by={"type": ["string", "null"]},
        answered_at={"type": ["string", "null"], "format": "date-time"},
        answer_seq={"type": ["integer", "null"]},
        done_at={"type": ["string", "null"], "format": "date-time"},
    ),
    "CannedResponse": _object(
        ["id", "brand", "language", "shortcut", "title", "text"],
        id=_STRING,
        brand=_STRING,
        language={"enum": ["fr", "en"]},
        shortcut=_STRING,
        title=_STRING,
        text=_STRING,
        created_by={"type": ["string", "null"]},
        created_at={"type": "string", "format": "date-time"},
        updated_at={"type": "string", "format": "date-time"},
    ),
    "Note": _object(
        ["id", "conversation_id", "author_name", "kind", "text", "created_at"],
        id={"type": "integer"},
        conversation_id=_STRING,
        author_id={"type": ["string", "null"]},
        author_name=_STRING,
        kind={"enum": ["note", "transfer"]},
        text=_STRING,
        created_at={"type": "string", "format": "date-time"},
    ),
    "Agent": _object(
        ["id", "username", "role"],
        id=_STRING,
        username=_STRING,
        display_name=_STRING,
        role={"enum": ["ambassador", "advisor", "admin"]},
        languages={"type": "array", "items": _STRING},
        skills={"type": "array", "items": _STRING},
        capacity={"type": "integer"},
        pool={"enum": ["ambassador", "advisor"]},
        active={"type": "boolean"},
    ),
}

_ROLE = {"enum": ["ambassador", "advisor", "admin"]}
_LANGUAGES = {"type": "array", "items": {"enum": ["fr", "en"]}, "minItems": 1, "maxItems": 50}
_SKILLS = {"type": "array", "items": _STRING, "maxItems": 50}
_CAPACITY = {"type": "integer", "minimum": 1, "maximum": 50}
_NAME = {"type": "string", "maxLength": 100}
_PASSWORD = {"type": "string", "minLength": 8, "maxLength": 256}

# (method, path, summary, security, request body schema or None, success status)
_OPERATIONS: list[tuple[str, str, str, str | None, dict[str, Any] | None, int]] = [
    ("post", "/api/visitor/conversations", "Start a conversation", None,
     _object(["language"], language={"enum": ["fr", "en"]}, page_url=_STRING, visitor_id=_STRING), 201),
    ("post", "/api/visitor/conversations/{conversation_id}/messages", "Send a visitor message", "visitor",
     _object(["text"], text=_TEXT, client_msg_id=_CLIENT_ID), 201),
    ("get", "/api/visitor/conversations/{conversation_id}/messages", "Read the transcript after a sequence number", "visitor", None, 200),
    ("post", "/api/visitor/conversations/{conversation_id}/handoff", "Ask for a person", "visitor",
     _object([], pool={"enum": ["ambassador", "advisor"]}), 200),
    ("post", "/api/visitor/conversations/{conversation_id}/page", "Report the page the visitor is on", "visitor", _object(["page_url"], page_url=_STRING), 200),
    ("post", "/api/visitor/conversations/{conversation_id}/typing", "Visitor typing indicator", "visitor", _object(["typing"], typing={"type": "boolean"}), 204),
    ("post", "/api/visitor/conversations/{conversation_id}/offline-message", "Leave an email and a question", "visitor",
     _object(["email", "text"], email=_STRING, text=_TEXT), 201),
    ("post", "/api/visitor/conversations/{conversation_id}/rating", "Rate the human chat", "visitor",
     _object(["rating"], rating={"type": "integer", "minimum": 1, "maximum": 5}, comment=_STRING), 200),
    ("get", "/api/availability", "Agents online and free per pool", None, None, 200),
    ("post", "/api/agents/login", "Agent login", None, _object(["username", "password"], username=_STRING, password=_STRING), 200),
    ("post", "/api/agents/logout", "Agent logout", "agent", None, 204),
    ("get", "/api/agents/me", "The logged-in agent", "agent", None, 200),
    ("post", "/api/agents/me/presence", "Set presence", "agent", _object(["status"], status={"enum": ["online", "away", "offline"]}), 200),
    ("post", "/api/agents/me/heartbeat", "Keep presence alive", "agent", None, 204),
    ("get", "/api/agents/online", "Agents online", "agent", None, 200),
    ("get", "/api/agents/me/conversations", "My conversations and offers", "agent", None, 200),
    ("get", "/api/queue", "Waiting conversations I may take", "agent", None, 200),
    ("post", "/api/conversations/{conversation_id}/accept", "Accept an offer", "agent", None, 200),
    ("post", "/api/conversations/{conversation_id}/decline", "Decline an offer", "agent", None, 200),
    ("post", "/api/conversations/{conversation_id}/claim", "Claim a waiting conversation (or take over, advisors)", "agent", None, 200),
    ("post", "/api/conversations/{conversation_id}/transfer", "Transfer to a pool or a named agent", "agent",
     _object([], pool={"enum": ["ambassador", "advisor"]}, agent_id=_STRING, note=_STRING), 200),
    ("post", "/api/conversations/{conversation_id}/close", "Close the human chat; back to the bot", "agent", _object([], outcome=_STRING), 200),
    ("post", "/api/conversations/{conversation_id}/messages", "Send an agent message", "agent",
     _object(["text"], text=_TEXT, client_msg_id=_CLIENT_ID), 201),
    ("post", "/api/conversations/{conversation_id}/typing", "Agent typing indicator", "agent", _object(["typing"], typing={"type": "boolean"}), 204),
    ("get", "/api/conversations/{conversation_id}/messages", "Read a conversation", "agent", None, 200),
    ("get", "/api/conversations/{conversation_id}/transcript", "Full transcript with handoff events (advisors)", "agent", None, 200),
    ("get", "/api/conversations", "Live conversations (supervision, advisors)", "agent", None, 200),
    ("get", "/api/admin/agents", "Every agent (admins)", "agent", None, 200),
    ("post", "/api/admin/agents", "Create an agent (admins; 409 when the username exists)", "agent",
     {**_object(["username", "password", "role", "languages"], username={"type": "string", "minLength": 2, "maxLength": 64},
                password=_PASSWORD, role=_ROLE, languages=_LANGUAGES, skills=_SKILLS, capacity=_CAPACITY,
                display_name=_NAME), "additionalProperties": False}, 201),
    ("patch", "/api/admin/agents/{agent_id}",
     "Change an agent (admins; a new role or active=false ends its sessions; 409 for the last active admin)", "agent",
     {**_object([], role=_ROLE, languages=_LANGUAGES, skills=_SKILLS, capacity=_CAPACITY, display_name=_NAME,
                active={"type": "boolean"}), "minProperties": 1, "additionalProperties": False}, 200),
    ("put", "/api/admin/agents/{agent_id}/password", "Set an agent's password (admins; its sessions end)", "agent",
     {**_object(["password"], password=_PASSWORD), "additionalProperties": False}, 200),
    ("delete", "/api/admin/agents/{agent_id}", "Remove an agent (admins; its sessions end; 409 for the last active admin)",
     "agent", None, 204),
    ("get", "/api/admin/settings", "The effective settings, secrets redacted (admins)", "agent", None, 200),
    ("get", "/api/history", "Closed conversations this agent may read (ambassadors: their own), searched: "
     "q (text), visitor (id prefix), agent (username or id), topic, since/until (dates), page, page_size", "agent", None, 200),
    ("get", "/api/history/{conversation_id}", "One conversation of the history, read-only, with its transcript", "agent", None, 200),
    ("get", "/api/inbox", "Offline messages (advisors/admins): status (open,answered,done), mine, limit, before", "agent", None, 200),
    ("post", "/api/inbox/{item_id}/assign", "Assign an offline message to an advisor or admin (the caller by default)", "agent",
     _object([], agent_id=_STRING), 200),
    ("post", "/api/inbox/{item_id}/answer", "Answer an offline message by email; recorded in the conversation once sent "
     "(503 mail_unavailable: nothing recorded)", "agent", _object(["text"], text=_TEXT), 200),
    ("post", "/api/inbox/{item_id}/done", "Mark an offline message done", "agent", None, 200),
    ("get", "/api/conversations/{conversation_id}/visitor",
     "The visitor panel: pages seen, language, visit start, previous conversations, offline messages "
     "(the agent holding the conversation, or advisors/admins)", "agent", None, 200),
    ("get", "/api/conversations/{conversation_id}/visitor/conversations/{previous_id}",
     "One of the visitor's previous conversations, read-only (same access as the visitor panel)", "agent", None, 200),
    ("get", "/api/agents/me/ratings", "The latest ratings and comments of the chats I answered", "agent", None, 200),
    ("get", "/api/canned", "Search canned responses (?q=, ?language=, ?brand=; every agent)", "agent", None, 200),
    ("post", "/api/canned", "Add a canned response (advisors and admins)", "agent",
     _object(["language", "shortcut", "text"], brand=_STRING, language={"enum": ["fr", "en"]},
             shortcut={"type": "string", "pattern": "^/?[a-z0-9][a-z0-9_-]*$", "maxLength": 33}, title=_STRING, text=_TEXT), 201),
    ("put", "/api/canned/{canned_id}", "Change a canned response (advisors and admins; a field left out stays)", "agent",
     _object([], brand=_STRING, language={"enum": ["fr", "en"]}, shortcut=_STRING, title=_STRING, text=_TEXT), 200),
    ("delete", "/api/canned/{canned_id}", "Remove a canned response (advisors and admins)", "agent", None, 204),
    ("get", "/api/conversations/{conversation_id}/notes", "Internal notes of a conversation (agents only)", "agent", None, 200),
    ("post", "/api/conversations/{conversation_id}/notes", "Leave an internal note (its holder, or an advisor; never shown to the visitor)",
     "agent", _object(["text"], text=_TEXT), 201),
    ("get", "/api/admin/visitors/{visitor_id}", "Export everything stored about a visitor (admins)", "agent", None, 200),
    ("delete", "/api/admin/visitors/{visitor_id}", "Erase everything stored about a visitor (admins; 409 while a conversation is live)",
     "agent", None, 200),
    ("get", "/api/admin/bot", "The bot's kill switch and per-intent switches (admins)", "agent", None, 200),
    ("put", "/api/admin/bot", "Switch the bot, or some intents, off or on (admins; a field left out stays)", "agent",
     _object([], enabled={"type": "boolean"}, disabled_intents={"type": "array", "items": _STRING, "maxItems": 200}), 200),
    ("post", "/api/conversations/{conversation_id}/messages/{seq}/flag",
     "Flag a visitor message: the bot should have answered this (the conversation's agent)", "agent", None, 200),
    ("get", "/api/admin/review", "Visitor messages the bot did not handle well, grouped (admins; filters language, intent, since, until, limit)",
     "agent", None, 200),
    ("get", "/api/admin/review/intents", "The bot's domain intents a label may name (admins)", "agent", None, 200),
    ("get", "/api/admin/review/labels", "The review's labels, newest first (admins; action=intent|candidate)", "agent", None, 200),
    ("post", "/api/admin/review/labels", "Label a message and its group: an intent with product_category spans, or a candidate (admins)",
     "agent", _object(
         ["conversation_id", "seq", "action"], conversation_id=_STRING, seq={"type": "integer", "minimum": 1},
         action={"enum": ["intent", "candidate"]}, intent=_STRING, candidate=_STRING,
         entities={"type": "array", "maxItems": 20, "items": _object(["start", "end"], start={"type": "integer"}, end={"type": "integer"})},
         members={"type": "array", "items": {"type": "array", "prefixItems": [_STRING, {"type": "integer"}]}},
     ), 201),
    ("delete", "/api/admin/review/labels/{conversation_id}/{seq}", "Remove a label (admins)", "agent", None, 204),
    ("get", "/api/admin/review/stats", "Contained vs escalated per intent and week (admins; weeks, language)", "agent", None, 200),
    ("get", "/api/admin/bot/models", "The bot's models, the current one, the one Rasa runs and the history (admins)",
     "agent", None, 200),
    ("post", "/api/admin/bot/model", "Promote a model into the running Rasa server without stopping it (admins; "
     "404 unknown model, 502 Rasa could not load it)", "agent",
     _object(["model"], model={"type": "string", "description": "relais-<sha12>.tar.gz or the start of its hash"}), 200),
    ("post", "/api/admin/bot/rollback", "Load the model promoted before the current one (admins; 409 when there is none)",
     "agent", None, 200),
    ("get", "/healthz", "Liveness: the process answers (no dependency is checked)", None, None, 200),
    ("get", "/readyz", "Readiness: store, Redis (when configured) and Rasa reachable; 503 names what is down", None, None, 200),
    ("get", "/metrics", "Prometheus metrics (text exposition format)", None, None, 200),
]


def build_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, summary, security, body, status in _OPERATIONS:
        operation: dict[str, Any] = {
            "summary": summary,
            "responses": {
                str(status): {"description": "success"},
                "default": {"description": "error", "content": {"application/json": {"schema": _ref("Error")}}},
            },
        }
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": _STRING}
            for name in ("conversation_id", "visitor_id", "agent_id", "seq", "item_id", "previous_id", "canned_id")
            if "{" + name + "}" in path
        ]
        if not operation["parameters"]:
            del operation["parameters"]
        if security:
            operation["security"] = [{"bearer": []}]
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Relais handoff service", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(build_document())
