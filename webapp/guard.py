"""BrowserKeyMiddleware: the HTTP edge of the app. It gives every browser its key cookie, replaces the key on
request (login, logout), and refuses uploads from anyone who is not a logged-in instructor.

Why here and not in a handler: a Gradio event handler cannot set a cookie (its reply travels in the queue's
event stream), and ``/gradio_api/upload`` is a plain route that runs no handler at all: before this guard it
took anonymous files of up to ``max_upload_mb`` each, as many as a client sent. The student page takes no
files, so only a browser whose key holds a live instructor login may upload.

A pure ASGI middleware (not Starlette's ``BaseHTTPMiddleware``) so that the queue's event streams pass through
unbuffered.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from http.cookies import CookieError, SimpleCookie
from typing import Any, Awaitable, Callable

from webapp.auth import InstructorAuth

log = logging.getLogger(__name__)

COOKIE = "tutor_browser"
# Kept across browser restarts (a cookie without Max-Age ends with the browser session), because a student's
# kept conversations belong to this key (``tutor.conversations``). It binds no instructor login beyond the
# server's own expiry of that login. 400 days is the longest lifetime Chromium accepts.
KEY_MAX_AGE_S = 400 * 24 * 3600
ROTATE_PATH = "/tutor/browser-key"  # POST: a fresh key (the old one's login, if any, is revoked)
UPLOAD_REFUSED = "Uploads are for logged-in instructors only: log in on the Instructor tab first."

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


def browser_key(cookie_header: str | None) -> str | None:
    """The browser key in a ``Cookie`` header, or None (absent, malformed)."""
    if not cookie_header:
        return None
    try:
        morsel = SimpleCookie(cookie_header).get(COOKIE)
    except CookieError:
        return None
    value = morsel.value if morsel else ""
    return value if len(value) >= 32 and value.isalnum() else None


def request_browser_key(request: Any) -> str | None:
    """The browser key of a ``gr.Request`` (None when there is no request: a call from Python, not HTTP)."""
    headers = getattr(request, "headers", None)
    return browser_key(headers.get("cookie") if headers is not None else None)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _is_https(scope: Scope) -> bool:
    """HTTPS here or at the reverse proxy in front (``X-Forwarded-Proto``): then the cookie is Secure."""
    return scope.get("scheme") == "https" or (_header(scope, b"x-forwarded-proto") or "").split(",")[0].strip() == "https"


def set_cookie_header(key: str, secure: bool) -> tuple[bytes, bytes]:
    """The ``Set-Cookie`` header for a browser key: HttpOnly (page scripts cannot read it), SameSite=Strict
    (no other site's page can make the browser send it), Secure behind HTTPS, for the whole site, kept
    ``KEY_MAX_AGE_S`` (a student's history survives closing the browser)."""
    value = (f"{COOKIE}={key}; Path=/; Max-Age={KEY_MAX_AGE_S}; HttpOnly; SameSite=Strict"
             + ("; Secure" if secure else ""))
    return b"set-cookie", value.encode("latin-1")


class _RefusalLog:
    """Logs refused uploads without letting a flood flood the log: the first refusal per client, then one
    line per ``every`` more (with the count)."""

    def __init__(self, every: int = 100):
        self.every, self._counts, self._lock = every, {}, threading.Lock()

    def refused(self, client: str, path: str) -> None:
        with self._lock:
            if len(self._counts) > 4096:
                self._counts.clear()
            n = self._counts[client] = self._counts.get(client, 0) + 1
        if n == 1 or n % self.every == 0:
            log.warning("upload refused (%s from %s, not a logged-in instructor; %d refused from it so far)", path, client, n)


class BrowserKeyMiddleware:
    """ASGI middleware around the Gradio app; ``auth`` None (console disabled) refuses every upload."""

    def __init__(self, app: Callable, auth: InstructorAuth | None = None):
        self.app, self.auth = app, auth
        self.refusals = _RefusalLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        key = browser_key(_header(scope, b"cookie"))
        secure = _is_https(scope)
        if path.endswith(ROTATE_PATH) and method == "POST":
            if self.auth is not None:
                self.auth.revoke(key)
            await self._reply(send, 204, None, [set_cookie_header(secrets.token_hex(32), secure)])
            return
        if method == "POST" and path.rstrip("/").endswith("/upload") and not (self.auth and self.auth.is_logged_in(key)):
            client = (scope.get("client") or ("unknown",))[0]
            self.refusals.refused(client, path)
            await self._reply(send, 403, {"detail": UPLOAD_REFUSED}, [])
            return
        if key is not None:
            await self.app(scope, receive, send)
            return
        fresh = set_cookie_header(secrets.token_hex(32), secure)

        async def send_with_cookie(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), fresh]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    @staticmethod
    async def _reply(send: Send, status: int, body: dict | None, headers: list[tuple[bytes, bytes]]) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        head = [*headers] + ([(b"content-type", b"application/json")] if body is not None else [])
        await send({"type": "http.response.start", "status": status, "headers": head + [(b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})
