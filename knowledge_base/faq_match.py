"""``CourseFAQs``: each course's FAQ in the database with its question embeddings, and the nearest match.

An FAQ answer is vetted by the instructor, so the engine prefers it to a generated one when a student's
question is close enough to an FAQ question. Closeness is the cosine of the two questions, both embedded
as queries (they are matched against each other, not against passages), with the course's embedder: FAQ
vectors share the course's embedder record with its chunks, and a mismatch is refused like a search.
Whether a cosine is high enough is the engine's business (``EmbedderSpec.faq_threshold``).

Entries and their question matrix are cached per course and dropped on every write; a row stored without
an embedding (an older database, a row written by hand) is embedded on first use and saved. The SQL is in
``faq_store.py``; the file formats are in ``faq_files.py``.
"""

from __future__ import annotations

import numpy as np

from basics.db import Database
from basics.errors import FAQFormatError
from knowledge_base import faq_store, store
from knowledge_base.embedder import Embedder
from knowledge_base.faq_entries import FAQEntry

class CourseFAQs:
    """The FAQ of every course of one database, matched with one embedder."""

    def __init__(self, db: Database, embedder: Embedder):
        self.db = db
        self.embedder = embedder
        self._cache: dict[str, tuple[list[FAQEntry], np.ndarray]] = {}

    def set(self, course: str, entries: list[FAQEntry]) -> int:
        """Replace the course's FAQ with ``entries``; their question embeddings are stored with them."""
        store.check_course(course)
        store.check_embedder(self.db, course, self.embedder.name)
        vecs = self.embedder.encode([e.question for e in entries], kind="query") if entries else []
        with self.db.lock:
            cid = store.course_id(self.db, course, create=True)
            with self.db.transaction() as conn:
                if entries:
                    store.claim_course(conn, cid, self.embedder.name, int(vecs.shape[1]))
                faq_store.replace_faq(conn, cid, entries, vecs)
            self.forget(course)
        return len(entries)

    def add(self, course: str, question: str, answer: str, language: str | None = None) -> int:
        """Append one entry (from the instructor console); returns its id."""
        store.check_course(course)
        problems = [(0, f"{what} is empty") for what, v in (("question", question), ("answer", answer))
                    if not v or not v.strip()]
        if problems:
            raise FAQFormatError(f"FAQ entry for course {course!r}", problems)
        store.check_embedder(self.db, course, self.embedder.name)
        vec = self.embedder.encode([question.strip()], kind="query")[0]
        with self.db.lock:
            cid = store.course_id(self.db, course, create=True)
            with self.db.transaction() as conn:
                store.claim_course(conn, cid, self.embedder.name, len(vec))
                entry_id = faq_store.insert_faq(conn, cid, question.strip(), answer.strip(), language, vec)
            self.forget(course)
            return entry_id

    def entries(self, course: str) -> list[FAQEntry]:
        return self._load(course)[0]

    def match(self, question: str, course: str) -> tuple[FAQEntry, float] | None:
        """The entry whose question is closest to ``question`` and the cosine; None without an FAQ."""
        store.check_embedder(self.db, course, self.embedder.name)
        entries, matrix = self._load(course)
        if not entries or not question or not question.strip():
            return None
        sims = matrix @ self.embedder.encode_query(question)
        best = int(np.argmax(sims))
        return entries[best], float(sims[best])

    def forget(self, course: str) -> None:
        """Drop the cached entries of ``course`` (after a write, or a re-embedding by ``reindex``)."""
        self._cache.pop(course, None)

    def _load(self, course: str) -> tuple[list[FAQEntry], np.ndarray]:
        """Entries and their question embeddings; rows without a stored embedding are embedded and saved."""
        cached = self._cache.get(course)
        if cached is not None:
            return cached
        rows = faq_store.faq_rows(self.db, course)
        entries = [FAQEntry(r["question"], r["answer"], course, r["source"], r["language"], bool(r["answerable"]),
                            r["row"], r["id"]) for r in rows]
        blobs = [r["embedding"] for r in rows]
        missing = [i for i, b in enumerate(blobs) if b is None]
        if missing:
            vecs = self.embedder.encode([rows[i]["question"] for i in missing], kind="query")
            with self.db.transaction() as conn:
                store.set_embeddings(conn, "faq", [rows[i]["id"] for i in missing], vecs)
            blobs = faq_store.faq_embeddings(self.db, course)
        matrix = store.from_blobs(blobs)
        self._cache[course] = (entries, matrix)
        return entries, matrix
