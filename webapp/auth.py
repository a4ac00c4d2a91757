"""Instructor authentication: the password check with per-client backoff and lockout, login tokens, and the
browser key that binds a login to the one browser that made it.

Why tokens: Gradio serves every event handler over HTTP (``/gradio_api/queue/join`` with an ``fn_index``),
whether or not its button is visible, so hiding the console is no guard. A login checked here puts a signed,
expiring token into the session's ``gr.State`` (held on the server, never sent by the client), and every
console handler verifies it first. A student's session has no token, so each console call is refused.

Why a browser key as well: the server finds a session's State by its ``session_hash``, which the client
chooses and sends in every request body and in the URL of ``/gradio_api/queue/data`` (so proxy logs hold
it). Whoever learns it would share the instructor's State. So each browser gets a random key in an HttpOnly,
SameSite=Strict cookie (``BrowserKeyMiddleware``, Secure behind HTTPS); a login binds its token to a digest of
that key, and a console call counts only with the same cookie. The key is replaced at login and at logout
(the page calls ``ROTATE_PATH`` first), and logging out revokes the binding on the server.

Why a throttle: the console can change what every student is told, so its password is worth guessing.
Each wrong password in a row from one client address doubles the pause before that client may try again
(1, 2, 4, 8 s by default); after ``max_failures`` of them the client is locked out, for a period that doubles
with each further failure, and while locked even the right password is refused. An attempt is counted
under a lock *before* its password is compared (and the count cleared if it was right), so guesses sent in
parallel see each other: at most ``max_failures`` of them are ever compared before the lockout starts.

The client is the TCP peer address. Behind a reverse proxy every student shares the proxy's address, and
a guesser's lockout then also locks the instructor out until it expires (the price of not trusting a
spoofable ``X-Forwarded-For``).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import math
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from webapp.config import AppConfig

if TYPE_CHECKING:
    from webapp.access import CourseAccess

log = logging.getLogger(__name__)

Clock = Callable[[], float]


# ------------------------------------------------------------------------------------------------ tokens


def _sign(secret: bytes, payload: str) -> str:
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


def browser_digest(browser_key: str | None) -> str:
    """What a token stores of the browser key: a digest, so that a token seen in a log does not give the key."""
    return hashlib.sha256((browser_key or "").encode()).hexdigest()[:32]


def make_token(secret: bytes, user: str, hours: float, now: float | None = None, browser_key: str = "") -> str:
    """A login token ``user|expiry|browser|signature`` bound to ``browser_key``; only this server (which holds
    ``secret``) can mint one."""
    payload = f"{user}|{int((time.time() if now is None else now) + hours * 3600)}|{browser_digest(browser_key)}"
    return f"{payload}|{_sign(secret, payload)}"


def token_user(secret: bytes, token: Any, now: float | None = None, browser_key: str = "") -> str | None:
    """The instructor a token belongs to, or None for a missing, forged or expired token, or one presented
    with another browser key than the one it was minted for."""
    if not isinstance(token, str) or token.count("|") != 3:
        return None
    user, expiry, browser, sig = token.split("|")
    if not hmac.compare_digest(sig, _sign(secret, f"{user}|{expiry}|{browser}")):
        return None
    if not expiry.isdigit() or int(expiry) < (time.time() if now is None else now):
        return None
    if not hmac.compare_digest(browser, browser_digest(browser_key)):
        return None
    return user


# ---------------------------------------------------------------------------------------------- throttle


@dataclass
class _Record:
    failures: int = 0  # wrong passwords in a row (an attempt in progress counts until it proves right)
    blocked_until: float = 0.0  # clock time before which the client's attempts are refused unchecked


@dataclass(frozen=True)
class Attempt:
    """What the throttle decided about one login attempt."""

    admitted: bool  # False: refused without comparing the password (the client is paused or locked)
    wait_s: float  # refused: seconds until the client may try again; admitted: its pause if the password is wrong
    lockout: bool  # the wait is a lockout (``max_failures`` reached), not a backoff pause
    retry_at: float  # clock time at which the wait ends


class LoginThrottle:
    """Per-client count of wrong passwords in a row, with a growing pause and then a growing lockout.

    A client that makes no attempt for ``max_lockout_s`` after its last pause or lockout ended starts afresh
    (so does one that logs in). Thread-safe: Gradio runs login handlers in a thread pool, and an attacker
    sends guesses in parallel.
    """

    def __init__(self, delay_s: float = 1.0, max_failures: int = 5, lockout_s: float = 60.0,
                 max_lockout_s: float = 3600.0, clock: Clock = time.time):
        self.delay_s, self.max_failures = delay_s, max(1, max_failures)
        self.lockout_s, self.max_lockout_s = lockout_s, max(lockout_s, max_lockout_s)
        self.clock = clock
        self._clients: dict[str, _Record] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: AppConfig, clock: Clock = time.time) -> "LoginThrottle":
        return cls(config.login_failure_delay_s, config.login_max_failures, config.login_lockout_s,
                   config.login_max_lockout_s, clock)

    def penalty(self, failures: int) -> float:
        """Seconds a client waits after ``failures`` wrong passwords in a row (a lockout from ``max_failures``)."""
        if failures >= self.max_failures:
            return min(self.lockout_s * 2 ** (failures - self.max_failures), self.max_lockout_s)
        return min(self.delay_s * 2 ** (failures - 1), self.lockout_s) if failures > 0 else 0.0

    def admit(self, client: str) -> Attempt:
        """Refuse ``client`` while it is paused or locked; otherwise count this attempt as a failure now (so a
        parallel attempt sees it) and start the pause it earns, until ``succeeded`` clears the count."""
        with self._lock:
            now = self.clock()
            self._forget_old(now)
            record = self._clients.get(client)
            if record is None or record.blocked_until + self.max_lockout_s < now:
                record = self._clients[client] = _Record()  # new, or quiet long enough to start afresh
            if record.blocked_until > now:
                wait = record.blocked_until - now
                return Attempt(False, wait, record.failures >= self.max_failures, record.blocked_until)
            record.failures += 1
            wait = self.penalty(record.failures)
            record.blocked_until = now + wait
            return Attempt(True, wait, record.failures >= self.max_failures, record.blocked_until)

    def succeeded(self, client: str) -> None:
        """The attempt had the right password: the client starts afresh."""
        with self._lock:
            self._clients.pop(client, None)

    def failures(self, client: str) -> int:
        with self._lock:
            record = self._clients.get(client)
            return record.failures if record else 0

    def _forget_old(self, now: float) -> None:
        """Drop the clients that would start afresh anyway, once there are many (bounded memory)."""
        if len(self._clients) > 1024:
            for key in [k for k, r in self._clients.items() if r.blocked_until + self.max_lockout_s < now]:
                del self._clients[key]


def _duration(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    return f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"


# -------------------------------------------------------------------------------------------------- auth


def _utf8(text: Any) -> bytes:
    """A typed user name or password as bytes to compare (a lone surrogate cannot match: it is replaced)."""
    return (text if isinstance(text, str) else "").encode("utf-8", "replace")

WRONG = "Wrong user name or password."
NO_BROWSER_KEY = ("Your browser sent no session cookie, which instructor login needs: reload the page (and allow "
                  "cookies for this site), then log in again.")


@dataclass(frozen=True)
class LoginResult:
    """A login's outcome: ``token`` for the session state (None when refused) and the message to show."""

    token: str | None
    message: str
    user: str | None = None


class InstructorAuth:
    """Who may use the console: checks a login (throttled per client) against the configured instructor and,
    given ``accounts``, the database's accounts (argon2); mints and verifies tokens, and keeps which browser
    keys hold a live login (revoked by logout, by rotating the key, or by the account being removed).

    ``clock`` (tokens' expiry, the throttle) and ``sleep`` (the backoff pause) are injectable so that tests
    can let a lockout expire without waiting for it.
    """

    def __init__(self, user: str, password: str, *, session_hours: float = 8.0, throttle: LoginThrottle | None = None,
                 clock: Clock = time.time, sleep: Callable[[float], None] = time.sleep, secret: bytes | None = None,
                 accounts: "CourseAccess | None" = None):
        self._user, self._password = user, password
        self.accounts = accounts
        self.session_hours = session_hours
        self.clock, self._sleep = clock, sleep
        self.throttle = throttle or LoginThrottle(clock=clock)
        self._secret = secret or secrets.token_bytes(32)  # per process: a restart logs every instructor out
        self._live: dict[str, tuple[float, str]] = {}  # browser digest -> (expiry, user) of the login bound to it
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: AppConfig, clock: Clock = time.time, sleep: Callable[[float], None] = time.sleep,
                    accounts: "CourseAccess | None" = None) -> "InstructorAuth":
        """The auth of an enabled console; ``ConfigError`` for a password too short (``AppConfig.check``)."""
        config.check()
        return cls(config.instructor_user or "", config.instructor_password or "", session_hours=config.session_hours,
                   throttle=LoginThrottle.from_config(config, clock), clock=clock, sleep=sleep, accounts=accounts)

    def login(self, user: str, password: str, client: str = "unknown", browser_key: str | None = None) -> LoginResult:
        """Check one login from ``client`` (its address) in the browser holding ``browser_key``. A wrong
        password answers after the client's backoff pause; a paused or locked client is refused without its
        password being compared; a caller without a browser key is refused before anything is counted."""
        if not browser_key:
            log.warning("instructor login from %s refused: no browser key cookie", client)
            return LoginResult(None, NO_BROWSER_KEY)
        attempt = self.throttle.admit(client)
        if not attempt.admitted:
            log.warning("instructor login from %s refused unchecked (%s)", client, "locked" if attempt.lockout else "paused")
            return LoginResult(None, self._wait_message(attempt))
        ok_user = hmac.compare_digest(_utf8(user), self._user.encode())
        ok_pass = hmac.compare_digest(_utf8(password), self._password.encode())
        # the accounts are asked whatever the name (the configured one included: a decoy hash), so that the time
        # of an answer does not tell which user names exist
        account = self.accounts.verify(user, password) if self.accounts is not None else None
        name = self._user if ok_user and ok_pass and self._user and self._password else account
        if name:
            self.throttle.succeeded(client)
            now = self.clock()
            with self._lock:
                self._live = {k: v for k, v in self._live.items() if v[0] > now}  # expired logins: forget them
                self._live[browser_digest(browser_key)] = (now + self.session_hours * 3600, name)
            log.info("instructor %s logged in from %s", name, client)
            token = make_token(self._secret, name, self.session_hours, now, browser_key)
            return LoginResult(token, f"Logged in as **{html.escape(name)}**.", name)
        log.warning("wrong instructor login from %s (%d in a row)", client, self.throttle.failures(client))
        if attempt.lockout:
            return LoginResult(None, f"{WRONG} {self._wait_message(attempt)}")
        if attempt.wait_s > 0:
            self._sleep(attempt.wait_s)  # the page answers when the client may try again
        return LoginResult(None, WRONG)

    def user_of(self, token: Any, browser_key: str | None) -> str | None:
        """The instructor a session's token proves when presented from ``browser_key``, or None (no token,
        forged, expired, logged out, another browser (a replayed session id without the cookie), or an account
        removed since)."""
        if not browser_key or not self.is_logged_in(browser_key):
            return None
        return token_user(self._secret, token, self.clock(), browser_key)

    def is_logged_in(self, browser_key: str | None) -> bool:
        """Whether ``browser_key`` holds a live instructor login whose account still exists (the upload guard
        asks this)."""
        with self._lock:
            expiry, user = self._live.get(browser_digest(browser_key), (0.0, "")) if browser_key else (0.0, "")
        if expiry <= self.clock():
            return False
        return self.accounts is None or self.accounts.who(user) is not None

    def revoke(self, browser_key: str | None) -> None:
        """End the login bound to ``browser_key`` (logout, or the key being replaced)."""
        if browser_key:
            with self._lock:
                if self._live.pop(browser_digest(browser_key), None) is not None:
                    log.info("instructor login revoked (logout or new browser key)")

    def _wait_message(self, attempt: Attempt) -> str:
        if not attempt.lockout:
            return f"Too many login attempts: wait {_duration(attempt.wait_s)} and try again."
        when = datetime.fromtimestamp(attempt.retry_at, timezone.utc).strftime("%H:%M:%S UTC")
        return (f"Too many wrong passwords from your address: instructor login is locked for {_duration(attempt.wait_s)}. "
                f"Try again after {when}.")
