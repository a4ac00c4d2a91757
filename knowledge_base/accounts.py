"""Instructor accounts, the courses each may change, and which courses students see: three tables of the
knowledge base's SQLite file (namespace ``accounts``), shared by ``tutor admin`` and the web app's console.

Why passwords are argon2 hashes: the database file travels in backups and copies of the data directory, and a
password read from it would open the console (and, people being people, other sites). argon2id (argon2-cffi,
RFC 9106's low-memory profile by default) costs a guesser ~0.1 s and 64 MiB per try; the hash string carries
its salt and parameters, so stronger settings later apply to each account at its next login (rehash).

Why "published" is a row of its own and not a column of ``courses``: a course is published unless an admin
unpublished it, so every course of a database from before accounts stays in the students' picker, and so do
the courses that ``tutor kb add`` and an admin's upload create, as before. Only a course an admin creates
empty (``create_course``) starts unpublished, so students never pick a course with nothing in it.

The rules every caller gets (console and CLI alike, because both call these functions): a username of letters,
digits and ``._@-`` (case-insensitive: "Alice" and "alice" are one account); a password that is not blank, not
one character repeated and at least ``min_password_length`` long; an account's courses must exist; and the
last admin cannot be removed or demoted. Each write checks everything first and writes in one transaction:
a refusal changes nothing. Nothing here logs or stores a password.
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from basics.db import Database, register_migrations
from basics.errors import TutorError
from basics.text import lone_surrogate
from knowledge_base.store import now

if TYPE_CHECKING:
    from knowledge_base.facade import KnowledgeBase

log = logging.getLogger(__name__)


class AccountError(TutorError):
    """An account or course change that cannot be made (unknown name, weak password, last admin...); nothing
    was changed."""


@dataclass(frozen=True)
class AccountsConfig:
    """How account passwords are checked and hashed (argon2id; the defaults are argon2-cffi's own)."""

    min_password_length: int = field(default=12, metadata={"help": "Shortest password an account may have."})
    time_cost: int = field(default=3, metadata={"help": "argon2 passes over memory per hash."})
    memory_kib: int = field(default=65536, metadata={"help": "argon2 memory per hash, in KiB (64 MiB)."})
    parallelism: int = field(default=4, metadata={"help": "argon2 lanes per hash."})

    def hasher(self) -> PasswordHasher:
        return _hasher(self)


@functools.lru_cache(maxsize=8)
def _hasher(config: AccountsConfig) -> PasswordHasher:
    return PasswordHasher(time_cost=config.time_cost, memory_cost=config.memory_kib, parallelism=config.parallelism)


@functools.lru_cache(maxsize=8)
def _decoy_hash(config: AccountsConfig) -> str:
    """A hash no password matches, verified for an unknown username so that its login takes as long as a
    known one's (the time of an answer must not tell which usernames exist)."""
    return config.hasher().hash("decoy password that no account holds")


@dataclass(frozen=True)
class Account:
    """Who a console user is. ``courses``: the courses the account may change (an admin may change all).
    ``configured``: the instructor set in the app's environment, an admin kept outside the database."""

    username: str
    is_admin: bool = False
    courses: tuple[str, ...] = ()
    created_at: str = ""
    configured: bool = False

    def may_change(self, course: str) -> bool:
        return self.is_admin or course in self.courses


@dataclass(frozen=True)
class CourseSummary:
    """A course as the admin's list shows it."""

    name: str
    title: str
    published: bool = True
    instructors: tuple[str, ...] = ()


def _m001_accounts(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE accounts (username TEXT PRIMARY KEY COLLATE NOCASE, password_hash TEXT NOT NULL, "
                 "is_admin INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL)")
    conn.execute("CREATE TABLE account_courses (username TEXT NOT NULL COLLATE NOCASE REFERENCES accounts(username) "
                 "ON DELETE CASCADE, course_id INTEGER NOT NULL REFERENCES courses(id) ON DELETE CASCADE, "
                 "PRIMARY KEY (username, course_id))")
    conn.execute("CREATE TABLE course_publication (course_id INTEGER PRIMARY KEY REFERENCES courses(id) ON DELETE "
                 "CASCADE, published INTEGER NOT NULL, changed_at TEXT NOT NULL)")


register_migrations("accounts", [("001_accounts", _m001_accounts)])


def ensure_schema(db: Database) -> None:
    """Create / upgrade the tables (idempotent; needs the knowledge base's ``courses``, migrated when it opens)."""
    db.migrate("accounts")


# ------------------------------------------------------------------------------------------------ checks

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def check_username(username: str) -> str:
    """``username`` if usable, else ``AccountError`` (it goes into login tokens, so no ``|`` or spaces)."""
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise AccountError(f"the username {username!r} is not valid: use letters, digits, '.', '_', '@' or '-' "
                           "(at most 64, starting with a letter or digit)")
    return username


def password_problem(password: str, min_length: int) -> str | None:
    """Why ``password`` is too easy to guess, as the end of "The password ... is ___", or None when it will do.
    The web app's configured instructor password is held to the same rules (``AppConfig.check``)."""
    if not isinstance(password, str) or lone_surrogate(password) is not None:
        return "not valid text (it holds a lone UTF-16 surrogate)"
    if not password.strip():
        return "blank: anyone could guess it"
    if len(set(password)) == 1:
        return "one character repeated: anyone could guess it"
    if len(password) < min_length:
        return f"{len(password)} characters long; the instructor console needs at least {min_length}"
    return None


def hash_password(username: str, password: str, config: AccountsConfig) -> str:
    problem = password_problem(password, config.min_password_length)
    if problem:
        raise AccountError(f"The password for {username} is {problem}. Choose a longer one of several different "
                           "characters (a few random words); nothing was changed.")
    return config.hasher().hash(password)


# ----------------------------------------------------------------------------------------------- reading


def _courses_of(db: Database, username: str) -> tuple[str, ...]:
    rows = db.query("SELECT c.name FROM account_courses a JOIN courses c ON c.id = a.course_id "
                    "WHERE a.username = ? ORDER BY c.name", (username,))
    return tuple(r["name"] for r in rows)


def get_account(db: Database, username: str) -> Account | None:
    """The account named ``username`` (any letter case), or None."""
    if not isinstance(username, str) or not _USERNAME.match(username):
        return None
    rows = db.query("SELECT username, is_admin, created_at FROM accounts WHERE username = ?", (username,))
    if not rows:
        return None
    name = rows[0]["username"]
    return Account(name, bool(rows[0]["is_admin"]), _courses_of(db, name), rows[0]["created_at"])


def require_account(db: Database, username: str) -> Account:
    """The account named ``username``, or ``AccountError`` naming those there are."""
    found = get_account(db, username)
    if found is None:
        raise _unknown_account(db, username)
    return found


def _unknown_account(conn: "Database | sqlite3.Connection", username: str) -> AccountError:
    names = [r[0] for r in conn.execute("SELECT username FROM accounts ORDER BY username").fetchall()]
    return AccountError(f"There is no account {username!r}. Accounts: {', '.join(names) or 'none'}.")


def list_accounts(db: Database) -> list[Account]:
    return [get_account(db, r["username"]) for r in db.query("SELECT username FROM accounts ORDER BY username")]


def count_accounts(db: Database) -> int:
    return int(db.query("SELECT COUNT(*) FROM accounts")[0][0])


def verify_password(db: Database, username: str, password: str, config: AccountsConfig = AccountsConfig()) -> str | None:
    """The account's name when ``password`` is its password, else None. An unknown name costs the same
    argon2 work as a known one; a hash made with weaker settings than ``config``'s is replaced."""
    rows = db.query("SELECT username, password_hash FROM accounts WHERE username = ?",
                    (username,)) if isinstance(username, str) and _USERNAME.match(username) else []
    stored = rows[0]["password_hash"] if rows else _decoy_hash(config)
    hasher = config.hasher()
    try:
        hasher.verify(stored, password if isinstance(password, str) else "")
    except (VerificationError, InvalidHashError, UnicodeEncodeError):
        return None
    if not rows:
        return None
    name = rows[0]["username"]
    if hasher.check_needs_rehash(stored):
        db.execute("UPDATE accounts SET password_hash = ? WHERE username = ?", (hasher.hash(password), name))
    return name


# ----------------------------------------------------------------------------------------------- writing


def _course_ids(conn: sqlite3.Connection, courses: Iterable[str]) -> dict[str, int]:
    """Course name -> id for each of ``courses``; ``AccountError`` naming the first that does not exist."""
    known = {r["name"]: r["id"] for r in conn.execute("SELECT id, name FROM courses")}
    for course in courses:
        if course not in known:
            raise AccountError(f"There is no course {course!r}: an admin creates it first (`tutor admin course add "
                               f"{course}` or the console's Admin tab). Courses: {', '.join(sorted(known)) or 'none'}.")
    return {course: known[course] for course in courses}


def _keep_an_admin(conn: sqlite3.Connection, username: str, other_admins: int) -> None:
    """Refuse to take admin rights from ``username`` when no other admin would be left: nobody could then
    create courses or accounts (``other_admins``: admins outside the database, such as the configured one)."""
    others = conn.execute("SELECT COUNT(*) FROM accounts WHERE is_admin = 1 AND username != ?", (username,)).fetchone()[0]
    if others + other_admins == 0:
        raise AccountError(f"{username} is the last admin: without one, nobody could create courses or accounts. "
                           "Make another account an admin first (`tutor admin account add NAME --admin`, or tick "
                           "Admin on the console's Admin tab); nothing was changed.")


def save_account(db: Database, username: str, *, password: str | None = None, admin: bool | None = None,
                 courses: Iterable[str] | None = None, create: bool = False, other_admins: int = 0,
                 config: AccountsConfig = AccountsConfig()) -> Account:
    """Create (``create=True``) or change an account: its password, admin flag and courses (None: keep; a
    new account needs a password; ``courses`` replaces the account's list). Everything is checked before
    anything is written, then written in one transaction."""
    check_username(username)
    courses = None if courses is None else sorted(set(courses))
    hashed = hash_password(username, password, config) if password is not None else None  # slow: not under the lock
    with db.transaction() as conn:
        row = conn.execute("SELECT username, is_admin FROM accounts WHERE username = ?", (username,)).fetchone()
        if create and row is not None:
            raise AccountError(f"There is already an account {row['username']}: change it instead of creating it.")
        if not create and row is None:
            raise _unknown_account(conn, username)
        if create and password is None:
            raise AccountError(f"A new account needs a password: none was given for {username}.")
        name = row["username"] if row is not None else username
        ids = _course_ids(conn, courses) if courses is not None else None
        if row is not None and row["is_admin"] and admin is False:
            _keep_an_admin(conn, name, other_admins)
        if row is None:
            conn.execute("INSERT INTO accounts (username, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?)",
                         (name, hashed, int(bool(admin)), now()))
        else:
            if hashed is not None:
                conn.execute("UPDATE accounts SET password_hash = ? WHERE username = ?", (hashed, name))
            if admin is not None:
                conn.execute("UPDATE accounts SET is_admin = ? WHERE username = ?", (int(admin), name))
        if ids is not None:
            conn.execute("DELETE FROM account_courses WHERE username = ?", (name,))
            conn.executemany("INSERT INTO account_courses (username, course_id) VALUES (?, ?)",
                             [(name, cid) for cid in ids.values()])
    log.info("account %s %s", name, "created" if row is None else "changed")
    return get_account(db, name)


def remove_account(db: Database, username: str, other_admins: int = 0) -> None:
    """Delete an account (its course assignments go with it); refused for the last admin."""
    with db.transaction() as conn:
        row = conn.execute("SELECT username, is_admin FROM accounts WHERE username = ?", (username,)).fetchone()
        if row is None:
            raise _unknown_account(conn, username)
        if row["is_admin"]:
            _keep_an_admin(conn, row["username"], other_admins)
        conn.execute("DELETE FROM accounts WHERE username = ?", (row["username"],))
    log.info("account %s removed", row["username"])


# ------------------------------------------------------------------------------------------------ courses


def unpublished_courses(db: Database) -> set[str]:
    """The courses an admin has unpublished (or created and not yet published): students do not see them."""
    rows = db.query("SELECT c.name FROM course_publication p JOIN courses c ON c.id = p.course_id WHERE p.published = 0")
    return {r["name"] for r in rows}


def set_published(db: Database, course: str, published: bool) -> None:
    """Show ``course`` to students, or hide it from them (its documents, FAQ and instructors stay)."""
    with db.transaction() as conn:
        cid = _course_ids(conn, [course])[course]
        conn.execute("INSERT INTO course_publication (course_id, published, changed_at) VALUES (?, ?, ?) "
                     "ON CONFLICT (course_id) DO UPDATE SET published = excluded.published, changed_at = excluded.changed_at",
                     (cid, int(published), now()))
    log.info("course %s %s", course, "published" if published else "unpublished")


def create_course(kb: "KnowledgeBase", course: str, title: str = "", publish: bool = False) -> CourseSummary:
    """An empty course an admin creates so that instructors can be given it before it holds anything;
    unpublished unless ``publish`` (students would find nothing in it yet)."""
    kb.create_course(course, title)
    set_published(kb.db, course, publish)
    return next(c for c in course_summaries(kb) if c.name == course)


def course_summaries(kb: "KnowledgeBase") -> list[CourseSummary]:
    """Every course with its title, whether students see it, and its instructors (accounts), by course id."""
    hidden = unpublished_courses(kb.db)
    rows = kb.db.query("SELECT c.name, a.username FROM account_courses a JOIN courses c ON c.id = a.course_id "
                       "ORDER BY a.username")
    instructors: dict[str, list[str]] = {}
    for r in rows:
        instructors.setdefault(r["name"], []).append(r["username"])
    return [CourseSummary(name, title, name not in hidden, tuple(instructors.get(name, ())))
            for name, title in kb.course_titles().items()]
