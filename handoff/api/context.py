"""Typed access to the application's services and the caller's identity."""

from __future__ import annotations

from aiohttp import web

from handoff.api.client_address import client_address
from handoff.domain import Agent, Conversation, Unauthorized
from handoff.services.container import Services

SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def client_ip(request: web.Request) -> str:
    """The caller's address for per-address limits (X-Forwarded-For only from trusted proxies)."""
    return client_address(request, services(request).settings.trusted_proxies)


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token")
    return token.strip()


async def current_agent(request: web.Request) -> Agent:
    return await services(request).agents.authenticate(bearer_token(request))


async def current_visitor_conversation(request: web.Request) -> Conversation:
    return await services(request).conversations.authenticate_visitor(
        request.match_info["conversation_id"], bearer_token(request)
    )
