"""The question log and student feedback, in the knowledge base's SQLite file (namespace ``tutor``).

Every question is logged with its outcome (answered / faq / quoted / refused / error: the backend failed
mid-answer), the sources shown, the top retrieval score and the latency, so the instructor console can
list what the bot refused, what failed and what students rated down (``review_queue``): those are the
gaps to fill with documents or FAQ entries.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

from basics.db import Database, register_migrations
from basics.errors import TutorError

OUTCOMES = ("answered", "faq", "quoted", "refused", "error")


def _m001_questions_feedback(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE questions (id INTEGER PRIMARY KEY, course TEXT NOT NULL, question TEXT NOT NULL, "
        "language TEXT, outcome TEXT NOT NULL, answer TEXT, sources TEXT, top_score REAL, latency_ms REAL, "
        "model TEXT, adapter TEXT, created_at TEXT NOT NULL)"
    )
    conn.execute("CREATE INDEX questions_course_outcome ON questions (course, outcome)")
    conn.execute(
        "CREATE TABLE feedback (id INTEGER PRIMARY KEY, question_id INTEGER NOT NULL REFERENCES questions(id) "
        "ON DELETE CASCADE, rating INTEGER NOT NULL CHECK (rating IN (-1, 1)), comment TEXT, created_at TEXT NOT NULL)"
    )
    conn.execute("CREATE INDEX feedback_question ON feedback (question_id)")


def _m002_findings(conn: sqlite3.Connection) -> None:
    """What the answer check found on each answer (``tutor.verify.verdicts.Finding.to_dict``, JSON): the
    instructor's review reads the same typed verdicts as the engine and the evaluation."""
    conn.execute("ALTER TABLE questions ADD COLUMN findings TEXT")


register_migrations("tutor", [("001_questions_feedback", _m001_questions_feedback), ("002_findings", _m002_findings)])


def ensure_schema(db: Database) -> None:
    """Create / upgrade the ``tutor`` tables (idempotent). ``TutorEngine`` runs it once when it is made; every
    reader and writer below expects it done (the question log exists only where an engine answers)."""
    db.migrate("tutor")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def log_question(
    db: Database,
    course: str,
    question: str,
    outcome: str,
    answer: str = "",
    language: str | None = None,
    sources: list[dict] | None = None,
    top_score: float | None = None,
    latency_ms: float | None = None,
    model: str | None = None,
    adapter: str | None = None,
    findings: list[dict] | None = None,
) -> int:
    """Insert one question row; returns its id (the ``question_id`` feedback refers to). ``findings``: what
    the answer check withheld, typed (``Finding.to_dict``)."""
    if outcome not in OUTCOMES:
        raise TutorError(f"question outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    cur = db.execute(
        "INSERT INTO questions (course, question, language, outcome, answer, sources, top_score, latency_ms, "
        "model, adapter, findings, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (course, question, language, outcome, answer, json.dumps(sources or [], ensure_ascii=False), top_score,
         latency_ms, model, adapter, json.dumps(findings or [], ensure_ascii=False), _now()),
    )
    return int(cur.lastrowid)


def add_feedback(db: Database, question_id: int, rating: int, comment: str | None = None) -> int:
    """Record a 👍 (+1) or 👎 (-1) on a logged question; returns the feedback id."""
    if rating not in (1, -1):
        raise TutorError(f"feedback rating must be +1 or -1, got {rating!r}")
    if not db.query("SELECT 1 FROM questions WHERE id = ?", (question_id,)):
        raise TutorError(f"feedback for question {question_id}: no such question in the log")
    cur = db.execute(
        "INSERT INTO feedback (question_id, rating, comment, created_at) VALUES (?, ?, ?, ?)",
        (question_id, rating, comment, _now()),
    )
    return int(cur.lastrowid)


_SELECT = (
    "SELECT q.*, COALESCE((SELECT SUM(rating) FROM feedback f WHERE f.question_id = q.id), 0) AS rating, "
    "(SELECT COUNT(*) FROM feedback f WHERE f.question_id = q.id AND f.rating < 0) AS down_votes, "
    "(SELECT json_group_array(comment) FROM feedback f WHERE f.question_id = q.id AND comment IS NOT NULL) "
    "AS comments"
)
_RATED_DOWN = "EXISTS (SELECT 1 FROM feedback f WHERE f.question_id = q.id AND f.rating < 0)"


def _decoded(rows) -> list[dict]:
    out = []
    for r in rows:
        row = dict(r)
        row["sources"] = json.loads(row["sources"] or "[]")
        row["comments"] = json.loads(row["comments"] or "[]")
        row["findings"] = json.loads(row.get("findings") or "[]")
        out.append(row)
    return out


def list_questions(
    db: Database, course: str | None = None, outcome: str | None = None, rated_down: bool = False, limit: int = 200
) -> list[dict]:
    """Newest first, with ``sources`` decoded and the feedback summed up (``rating`` = sum, ``comments``)."""
    where, params = [], []
    if course:
        where.append("q.course = ?")
        params.append(course)
    if outcome:
        where.append("q.outcome = ?")
        params.append(outcome)
    if rated_down:
        where.append(_RATED_DOWN)
    sql = (
        _SELECT + " FROM questions q"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY q.id DESC LIMIT ?"
    )
    return _decoded(db.query(sql, (*params, int(limit))))


REVIEW_REASONS = ("refused", "error", "rated_down")


def review_queue(db: Database, course: str | None = None, limit: int = 200) -> list[dict]:
    """The questions an instructor should turn into documents or FAQ entries, each once: those the bot
    refused, those it failed on (``error``) and those a student rated 👎.

    Rows are :func:`list_questions` rows plus ``why`` (one of ``REVIEW_REASONS``: the outcome when it was
    refused or failed, else ``rated_down``). Refused questions come first, then failures, then 👎, newest
    first within each, so the gaps the bot itself noticed lead the queue; ``limit`` caps the whole queue.
    """
    where = [f"(q.outcome IN ('refused', 'error') OR {_RATED_DOWN})"]
    params: list = []
    if course:
        where.append("q.course = ?")
        params.append(course)
    sql = (
        _SELECT + ", CASE WHEN q.outcome IN ('refused', 'error') THEN q.outcome ELSE 'rated_down' END AS why"
        " FROM questions q WHERE " + " AND ".join(where)
        + " ORDER BY CASE q.outcome WHEN 'refused' THEN 0 WHEN 'error' THEN 1 ELSE 2 END, q.id DESC LIMIT ?"
    )
    return _decoded(db.query(sql, (*params, int(limit))))
