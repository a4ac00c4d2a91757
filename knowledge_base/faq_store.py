"""SQL of the ``faq`` table: a course's FAQ rows with their question embeddings.

Split from ``store.py`` by table (the table itself is created by ``store``'s migrations, with every other
table of the knowledge base); writes take the ``conn`` of the caller's ``Database.transaction()``, as there.
``faq_match.py`` keeps each course's FAQ through these functions, and the facade reads them for reindexing and
a course's example questions.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Iterable

import numpy as np

from basics.db import Database
from knowledge_base.store import to_blob

if TYPE_CHECKING:
    from knowledge_base.faq_entries import FAQEntry


def faq_questions(db: Database, cid: int) -> tuple[list[int], list[str]]:
    """(ids, questions) of a course's FAQ, for re-embedding them."""
    rows = db.query("SELECT id, question FROM faq WHERE course_id = ? ORDER BY id", (cid,))
    return [r["id"] for r in rows], [r["question"] for r in rows]


def replace_faq(conn: sqlite3.Connection, cid: int, entries: list[FAQEntry], vectors: Iterable[np.ndarray]) -> None:
    """The course's FAQ becomes ``entries``, each stored with its question's embedding."""
    conn.execute("DELETE FROM faq WHERE course_id = ?", (cid,))
    for e, v in zip(entries, vectors):
        conn.execute("INSERT INTO faq (course_id, question, answer, language, source, answerable, row, embedding) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (cid, e.question, e.answer, e.language, e.source, int(bool(e.answerable)), e.row, to_blob(v)))


def insert_faq(conn: sqlite3.Connection, cid: int, question: str, answer: str, language: str | None,
               vector: np.ndarray) -> int:
    """One more FAQ entry; returns its id."""
    cur = conn.execute("INSERT INTO faq (course_id, question, answer, language, embedding) VALUES (?, ?, ?, ?, ?)",
                       (cid, question, answer, language, to_blob(vector)))
    return int(cur.lastrowid)


def faq_rows(db: Database, course: str) -> list[sqlite3.Row]:
    """The course's FAQ rows in insertion order (``embedding`` may be NULL: not embedded yet)."""
    return db.query("SELECT f.* FROM faq f JOIN courses c ON c.id = f.course_id WHERE c.name = ? ORDER BY f.id",
                    (course,))


def faq_embeddings(db: Database, course: str) -> list[bytes | None]:
    """The stored question embeddings of the course's FAQ, in the order of ``faq_rows``."""
    rows = db.query("SELECT f.embedding FROM faq f JOIN courses c ON c.id = f.course_id WHERE c.name = ? "
                    "ORDER BY f.id", (course,))
    return [r["embedding"] for r in rows]
