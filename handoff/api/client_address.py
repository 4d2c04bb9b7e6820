"""The address a request comes from, for per-address limits.

The peer's address, unless the peer is a proxy listed in `trusted_proxies`: then
X-Forwarded-For is read from the right (each proxy appends the address it saw) and
the first address that is not a trusted proxy is the client. The left end is not
taken as is: a client can send any X-Forwarded-For, and a proxy only appends to it.
"""

from __future__ import annotations

from ipaddress import ip_address

from aiohttp import web

from handoff.config import Network


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in proxies)


def client_address(request: web.Request, trusted_proxies: tuple[Network, ...]) -> str:
    peer = request.remote or "unknown"
    if not trusted_proxies or not _trusted(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted_proxies):
            return hop
    return hops[0] if hops else peer
