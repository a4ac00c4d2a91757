"""SQLite tables of the knowledge base (courses, documents, chunks, faq) and every query on them.

Every SQL statement of the knowledge base is here (the facade, ingest, the course indexes, search and the
source viewer call these functions), so a schema change is made and reviewed in one file; the one exception,
split off by table, is the faq table's queries in ``faq_store.py`` (its schema and migrations are here).
Functions that write take the ``conn`` of the caller's ``Database.transaction()``: the caller decides what one
transaction holds.

Chunk embeddings are stored in the ``chunks`` table as float32 blobs. Why keep them next to the FAISS index:
the FAISS file is a derived cache that can be rebuilt from the database at any time without re-embedding.
That makes recovery after a crash between the database commit and the index write cheap (seconds, not the
minutes re-embedding takes on 2 CPU cores), lets HNSW indexes (which cannot delete) be rebuilt on delete,
and gives ``dense_score`` for BM25-only hits without running the model on the chunk again. Cost: 1.5 KB per
chunk (384 floats), small next to the text itself for typical course sizes.

Chunk tokens for BM25 are stored too (space-joined), so the lexical index is rebuilt without jieba.
Every write is one transaction (``Database.transaction``): a document and all its chunks land, or nothing.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from basics.db import Database, register_migrations
from basics.errors import ConfigError, EmbedderMismatchError

if TYPE_CHECKING:
    from knowledge_base.chunking import Chunk


def _m001_schema(conn: sqlite3.Connection) -> None:
    # Statement by statement: ``executescript`` would commit the migration's transaction half-way.
    for statement in """
        CREATE TABLE courses (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            course_id INTEGER NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            title TEXT,
            path TEXT,
            hash TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            added_at TEXT NOT NULL,
            UNIQUE (course_id, name)
        );
        CREATE INDEX documents_hash ON documents(course_id, hash);
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY,
            doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            course_id INTEGER NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
            chunk_key TEXT NOT NULL,
            ordinal INTEGER NOT NULL,
            text TEXT NOT NULL,
            section TEXT,
            page INTEGER,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            n_tokens INTEGER,
            lex_tokens TEXT NOT NULL,
            embedding BLOB NOT NULL
        );
        CREATE INDEX chunks_doc ON chunks(doc_id);
        CREATE INDEX chunks_course ON chunks(course_id);
        CREATE TABLE faq (
            id INTEGER PRIMARY KEY,
            course_id INTEGER NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            language TEXT,
            source TEXT,
            answerable INTEGER NOT NULL DEFAULT 1,
            row INTEGER NOT NULL DEFAULT 0,
            embedding BLOB
        );
        CREATE INDEX faq_course ON faq(course_id);
        """.split(";"):
        if statement.strip():
            conn.execute(statement)


def _m002_course_embedder(conn: sqlite3.Connection) -> None:
    """Each course records the embedder that made its vectors (name and dimension): vectors of two models
    live in unrelated spaces, so a course is searched only with its own. Courses stored before this
    migration were built with the then default, all-MiniLM-L6-v2 (384 dimensions = 1,536-byte blobs)."""
    conn.execute("ALTER TABLE courses ADD COLUMN embedder TEXT")
    conn.execute("ALTER TABLE courses ADD COLUMN dim INTEGER")
    conn.execute("UPDATE courses SET embedder = 'all-MiniLM-L6-v2', dim = 384 WHERE id IN "
                 "(SELECT course_id FROM chunks WHERE length(embedding) = 1536 UNION "
                 "SELECT course_id FROM faq WHERE length(embedding) = 1536)")
    conn.execute("UPDATE courses SET embedder = 'unknown' WHERE embedder IS NULL AND id IN "
                 "(SELECT course_id FROM chunks UNION SELECT course_id FROM faq WHERE embedding IS NOT NULL)")


def _m003_course_language(conn: sqlite3.Connection) -> None:
    """Each course records its main language (detected from its text when documents are added or removed):
    a question too short to tell its language by ("RRF?") is taken to be in it, and nothing assumes English."""
    conn.execute("ALTER TABLE courses ADD COLUMN language TEXT")


def _m004_course_info(conn: sqlite3.Connection) -> None:
    """What a course says about itself on the student's page (``course_info.py``): a title, one line on what
    it covers, the instructor's welcome. NULL until set, so a course keeps showing its id as before."""
    for column in ("title", "description", "welcome"):
        conn.execute(f"ALTER TABLE courses ADD COLUMN {column} TEXT")


def _m005_chunk_key_index(conn: sqlite3.Connection) -> None:
    """A citation links to its passage by chunk key (what an answer's citations and kept conversations hold, and
    the same for the same passage on every ingest), so the source viewer looks a chunk up by its key."""
    conn.execute("CREATE INDEX chunks_key ON chunks(chunk_key)")


register_migrations("kb", [("001_schema", _m001_schema), ("002_course_embedder", _m002_course_embedder),
                           ("003_course_language", _m003_course_language), ("004_course_info", _m004_course_info),
                           ("005_chunk_key_index", _m005_chunk_key_index)])


def open_database(path: Path) -> Database:
    """The knowledge base's database, migrated. WAL + synchronous=NORMAL: still atomic and crash-safe for the
    application (a kill -9 loses no committed transaction); only a power cut may lose the last commits.
    Saves an fsync per document."""
    db = Database(path)
    db.conn.execute("PRAGMA synchronous=NORMAL")
    db.migrate("kb")
    return db


@dataclass
class DocumentInfo:
    """One stored document as ``list_documents`` shows it (``chunks``: how many it was cut into)."""

    doc_id: int
    course: str
    name: str
    title: str | None
    path: str | None
    hash: str
    version: int
    added_at: str
    chunks: int

    def to_dict(self) -> dict:
        return asdict(self)


_COURSE_NAME = re.compile(r"^\w[\w.-]{0,63}$")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_course(course: str) -> str:
    """``course`` if it is a usable course name (it names the course's index file), else ``ConfigError``."""
    if not isinstance(course, str) or not _COURSE_NAME.match(course):
        raise ConfigError(f"course name {course!r} is not valid: use letters, digits, '_', '-' or '.' "
                          f"(at most 64, starting with a letter or digit)")
    return course


def to_blob(vec: np.ndarray) -> bytes:
    return np.ascontiguousarray(vec, dtype=np.float32).tobytes()


def from_blobs(blobs: list[bytes], dim: int | None = None) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim or 0), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)


def course_id(db: Database, name: str, create: bool = False) -> int | None:
    rows = db.query("SELECT id FROM courses WHERE name = ?", (name,))
    if rows:
        return int(rows[0]["id"])
    if not create:
        return None
    with db.transaction() as conn:
        conn.execute("INSERT OR IGNORE INTO courses (name, created_at) VALUES (?, ?)", (name, now()))
    return int(db.query("SELECT id FROM courses WHERE name = ?", (name,))[0]["id"])


def course_embedder(db: Database, cid: int) -> tuple[str | None, int | None]:
    """(embedder name, dimension) that made the course's vectors; (None, None) before its first vector."""
    row = db.query("SELECT embedder, dim FROM courses WHERE id = ?", (cid,))[0]
    return row["embedder"], row["dim"]


def course_language(db: Database, cid: int) -> str | None:
    """The course's main language as recorded at indexing (None before its first document)."""
    return db.query("SELECT language FROM courses WHERE id = ?", (cid,))[0]["language"]


def set_course_language(conn: sqlite3.Connection, cid: int, language: str | None) -> None:
    conn.execute("UPDATE courses SET language = ? WHERE id = ?", (language, cid))


def course_texts(db: Database, cid: int) -> dict[str, str | None]:
    """The course's title, description and welcome as stored (None: never set)."""
    row = db.query("SELECT title, description, welcome FROM courses WHERE id = ?", (cid,))[0]
    return {key: row[key] for key in row.keys()}


def set_course_texts(conn: sqlite3.Connection, cid: int, texts: dict[str, str]) -> None:
    """Store the given fields among title, description and welcome (others keep their value)."""
    for column, value in texts.items():
        if column not in ("title", "description", "welcome"):
            raise ValueError(column)
        conn.execute(f"UPDATE courses SET {column} = ? WHERE id = ?", (value, cid))


def set_course_embedder(conn: sqlite3.Connection, cid: int, name: str, dim: int) -> None:
    conn.execute("UPDATE courses SET embedder = ?, dim = ? WHERE id = ?", (name, dim, cid))


def claim_course(conn: sqlite3.Connection, cid: int, name: str, dim: int) -> None:
    """Record embedder ``name`` on a course's first vectors (in the transaction that stores them); a course
    that already has an embedder keeps it (``check_embedder`` refused a mismatch before any work)."""
    conn.execute("UPDATE courses SET embedder = ?, dim = ? WHERE id = ? AND embedder IS NULL", (name, dim, cid))


def check_embedder(db: Database, course: str, embedder: str, cid: int | None = None) -> None:
    """Raise ``EmbedderMismatchError`` when the course's vectors were made by another embedder than
    ``embedder``: vectors of two models live in unrelated spaces and cannot be searched together."""
    cid = course_id(db, course) if cid is None else cid
    if cid is None:
        return
    stored, dim = course_embedder(db, cid)
    if stored is not None and stored != embedder:
        raise EmbedderMismatchError(course, stored, dim, embedder)


def course_counts(db: Database, cid: int) -> dict[str, int]:
    """Documents, chunks, tokens (of all chunks) and FAQ entries of one course, for ``stats``."""
    docs, chunks, tokens = db.query(
        "SELECT (SELECT COUNT(*) FROM documents WHERE course_id = ?), COUNT(*), COALESCE(SUM(n_tokens), 0) "
        "FROM chunks WHERE course_id = ?", (cid, cid))[0]
    faq = db.query("SELECT COUNT(*) FROM faq WHERE course_id = ?", (cid,))[0][0]
    return {"documents": docs, "chunks": chunks, "tokens": tokens, "faq": faq}


def chunk_texts(db: Database, cid: int) -> tuple[list[int], list[str]]:
    """(ids, texts) of a course's chunks, for re-embedding them."""
    rows = db.query("SELECT id, text FROM chunks WHERE course_id = ? ORDER BY id", (cid,))
    return [r["id"] for r in rows], [r["text"] for r in rows]


def chunk_sample(db: Database, cid: int, n: int) -> list[str]:
    """The texts of a course's first ``n`` chunks (enough to tell its language by)."""
    return [r["text"] for r in db.query("SELECT text FROM chunks WHERE course_id = ? ORDER BY id LIMIT ?", (cid, n))]


def set_embeddings(conn: sqlite3.Connection, table: str, ids: list[int], vectors: np.ndarray) -> None:
    """Overwrite the stored embeddings of rows ``ids`` of ``table`` (``chunks`` or ``faq``)."""
    if table not in ("chunks", "faq"):
        raise ValueError(table)
    conn.executemany(f"UPDATE {table} SET embedding = ? WHERE id = ?",
                     [(to_blob(v), int(i)) for i, v in zip(ids, vectors)])


def course_titles(db: Database) -> dict[str, str | None]:
    """Every course's title by course name, in name order (None: no title set)."""
    return {r["name"]: r["title"] for r in db.query("SELECT name, title FROM courses ORDER BY name")}


def find_document(db: Database, cid: int, name: str) -> sqlite3.Row | None:
    rows = db.query("SELECT * FROM documents WHERE course_id = ? AND name = ?", (cid, name))
    return rows[0] if rows else None


def find_by_hash(db: Database, cid: int, digest: str) -> sqlite3.Row | None:
    rows = db.query("SELECT * FROM documents WHERE course_id = ? AND hash = ?", (cid, digest))
    return rows[0] if rows else None


def list_documents(db: Database, course: str | None = None) -> list[DocumentInfo]:
    """Documents of one course (all courses when None), by course then name, with their chunk counts."""
    sql = ("SELECT d.*, c.name AS course, (SELECT COUNT(*) FROM chunks WHERE doc_id = d.id) AS n "
           "FROM documents d JOIN courses c ON c.id = d.course_id")
    params: tuple = ()
    if course is not None:
        sql += " WHERE c.name = ?"
        params = (course,)
    rows = db.query(sql + " ORDER BY c.name, d.name", params)
    return [DocumentInfo(r["id"], r["course"], r["name"], r["title"], r["path"], r["hash"], r["version"],
                         r["added_at"], r["n"]) for r in rows]


def insert_document(conn: sqlite3.Connection, cid: int, name: str, title: str, path: str, digest: str) -> int:
    """A new document row (version 1); returns its id."""
    cur = conn.execute("INSERT INTO documents (course_id, name, title, path, hash, added_at) VALUES (?, ?, ?, ?, ?, ?)",
                       (cid, name, title, path, digest, now()))
    return int(cur.lastrowid)


def replace_document(conn: sqlite3.Connection, doc_id: int, title: str, path: str, digest: str) -> list[int]:
    """New content for a document of the same name: its chunks go, its version goes up (the caller inserts
    the new chunks in the same transaction). Returns the removed chunk ids, to take out of the index."""
    removed = _document_chunk_ids(conn, doc_id)
    conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
    conn.execute("UPDATE documents SET title = ?, path = ?, hash = ?, version = version + 1, added_at = ? "
                 "WHERE id = ?", (title, path, digest, now(), doc_id))
    return removed


def delete_document(conn: sqlite3.Connection, doc_id: int) -> list[int]:
    """Delete a document (its chunks go with it: ON DELETE CASCADE); returns the removed chunk ids."""
    removed = _document_chunk_ids(conn, doc_id)
    conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
    return removed


def _document_chunk_ids(conn: sqlite3.Connection, doc_id: int) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]


def insert_chunks(conn: sqlite3.Connection, cid: int, doc_id: int, chunks: list[Chunk],
                  lex_tokens: list[list[str]], vectors: np.ndarray) -> list[int]:
    """Insert chunk rows; returns their row ids (the FAISS ids) in order."""
    ids = []
    for chunk, toks, vec in zip(chunks, lex_tokens, vectors):
        cur = conn.execute(
            "INSERT INTO chunks (doc_id, course_id, chunk_key, ordinal, text, section, page, start, end, n_tokens, "
            "lex_tokens, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc_id, cid, chunk.key, chunk.ordinal, chunk.text, chunk.section, chunk.page, chunk.start, chunk.end,
             chunk.tokens, " ".join(toks), to_blob(vec)),
        )
        ids.append(int(cur.lastrowid))
    return ids


def chunk_ids(db: Database, cid: int) -> np.ndarray:
    rows = db.query("SELECT id FROM chunks WHERE course_id = ? ORDER BY id", (cid,))
    return np.asarray([r["id"] for r in rows], dtype=np.int64)


def chunk_vectors(db: Database, cid: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of a course's chunks, for rebuilding its FAISS index."""
    rows = db.query("SELECT id, embedding FROM chunks WHERE course_id = ? ORDER BY id", (cid,))
    return np.asarray([r["id"] for r in rows], dtype=np.int64), from_blobs([r["embedding"] for r in rows])


def chunk_tokens(db: Database, cid: int) -> tuple[list[int], list[list[str]]]:
    rows = db.query("SELECT id, lex_tokens FROM chunks WHERE course_id = ? ORDER BY id", (cid,))
    return [r["id"] for r in rows], [r["lex_tokens"].split() for r in rows]


def chunk_rows(db: Database, ids: list[int]) -> dict[int, sqlite3.Row]:
    """Chunk rows with their document's name and title, by chunk id."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = db.query(
        f"SELECT c.id, c.doc_id, c.chunk_key, c.text, c.section, c.page, c.start, c.end, c.embedding, "
        f"d.name AS document, d.title FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({marks})",
        tuple(ids),
    )
    return {int(r["id"]): r for r in rows}


def passage_rows(db: Database, key: str) -> list[sqlite3.Row]:
    """Every chunk of the document that holds the chunk with key ``key``, in reading order, each with its
    document's id, name, title and hash and its course's name: the passage and what surrounds it, for the
    source viewer. Empty when no chunk has that key (its document was deleted or replaced). The same key in
    two courses is the same text of the same file: the first stored is shown."""
    return db.query(
        "SELECT c.id, c.chunk_key, c.text, c.section, c.page, c.start, c.end, d.id AS doc_id, d.name AS document, "
        "d.title, d.hash, co.name AS course FROM chunks c JOIN documents d ON d.id = c.doc_id "
        "JOIN courses co ON co.id = c.course_id "
        "WHERE c.doc_id = (SELECT doc_id FROM chunks WHERE chunk_key = ? ORDER BY id LIMIT 1) ORDER BY c.start, c.id",
        (key,))
