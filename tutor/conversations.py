"""The conversations a student keeps: one row per conversation, in the knowledge base's SQLite file (namespace
``conversations``), owned by an anonymous id derived from the browser's key.

Why an owner id and not the key: the browser key (``webapp.guard``, an HttpOnly cookie no page script can read)
also binds instructor logins, so it must not sit in the database in the clear, where a backup or a log of a
query would hand it out. The owner id is HMAC-SHA256 of the key under a random secret made once per database
(migration 001): the same browser finds its rows again after a reload or a restart, nobody can turn an owner
id back into a key, and the id differs from the key's digest in an instructor token (``webapp.auth``), so the
two cannot be matched. A browser without a key has no owner id and keeps nothing; a forged key is just
another, empty owner. A student who clears cookies gets a new key, so a new, empty history.

Every read and write below takes the owner and matches it in SQL (``WHERE owner = ?``): a conversation id
alone opens nothing. Turns are checked and encoded before anything is written, so a bad or oversized
conversation is refused with a message and the stored row keeps what it had.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone

from basics.db import Database, register_migrations
from basics.errors import TutorError
from basics.text import replace_surrogates

# What a turn keeps: what the page needs to show it again, rate it and continue the conversation. The live
# answer's progress marks ("waiting", "searching") are not kept.
KEPT_FIELDS = ("question", "answer", "citations", "from_faq", "outcome", "language", "question_id", "error")


class ConversationError(TutorError):
    """A conversation cannot be kept or read back (too long, not turns, damaged in the database)."""


@dataclass(frozen=True)
class HistoryConfig:
    """Limits of the kept history (bounded disk per conversation, a readable list)."""

    max_bytes: int = field(default=1_000_000, metadata={"help": "Largest conversation kept, as stored JSON (a typical "
                           "turn with three citations is 2-5 kB); a longer one is refused and the stored row kept."})
    list_limit: int = field(default=100, metadata={"help": "Conversations listed per browser, newest first."})
    title_chars: int = field(default=80, metadata={"help": "Characters of the first question shown as its title."})


@dataclass(frozen=True)
class ConversationSummary:
    """One line of a student's list: no turns (the list is read on every page load)."""

    id: int
    course: str
    title: str
    created_at: str  # ISO 8601, UTC
    updated_at: str

    def label(self) -> str:
        """``2026-12-07 14:02 · What is LoRA?``: the last activity in the server's local time, then the title."""
        when = datetime.fromisoformat(self.updated_at).astimezone()
        return f"{when:%Y-%m-%d %H:%M} · {self.title}"


@dataclass(frozen=True)
class Conversation(ConversationSummary):
    """A whole conversation, as ``load_conversation`` reads it back."""

    turns: list[dict] = field(default_factory=list)


def _m001_conversations(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE conversations (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, course TEXT NOT NULL, "
        "title TEXT NOT NULL, turns TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    conn.execute("CREATE INDEX conversations_owner ON conversations (owner, updated_at)")
    conn.execute("CREATE TABLE conversation_secret (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL)")
    conn.execute("INSERT INTO conversation_secret (id, secret) VALUES (1, ?)", (secrets.token_bytes(32),))


register_migrations("conversations", [("001_conversations", _m001_conversations)])


def ensure_schema(db: Database) -> None:
    """Create / upgrade the tables (idempotent); ``StudentChat`` runs it once when the page is built."""
    db.migrate("conversations")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def owner_of(db: Database, browser_key: str | None) -> str | None:
    """The owner id of a browser key (hex HMAC-SHA256 under this database's secret), or None without a key:
    such a caller keeps and sees nothing."""
    if not browser_key:
        return None
    (secret,) = db.query("SELECT secret FROM conversation_secret WHERE id = 1")[0]
    return hmac.new(bytes(secret), browser_key.encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def _check_owner(owner: str) -> str:
    if not isinstance(owner, str) or not owner:
        raise ConversationError("a conversation needs an owner (the browser's key): none was given")
    return owner


def clean_turns(turns: object) -> list[dict]:
    """The storable part of ``turns``: a list of dicts with a text question, each cut to ``KEPT_FIELDS``;
    ``ConversationError`` naming the first turn that is not one."""
    if not isinstance(turns, list):
        raise ConversationError(f"a conversation's turns must be a list, not {type(turns).__name__}")
    cleaned = []
    for n, turn in enumerate(turns, 1):
        if not isinstance(turn, dict) or not isinstance(turn.get("question"), str):
            raise ConversationError(f"turn {n} of the conversation is not a question with its answer")
        if not isinstance(turn.get("citations", []), list):
            raise ConversationError(f"turn {n} of the conversation has citations that are not a list")
        cleaned.append({key: turn[key] for key in KEPT_FIELDS if key in turn})
    return cleaned


def encode_turns(turns: object, config: HistoryConfig = HistoryConfig()) -> str:
    """``turns`` as the JSON text a row stores; ``ConversationError`` when they are not turns, hold something
    JSON cannot write, or exceed ``config.max_bytes``. Lone surrogates become U+FFFD (SQLite stores UTF-8)."""
    cleaned = clean_turns(turns)
    if not cleaned:
        raise ConversationError("an empty conversation is not kept: ask a question first")
    try:
        text = json.dumps(cleaned, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConversationError(f"the conversation cannot be stored as JSON ({exc})") from exc
    text = replace_surrogates(text)
    size = len(text.encode("utf-8"))
    if size > config.max_bytes:
        raise ConversationError(
            f"This conversation is too long to keep in your history ({size // 1000} kB, the limit is "
            f"{config.max_bytes // 1000} kB): start a new conversation. What was kept before this answer stays.")
    return text


def decode_turns(text: str, conversation_id: int | None = None) -> list[dict]:
    """The turns a row stores; ``ConversationError`` for text that is not turns' JSON (a damaged row)."""
    where = f"conversation {conversation_id}" if conversation_id is not None else "a conversation"
    try:
        return clean_turns(json.loads(text))
    except (json.JSONDecodeError, TypeError, ConversationError) as exc:
        raise ConversationError(f"{where} is damaged in the database ({exc}); it can only be deleted") from exc


def _title(turns: list[dict], config: HistoryConfig) -> str:
    question = " ".join(turns[0]["question"].split())
    short = question if len(question) <= config.title_chars else question[: config.title_chars - 1].rstrip() + "…"
    return replace_surrogates(short) or "(no question)"


def save_conversation(db: Database, owner: str, course: str, turns: list[dict], conversation_id: int | None = None,
                      config: HistoryConfig = HistoryConfig()) -> int:
    """Keep ``turns`` as ``owner``'s conversation ``conversation_id`` (updated in place), or as a new one when
    it is None or not ``owner``'s (deleted meanwhile, or someone else's id): returns the id the turns are kept
    under. The turns are checked first (``encode_turns``), so a refused save leaves the stored row as it was."""
    owner = _check_owner(owner)
    text = encode_turns(turns, config)
    title, course, now = _title(clean_turns(turns), config), replace_surrogates(course), _now()
    with db.transaction() as conn:
        if conversation_id is not None:
            cur = conn.execute("UPDATE conversations SET course = ?, title = ?, turns = ?, updated_at = ? "
                               "WHERE id = ? AND owner = ?", (course, title, text, now, int(conversation_id), owner))
            if cur.rowcount:
                return int(conversation_id)
        cur = conn.execute("INSERT INTO conversations (owner, course, title, turns, created_at, updated_at) "
                           "VALUES (?, ?, ?, ?, ?, ?)", (owner, course, title, text, now, now))
        return int(cur.lastrowid)


_SUMMARY = "SELECT id, course, title, created_at, updated_at FROM conversations"


def list_conversations(db: Database, owner: str, limit: int = HistoryConfig.list_limit) -> list[ConversationSummary]:
    """``owner``'s conversations, the most recently continued first (at most ``limit``)."""
    rows = db.query(f"{_SUMMARY} WHERE owner = ? ORDER BY updated_at DESC, id DESC LIMIT ?",
                    (_check_owner(owner), int(limit)))
    return [ConversationSummary(**dict(row)) for row in rows]


def count_conversations(db: Database, owner: str) -> int:
    """How many conversations ``owner`` keeps (what "delete my history" asks to confirm)."""
    return int(db.query("SELECT COUNT(*) FROM conversations WHERE owner = ?", (_check_owner(owner),))[0][0])


def load_conversation(db: Database, owner: str, conversation_id: int) -> Conversation | None:
    """Conversation ``conversation_id`` with its turns, or None when ``owner`` has no such conversation (it
    never existed, was deleted, or is someone else's: the three look the same to the caller)."""
    try:
        conversation_id = int(conversation_id)
    except (TypeError, ValueError):
        return None
    rows = db.query("SELECT id, course, title, created_at, updated_at, turns FROM conversations "
                    "WHERE id = ? AND owner = ?", (conversation_id, _check_owner(owner)))
    if not rows:
        return None
    row = dict(rows[0])
    return Conversation(**{**row, "turns": decode_turns(row["turns"], conversation_id)})


def delete_conversations(db: Database, owner: str) -> int:
    """Delete every conversation of ``owner`` (its "delete my history"); returns how many there were."""
    return int(db.execute("DELETE FROM conversations WHERE owner = ?", (_check_owner(owner),)).rowcount)
