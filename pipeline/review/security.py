"""Who may use the review server, and protection of its changes against cross-site requests.

- Host check: on a loopback bind only loopback host names are answered (a page on another site
  cannot reach the server by pointing its own domain name at 127.0.0.1).
- Access token: any other bind needs the token printed at start: `/?token=...` once, then a
  cookie (HttpOnly, SameSite=Strict). Without it every request is refused.
- Changes (POST) need the page's per-server CSRF token in the `X-Review-Token` header, a JSON
  body, and an `Origin`, when the browser sends one, equal to the server's own.
- Every answer forbids loading anything from outside (Content-Security-Policy) and framing.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

COOKIE = "instructpipe_review"
CSRF_HEADER = "x-review-token"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-store"}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Guard:
    host: str
    port: int = 0
    access_token: str | None = None            # None on loopback binds
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def for_bind(cls, host: str) -> Guard:
        return cls(host, access_token=None if is_loopback(host) else secrets.token_urlsafe(24))

    def host_ok(self, request: Request) -> bool:
        if self.access_token is not None:
            return True  # any name may reach a public bind; the token decides
        name = request.headers.get("host", "")
        hostname = name.rsplit(":", 1)[0] if not name.endswith("]") else name
        return hostname in LOOPBACK_NAMES

    def check(self, request: Request) -> Response | None:
        """A refusal for a request that may not proceed, or None."""
        if not self.host_ok(request):
            return PlainTextResponse("forbidden: unknown Host", status_code=403)
        if self.access_token is not None:
            given = request.query_params.get("token")
            if given is not None and request.method == "GET" and hmac.compare_digest(given, self.access_token):
                resp = RedirectResponse(request.url.path or "/", status_code=303)
                resp.set_cookie(COOKIE, self.access_token, httponly=True, samesite="strict")
                return resp
            cookie = request.cookies.get(COOKIE, "")
            if not hmac.compare_digest(cookie, self.access_token):
                return PlainTextResponse("forbidden: this review server needs the token printed at its "
                                         "start (open the URL with ?token=...)", status_code=403)
        if request.method not in ("GET", "HEAD"):
            return self.check_change(request)
        return None

    def check_change(self, request: Request) -> Response | None:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, self.csrf_token):
            return PlainTextResponse("forbidden: missing or wrong X-Review-Token (changes come from the "
                                     "review page)", status_code=403)
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
            return PlainTextResponse("forbidden: cross-origin request", status_code=403)
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return PlainTextResponse("forbidden: cross-site request", status_code=403)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return PlainTextResponse("unsupported media type: send JSON", status_code=415)
        return None
