"""Instructor authentication: the password check and login tokens.

Why tokens: Gradio serves every event handler over HTTP (``/gradio_api/queue/join`` with an ``fn_index``),
whether or not its button is visible, so hiding the console is no guard. A login checked here puts a signed,
expiring token into the session's ``gr.State`` (held on the server, never sent by the client), and every
console handler verifies it first. A student's session has no token, so each console call is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

from webapp.config import AppConfig

log = logging.getLogger(__name__)

Clock = Callable[[], float]


# ------------------------------------------------------------------------------------------------ tokens


def _sign(secret: bytes, payload: str) -> str:
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


def make_token(secret: bytes, user: str, hours: float, now: float | None = None) -> str:
    """A login token ``user|expiry|signature``; only this server (which holds ``secret``) can mint one."""
    payload = f"{user}|{int((time.time() if now is None else now) + hours * 3600)}"
    return f"{payload}|{_sign(secret, payload)}"


def token_user(secret: bytes, token: Any, now: float | None = None) -> str | None:
    """The instructor a token belongs to, or None for a missing, forged or expired token."""
    if not isinstance(token, str) or token.count("|") != 2:
        return None
    user, expiry, sig = token.split("|")
    if not hmac.compare_digest(sig, _sign(secret, f"{user}|{expiry}")):
        return None
    if not expiry.isdigit() or int(expiry) < (time.time() if now is None else now):
        return None
    return user


# -------------------------------------------------------------------------------------------------- auth

WRONG = "Wrong user name or password."


@dataclass(frozen=True)
class LoginResult:
    """A login's outcome: ``token`` for the session state (None when refused) and the message to show."""

    token: str | None
    message: str
    user: str | None = None


class InstructorAuth:
    """Who may use the console: checks the configured login, mints and verifies tokens.

    ``clock`` (tokens' expiry) and ``sleep`` (the pause after a wrong password) are injectable for tests.
    """

    def __init__(self, user: str, password: str, *, session_hours: float = 8.0, failure_delay_s: float = 1.0,
                 clock: Clock = time.time, sleep: Callable[[float], None] = time.sleep, secret: bytes | None = None):
        self._user, self._password = user, password
        self.session_hours, self.failure_delay_s = session_hours, failure_delay_s
        self.clock, self._sleep = clock, sleep
        self._secret = secret or secrets.token_bytes(32)  # per process: a restart logs every instructor out

    @classmethod
    def from_config(cls, config: AppConfig, clock: Clock = time.time,
                    sleep: Callable[[float], None] = time.sleep) -> "InstructorAuth":
        """The auth of an enabled console."""
        return cls(config.instructor_user or "", config.instructor_password or "", session_hours=config.session_hours,
                   failure_delay_s=config.login_failure_delay_s, clock=clock, sleep=sleep)

    def login(self, user: str, password: str, client: str = "unknown") -> LoginResult:
        """Check one login from ``client`` (its address); a wrong password answers after a pause (slows guessing)."""
        ok_user = hmac.compare_digest((user or "").encode(), self._user.encode())
        ok_pass = hmac.compare_digest((password or "").encode(), self._password.encode())
        if ok_user and ok_pass and self._user and self._password:
            log.info("instructor %s logged in from %s", user, client)
            return LoginResult(make_token(self._secret, user, self.session_hours, self.clock()), f"Logged in as **{user}**.", user)
        self._sleep(self.failure_delay_s)
        return LoginResult(None, WRONG)

    def user_of(self, token: Any) -> str | None:
        """The instructor a session's token proves, or None (no token, forged, expired)."""
        return token_user(self._secret, token, self.clock())
