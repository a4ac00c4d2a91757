"""``CourseIndexes``: each course's FAISS index and BM25 index in memory, kept in step with SQLite.

SQLite is the source of truth; the FAISS file (``index.py``) and the BM25 index (``lexical.py``) are caches
of it. A crash between the database commit and the index write leaves an index that disagrees with the
database. So the first use of a course (and, with ``KBConfig.verify_on_open``, the opening of the knowledge
base) compares the ids in its index with the chunk ids in SQLite; on any difference, or a missing or
unreadable file, the index is rebuilt from the stored embeddings and the course is listed in ``repaired``.

Writers change the in-memory index once per batch (``update``) and write the file once per operation
(``flush``): rewriting a 100k-vector file after every 512 chunks would make bulk ingest quadratic. The
FAISS objects are shared between threads: callers hold ``db.lock`` around every use.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import faiss
import numpy as np

from basics.db import Database
from knowledge_base import store
from knowledge_base.config import KBConfig
from knowledge_base.embedder import Embedder
from knowledge_base.index import build_index, index_ids, is_hnsw, load_index, save_index
from knowledge_base.lexical import LexicalIndex

log = logging.getLogger(__name__)


class CourseIndexes:
    """The dense and lexical index of every course of one database, loaded on first use."""

    def __init__(self, db: Database, config: KBConfig, indexes_dir: Path, embedder: Embedder):
        self.db = db
        self.config = config
        self.indexes_dir = indexes_dir
        self.embedder = embedder
        self.repaired: list[str] = []  # courses whose index was rebuilt because it disagreed with SQLite
        self._dense: dict[str, faiss.Index | None] = {}
        self._lexical: dict[str, LexicalIndex] = {}

    def path(self, course: str, embedder: str | None = None) -> Path:
        """``indexes/EMBEDDER/COURSE.faiss``: one folder per embedder, so an index file can never be read as
        the index of another embedder's vectors (after ``reindex``, say, with the same ids)."""
        if embedder is None:
            cid = store.course_id(self.db, course)
            embedder = (store.course_embedder(self.db, cid)[0] if cid is not None else None) or self.embedder.name
        return self.indexes_dir / re.sub(r"[^\w.-]+", "_", embedder).strip("._") / f"{course}.faiss"

    def dense(self, course: str) -> faiss.Index | None:
        """The course's FAISS index (None when it has no chunks), verified against the database once."""
        if course in self._dense:
            return self._dense[course]
        with self.db.lock:
            cid = store.course_id(self.db, course)
            db_ids = store.chunk_ids(self.db, cid) if cid is not None else np.zeros(0, np.int64)
            index = load_index(self.path(course))
            stored = index_ids(index) if index is not None else np.zeros(0, np.int64)
            if not np.array_equal(np.sort(stored), db_ids):
                log.warning("course %r: index has %d ids, database %d chunks; rebuilding the index from the "
                            "database", course, len(stored), len(db_ids))
                self.repaired.append(course)
                index = self.rebuild(course)
            self._dense[course] = index
            return index

    def lexical(self, course: str, cid: int) -> LexicalIndex:
        """The course's BM25 index, built from the tokens stored with its chunks (no re-tokenising)."""
        lex = self._lexical.get(course)
        if lex is None:
            ids, tokens = store.chunk_tokens(self.db, cid)
            lex = LexicalIndex(ids, tokens)
            self._lexical[course] = lex
        return lex

    def rebuild(self, course: str, save: bool = True) -> faiss.Index | None:
        """A new FAISS index of the course from the embeddings stored in SQLite (written unless ``save`` is
        False; a course without chunks has no file and no index)."""
        cid = store.course_id(self.db, course)
        ids, vecs = store.chunk_vectors(self.db, cid) if cid is not None else (np.zeros(0, np.int64), None)
        path = self.path(course)
        if not len(ids):
            path.unlink(missing_ok=True)
            return None
        c = self.config
        index = build_index(vecs.shape[1], ids, vecs, c.hnsw_threshold, c.hnsw_m, c.hnsw_ef_construction,
                            c.hnsw_ef_search)
        if save:
            save_index(index, path)
        return index

    def reload(self, course: str) -> None:
        """Rebuild, write and cache the course's index (after ``reindex`` swapped its embeddings)."""
        self._dense[course] = self.rebuild(course)

    def update(self, course: str, index: faiss.Index | None, removed: list[int], added_ids: list[int],
               added_vecs: list[np.ndarray]) -> None:
        """Apply one batch of changes to the in-memory index (loaded *before* the commit); ``flush`` writes
        it. HNSW cannot delete, and crossing ``hnsw_threshold`` changes the index type: both rebuild."""
        c = self.config
        if index is None or (removed and is_hnsw(index)):
            index = self.rebuild(course, save=False)
        else:
            if removed:
                index.remove_ids(np.asarray(removed, dtype=np.int64))
            if added_ids:
                index.add_with_ids(np.vstack(added_vecs).astype(np.float32), np.asarray(added_ids, dtype=np.int64))
            if index.ntotal == 0 or (not is_hnsw(index) and index.ntotal >= c.hnsw_threshold):
                index = self.rebuild(course, save=False)
        self._dense[course] = index
        self._lexical.pop(course, None)

    def flush(self, course: str) -> None:
        """Write the course's in-memory index atomically (once per operation, not per batch)."""
        index = self._dense.get(course)
        if index is None:
            self.path(course).unlink(missing_ok=True)
        else:
            save_index(index, self.path(course))
