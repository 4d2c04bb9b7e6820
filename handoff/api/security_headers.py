"""What browsers are told our responses may do: one place for the security headers.

Every response is `nosniff`, keeps referrers to the origin, and names no server
version. Our own pages get a Content-Security-Policy: the console runs only its
own script and cannot be framed (it holds customers' conversations); the demo
shop allows the inline styles the widget's Shadow DOM needs. The widget script
itself is fetched by brands' sites: it may be loaded cross-origin, and what it
can do there is bounded by CORS on the visitor API (`relais.widget.allowed_origins`).
"""

from __future__ import annotations

from aiohttp import web

_COMMON = "object-src 'none'; base-uri 'none'; form-action 'self'"
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    f"connect-src 'self'; {_COMMON}; frame-ancestors 'none'"
)
DEMO_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    f"connect-src 'self'; {_COMMON}; frame-ancestors 'self'"
)
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
SERVER_NAME = "Relais"


def policy_for(path: str) -> tuple[str | None, str | None]:
    """(Content-Security-Policy, X-Frame-Options) for a path; None where the page
    is not ours to constrain (a test's host page standing for a brand's site)."""
    if path == "/console" or path.startswith("/console/"):
        return CONSOLE_CSP, "DENY"
    if path == "/" or path.startswith("/demo/"):
        return DEMO_CSP, "SAMEORIGIN"
    if path.startswith(("/api/", "/ws/")):
        return DATA_CSP, "DENY"
    return None, None


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers["Server"] = SERVER_NAME
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    csp, framing = policy_for(request.path)
    if csp is not None:
        headers.setdefault("Content-Security-Policy", csp)
    if framing is not None:
        headers.setdefault("X-Frame-Options", framing)
    if request.path.startswith("/widget/"):
        headers.setdefault("Cross-Origin-Resource-Policy", "cross-origin")


def install(app: web.Application) -> None:
    app.on_response_prepare.append(add_security_headers)
