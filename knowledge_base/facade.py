"""``KnowledgeBase``: the public facade (documents, search, FAQ) used by the engine, the CLI and the app.

Write path (``add``): load + chunk files -> embed a batch of chunks in one ``encode`` call (so ingest runs at
nearly the raw model speed) -> one SQLite transaction per document (document row + chunk rows with their
embeddings) -> update the course's FAISS index in memory -> write it atomically once per call.

A crash between the database commit and the index write leaves an index that disagrees with the database.
On open (and on the first use of a course) the ids in the index are compared with the chunk ids in SQLite;
on any difference, or a missing/unreadable file, the index is rebuilt from the stored embeddings. SQLite is
the source of truth; the FAISS file and the BM25 index are caches of it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from knowledge_base import store
from knowledge_base.chunking import Chunk, chunk_document
from knowledge_base.config import KBConfig
from knowledge_base.embedder import Embedder
from knowledge_base.index import build_index, index_ids, is_hnsw, load_index, save_index
from knowledge_base.lexical import LexicalIndex, tokenize
from knowledge_base.loaders import LOADERS, LoadedDocument, assemble, load_document, read_document_bytes
from knowledge_base.search import MODES, Hit, rank, to_hits
from knowledge_base.store import DocumentInfo
from tutor.config import DEFAULT_COURSE, Paths
from tutor.errors import ConfigError, FAQFormatError, IngestError, TutorError

log = logging.getLogger(__name__)

SAMPLE_COURSE_DIR = Path(__file__).resolve().parent / "sample_course"


@dataclass
class AddResult:
    path: str
    name: str
    status: str  # "added" | "replaced" | "skipped" | "error"
    doc_id: int | None = None
    chunks: int = 0
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Prepared:
    """A loaded and chunked document waiting for its embeddings and its transaction."""

    path: str
    name: str
    title: str
    digest: str
    chunks: list[Chunk]
    lex_tokens: list[list[str]]
    slot: int = 0
    vectors: np.ndarray | None = None


def safe_name(name: str, path: str = "") -> str:
    """A document name from an upload or a relative path: no absolute paths, no ``..``, no control chars.

    ``../../etc/passwd`` becomes ``etc/passwd``: names are only labels (nothing is written under them), but
    they are shown to students and used as citations, so they must not pretend to be system paths.
    """
    parts = [p for p in re.split(r"[\\/]+", str(name).strip()) if p not in ("", ".", "..")]
    if parts and re.fullmatch(r"[A-Za-z]:", parts[0]):
        parts = parts[1:]
    clean = "/".join(parts)
    if not clean or re.search(r"[\x00-\x1f\x7f]", clean):
        raise IngestError(path or str(name), f"unusable document name {name!r}; give a plain file name")
    return clean[:255]


class KnowledgeBase:
    """Documents, chunks, per-course FAISS + BM25 indexes and FAQs over one SQLite database."""

    def __init__(self, paths: Paths, config: KBConfig | None = None, embedder: Embedder | None = None):
        self.paths = paths
        self.config = config or KBConfig()
        self.db = store.open_database(paths.db_path)
        self._embedder = embedder
        self._dense_cache: dict[str, object] = {}
        self._lexical_cache: dict[str, LexicalIndex] = {}
        self._faq_cache: dict[str, tuple[list, np.ndarray]] = {}
        self.repaired: list[str] = []
        if self.config.verify_on_open:
            for course in self.courses():
                self._dense(course)

    # ------------------------------------------------------------------------------------------ plumbing

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(self.config.embedder, device=self.config.device, cache_dir=self.paths.cache_dir)
        return self._embedder

    def index_path(self, course: str, embedder: str | None = None) -> Path:
        """``indexes/EMBEDDER/COURSE.faiss``: one folder per embedder, so an index file can never be read as
        the index of another embedder's vectors (after ``reindex``, say, with the same ids)."""
        if embedder is None:
            cid = store.course_id(self.db, course)
            embedder = (store.course_embedder(self.db, cid)[0] if cid is not None else None) or self.embedder.name
        return self.paths.indexes_dir / re.sub(r"[^\w.-]+", "_", embedder).strip("._") / f"{course}.faiss"

    def check_embedder(self, course: str, cid: int | None = None) -> None:
        """Raise ``EmbedderMismatchError`` when the course's vectors were made by another embedder."""
        store.check_embedder(self.db, course, self.embedder.name, cid)

    def _dense(self, course: str):
        """The course's FAISS index (None when it has no chunks), verified against the database once."""
        if course in self._dense_cache:
            return self._dense_cache[course]
        with self.db.lock:
            cid = store.course_id(self.db, course)
            db_ids = store.chunk_ids(self.db, cid) if cid is not None else np.zeros(0, np.int64)
            index = load_index(self.index_path(course))
            stored = index_ids(index) if index is not None else np.zeros(0, np.int64)
            if not np.array_equal(np.sort(stored), db_ids):
                log.warning("course %r: index has %d ids, database %d chunks; rebuilding the index from the "
                            "database", course, len(stored), len(db_ids))
                self.repaired.append(course)
                index = self._rebuild(course)
            self._dense_cache[course] = index
            return index

    def _rebuild(self, course: str, save: bool = True):
        """Rebuild the course's FAISS index from the embeddings stored in SQLite (and write it)."""
        cid = store.course_id(self.db, course)
        ids, vecs = store.chunk_vectors(self.db, cid) if cid is not None else (np.zeros(0, np.int64), None)
        path = self.index_path(course)
        if not len(ids):
            path.unlink(missing_ok=True)
            return None
        c = self.config
        index = build_index(vecs.shape[1], ids, vecs, c.hnsw_threshold, c.hnsw_m, c.hnsw_ef_construction,
                            c.hnsw_ef_search)
        if save:
            save_index(index, path)
        return index

    def _update_index(self, course: str, index, removed: list[int], added_ids: list[int],
                      added_vecs: list[np.ndarray]) -> None:
        """Apply one batch of changes to the in-memory index (loaded *before* the commit); ``_flush`` writes it."""
        c = self.config
        if index is None or (removed and is_hnsw(index)):
            index = self._rebuild(course, save=False)  # HNSW cannot delete: rebuilt from the database
        else:
            if removed:
                index.remove_ids(np.asarray(removed, dtype=np.int64))
            if added_ids:
                index.add_with_ids(np.vstack(added_vecs).astype(np.float32), np.asarray(added_ids, dtype=np.int64))
            if index.ntotal == 0 or (not is_hnsw(index) and index.ntotal >= c.hnsw_threshold):
                index = self._rebuild(course, save=False)
        self._dense_cache[course] = index
        self._lexical_cache.pop(course, None)

    def _flush(self, course: str) -> None:
        """Write the course's in-memory index atomically (once per operation, not per batch: rewriting a
        100k-vector file after every 512 chunks would make bulk ingest quadratic)."""
        index = self._dense_cache.get(course)
        if index is None:
            self.index_path(course).unlink(missing_ok=True)
        else:
            save_index(index, self.index_path(course))

    def _lexical(self, course: str, cid: int) -> LexicalIndex:
        lex = self._lexical_cache.get(course)
        if lex is None:
            ids, tokens = store.chunk_tokens(self.db, cid)
            lex = LexicalIndex(ids, tokens)
            self._lexical_cache[course] = lex
        return lex

    # ------------------------------------------------------------------------------------------ ingest

    def _prepare(self, doc: LoadedDocument, name: str, digest: str) -> _Prepared:
        emb = self.embedder
        max_tokens = min(self.config.chunk_tokens, emb.max_tokens - 8)
        chunks = chunk_document(doc, emb, max_tokens, self.config.chunk_overlap, digest)
        if not chunks:
            raise IngestError(str(doc.path), "no text left after chunking")
        return _Prepared(str(doc.path), name, doc.title, digest, chunks, [tokenize(ch.text) for ch in chunks])

    def _commit(self, course: str, items: list[_Prepared], results: list) -> None:
        """One transaction per document, then one index write for the whole batch."""
        with self.db.lock:
            cid = store.course_id(self.db, course, create=True)
            index = self._dense(course)
            removed: list[int] = []
            added_ids: list[int] = []
            added_vecs: list[np.ndarray] = []
            for item in items:
                with self.db.transaction() as conn:
                    dup = store.find_by_hash(self.db, cid, item.digest)
                    if dup is not None:
                        results[item.slot] = AddResult(item.path, item.name, "skipped", int(dup["id"]),
                                                      0, f"same content as {dup['name']!r}")
                        continue
                    old = store.find_document(self.db, cid, item.name)
                    if old is not None:
                        doc_id = int(old["id"])
                        removed += store.replace_document(conn, doc_id, item.title, item.path, item.digest)
                        status = "replaced"
                    else:
                        doc_id = store.insert_document(conn, cid, item.name, item.title, item.path, item.digest)
                        status = "added"
                    store.claim_course(conn, cid, self.embedder.name, int(item.vectors.shape[1]))
                    ids = store.insert_chunks(conn, cid, doc_id, item.chunks, item.lex_tokens, item.vectors)
                added_ids += ids
                added_vecs.append(item.vectors)
                results[item.slot] = AddResult(item.path, item.name, status, doc_id, len(ids))
                log.info("%s %s (%d chunks) in course %r", status, item.name, len(ids), course)
            if removed or added_ids:
                self._update_index(course, index, removed, added_ids, added_vecs)

    def _embed_and_commit(self, course: str, batch: list[_Prepared], results: list,
                          embed: Callable[[list[str]], np.ndarray] | None, progress: bool = False) -> None:
        texts = [ch.text for item in batch for ch in item.chunks]
        # Embedding is most of an ingest's time (EmbeddingGemma: ~4 chunks/s on 2 cores): its own bar.
        vecs = embed(texts) if embed else self.embedder.encode(texts, progress=progress)
        pos = 0
        for item in batch:
            item.vectors = vecs[pos:pos + len(item.chunks)]
            pos += len(item.chunks)
        self._commit(course, batch, results)

    def _ingest(self, course: str, sources: list[tuple[str, str, Callable[[], tuple[LoadedDocument, str]]]],
                progress: bool, embed: Callable[[list[str]], np.ndarray] | None = None) -> list[AddResult]:
        """Shared by ``add``, ``add_file`` and ``add_texts``: ``sources`` are (path, name, load) where
        ``load()`` returns the document and its content hash (or raises ``IngestError``)."""
        store.check_course(course)
        cid = store.course_id(self.db, course)
        self.check_embedder(course, cid)  # before any work: the whole call would fail at its first commit
        results: list[AddResult | None] = [None] * len(sources)
        batch: list[_Prepared] = []
        seen: dict[str, str] = {}
        from tqdm import tqdm

        for slot, (path, name, load) in enumerate(tqdm(sources, desc=f"adding to {course}", unit="file",
                                                       disable=not progress)):
            try:
                doc, digest = load()
                dup = store.find_by_hash(self.db, cid, digest) if cid is not None else None
                if dup is not None or digest in seen:
                    other = dup["name"] if dup is not None else seen[digest]
                    results[slot] = AddResult(path, name, "skipped", int(dup["id"]) if dup is not None else None,
                                              0, f"same content as {other!r}")
                    continue
                seen[digest] = name
                item = self._prepare(doc, name, digest)
                item.slot = slot
            except IngestError as exc:
                log.warning("%s", exc)
                results[slot] = AddResult(path, name, "error", None, 0, exc.reason)
                continue
            except Exception as exc:  # a parser bug on a malformed file must not abort the other files
                log.exception("%s: unexpected error while reading", path)
                results[slot] = AddResult(path, name, "error", None, 0,
                                          f"unreadable file ({type(exc).__name__}: {exc})")
                continue
            batch.append(item)
            if sum(len(b.chunks) for b in batch) >= self.config.batch_chunks:
                self._embed_and_commit(course, batch, results, embed, progress)
                batch = []
        if batch:
            self._embed_and_commit(course, batch, results, embed, progress)
        if any(r is not None and r.status in ("added", "replaced") for r in results):
            with self.db.lock:
                self._flush(course)
        return results

    def _file_source(self, path: Path, name: str):
        """A file on disk, read once when loaded: the hash and the parser see the same bytes."""
        max_bytes = int(self.config.max_file_mb * 2**20)

        def load() -> tuple[LoadedDocument, str]:
            data = read_document_bytes(path, max_bytes)
            return load_document(path, data=data), hashlib.sha256(data).hexdigest()

        return (str(path.resolve()), name, load)

    def add(self, paths: list[Path], course: str = DEFAULT_COURSE, progress: bool = False) -> list[AddResult]:
        """Add files and folders (recursively, supported suffixes only). Names: the file name, or the path
        relative to the folder given. Never raises for one bad file: its result says ``error``."""
        sources = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                for f in sorted(path.rglob("*")):
                    rel = f.relative_to(path)
                    if f.is_file() and f.suffix.lower() in LOADERS and not any(p.startswith(".") for p in rel.parts):
                        sources.append(self._file_source(f, safe_name(rel.as_posix())))
            else:
                sources.append(self._file_source(path, safe_name(path.name, str(path))))
        return self._ingest(course, sources, progress)

    def add_file(self, path: Path, course: str = DEFAULT_COURSE, name: str | None = None) -> AddResult:
        """Add one file; ``name`` is the upload's file name (sanitised: see ``safe_name``). Raises
        ``IngestError`` when the file cannot be added; a duplicate is a ``skipped`` result, not an error."""
        path = Path(path)
        result = self._ingest(course, [self._file_source(path, safe_name(name or path.name, str(path)))], False)[0]
        if result.status == "error":
            raise IngestError(str(path), result.error)
        return result

    def add_texts(self, course: str, docs: list[tuple[str, str]], progress: bool = False,
                  embed: Callable[[list[str]], np.ndarray] | None = None) -> list[AddResult]:
        """Add in-memory documents ``(name, text)`` (Markdown structure is honoured). ``embed`` replaces the
        embedder for this call: benchmarks use it to insert precomputed vectors through the normal path."""
        from knowledge_base.loaders import markdown_blocks

        def source(name: str, text: str):
            def load():
                title, blocks = markdown_blocks(text)
                return assemble(Path(name), title or Path(name).stem, blocks), hashlib.sha256(text.encode()).hexdigest()

            return (name, safe_name(name), load)

        return self._ingest(course, [source(n, t) for n, t in docs], progress, embed)

    def delete(self, course: str, name: str) -> bool:
        """Remove a document and its chunks from the database and the index. False if it was not there."""
        with self.db.lock:
            cid = store.course_id(self.db, course)
            if cid is None:
                return False
            index = self._dense(course)
            with self.db.transaction() as conn:
                row = store.find_document(self.db, cid, name)
                if row is None:
                    return False
                removed = store.delete_document(conn, int(row["id"]))
            self._update_index(course, index, removed, [], [])
            self._flush(course)
            log.info("deleted %s from course %r", name, course)
            return True

    # ------------------------------------------------------------------------------------------ listing

    def courses(self) -> list[str]:
        return store.course_names(self.db)

    def list_documents(self, course: str | None = None) -> list[DocumentInfo]:
        return store.list_documents(self.db, course)

    def stats(self, course: str | None = None) -> dict:
        out = {}
        for name in [course] if course else self.courses():
            cid = store.course_id(self.db, name)
            if cid is None:
                out[name] = {"documents": 0, "chunks": 0, "faq": 0, "embedder": None, "dim": None, "index": None,
                             "index_vectors": 0}
                continue
            counts = store.course_counts(self.db, cid)
            index = self._dense(name)
            embedder, dim = store.course_embedder(self.db, cid)
            out[name] = {**counts, "embedder": embedder, "dim": dim,
                         "index": None if index is None else ("hnsw" if is_hnsw(index) else "flat"),
                         "index_vectors": 0 if index is None else int(index.ntotal)}
        return {"courses": out, "embedder": self.embedder.name, "db": str(self.paths.db_path)}

    # ------------------------------------------------------------------------------------------ reindex

    def reindex(self, course: str, progress: bool = False) -> dict:
        """Re-embed every chunk and FAQ question of ``course`` with the configured embedder.

        All new vectors are computed first, with nothing changed; then one transaction swaps them in with
        the course's embedder record, and the index is rebuilt under the new embedder's folder. A kill
        before the commit leaves the course as it was (still searchable with its old embedder); a kill
        after it leaves a database that the next open repairs the index from. Chunks keep their text and
        boundaries (they were cut for the old tokenizer's limit, within the new one's for our embedders).
        """
        store.check_course(course)
        cid = store.course_id(self.db, course)
        if cid is None:
            raise ConfigError(f"no course {course!r}; courses: {', '.join(self.courses()) or 'none'}")
        before, _ = store.course_embedder(self.db, cid)
        chunk_ids, texts = store.chunk_texts(self.db, cid)
        faq_ids, questions = store.faq_questions(self.db, cid)
        t0 = time.perf_counter()
        emb = self.embedder
        vecs = np.zeros((0, 0), np.float32)
        if texts:
            parts = []
            from tqdm import tqdm

            step = self.config.batch_chunks
            for i in tqdm(range(0, len(texts), step), desc=f"re-embedding {course}", unit="batch",
                          disable=not progress):
                parts.append(emb.encode(texts[i:i + step]))
            vecs = np.vstack(parts)
        faq_vecs = emb.encode(questions, kind="query") if questions else None
        dim = int(vecs.shape[1]) if texts else (int(faq_vecs.shape[1]) if questions else emb.dim)
        target = self.index_path(course, emb.name)
        with self.db.lock:
            target.unlink(missing_ok=True)  # never trust a file left by an earlier index of this embedder
            with self.db.transaction() as conn:
                if store.chunk_ids(self.db, cid).tolist() != chunk_ids:
                    raise TutorError(f"course {course!r} changed while it was being re-embedded; run reindex again")
                store.set_embeddings(conn, "chunks", chunk_ids, vecs)
                if questions:
                    store.set_embeddings(conn, "faq", faq_ids, faq_vecs)
                store.set_course_embedder(conn, cid, emb.name, dim)
            self._dense_cache.pop(course, None)
            self._faq_cache.pop(course, None)
            self._dense_cache[course] = self._rebuild(course)
            if before and before != emb.name:
                self.index_path(course, before).unlink(missing_ok=True)
            (self.paths.indexes_dir / f"{course}.faiss").unlink(missing_ok=True)  # before per-embedder folders
        log.info("re-embedded course %r: %d chunks, %d FAQ questions with %s (was %s)", course, len(texts),
                 len(questions), emb.name, before)
        return {"course": course, "embedder": emb.name, "previous": before, "dim": dim, "chunks": len(texts),
                "faq": len(questions), "seconds": round(time.perf_counter() - t0, 1)}

    # ------------------------------------------------------------------------------------------ search

    def search(self, query: str, course: str = DEFAULT_COURSE, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        """Top-k chunks of ``course`` for ``query``; see ``search.py`` for the fusion and the score fields."""
        if mode not in MODES:
            raise ConfigError(f"search mode {mode!r} is not one of {', '.join(MODES)}")
        cid = store.course_id(self.db, course)
        if cid is None or not query or not query.strip() or k <= 0:
            return []
        self.check_embedder(course, cid)
        qvec = self.embedder.encode_query(query)
        n = max(k, self.config.candidates)
        with self.db.lock:  # writers change the FAISS and BM25 objects in place under this lock
            index = self._dense(course) if mode != "lexical" else None
            lexical = self._lexical(course, cid) if mode != "dense" else None
            ranked = rank(query, qvec, mode, n, index, lexical, self.config, self.embedder.spec.multilingual)
        ids = [i for i, _ in ranked.fused[:k]]
        return to_hits(ranked, ids, store.chunk_rows(self.db, ids), qvec)

    # ------------------------------------------------------------------------------------------ FAQ

    def set_faq(self, course: str, entries: list) -> int:
        """Replace the course's FAQ with ``entries`` (FAQEntry); question embeddings are stored with them."""
        store.check_course(course)
        self.check_embedder(course)
        # FAQ questions are matched against student questions: both are embedded as queries.
        vecs = self.embedder.encode([e.question for e in entries], kind="query") if entries else []
        with self.db.lock:
            cid = store.course_id(self.db, course, create=True)
            with self.db.transaction() as conn:
                if entries:
                    store.claim_course(conn, cid, self.embedder.name, int(vecs.shape[1]))
                store.replace_faq(conn, cid, entries, vecs)
            self._faq_cache.pop(course, None)
        return len(entries)

    def add_faq_entry(self, course: str, question: str, answer: str, language: str | None = None) -> int:
        """Append one entry (from the instructor console); returns its id."""
        store.check_course(course)
        problems = [(0, f"{what} is empty") for what, v in (("question", question), ("answer", answer))
                    if not v or not v.strip()]
        if problems:
            raise FAQFormatError(f"FAQ entry for course {course!r}", problems)
        self.check_embedder(course)
        vec = self.embedder.encode([question.strip()], kind="query")[0]
        with self.db.lock:
            cid = store.course_id(self.db, course, create=True)
            with self.db.transaction() as conn:
                store.claim_course(conn, cid, self.embedder.name, len(vec))
                entry_id = store.insert_faq(conn, cid, question.strip(), answer.strip(), language, vec)
            self._faq_cache.pop(course, None)
            return entry_id

    def faq(self, course: str) -> list:
        return self._faq(course)[0]

    def _faq(self, course: str) -> tuple[list, np.ndarray]:
        """Entries and their question embeddings; rows without a stored embedding are embedded and saved."""
        from knowledge_base.faq_entries import FAQEntry

        cached = self._faq_cache.get(course)
        if cached is not None:
            return cached
        rows = store.faq_rows(self.db, course)
        entries = [FAQEntry(r["question"], r["answer"], course, r["source"], r["language"], bool(r["answerable"]),
                            r["row"], r["id"]) for r in rows]
        blobs = [r["embedding"] for r in rows]
        missing = [i for i, b in enumerate(blobs) if b is None]
        if missing:
            vecs = self.embedder.encode([rows[i]["question"] for i in missing], kind="query")
            with self.db.transaction() as conn:
                store.set_embeddings(conn, "faq", [rows[i]["id"] for i in missing], vecs)
            blobs = store.faq_embeddings(self.db, course)
        matrix = store.from_blobs(blobs)
        self._faq_cache[course] = (entries, matrix)
        return entries, matrix

    def match_faq(self, question: str, course: str = DEFAULT_COURSE):
        """The FAQ entry whose question is closest to ``question`` and the cosine; None without an FAQ.
        Deciding whether the cosine is high enough is the engine's business."""
        self.check_embedder(course)
        entries, matrix = self._faq(course)
        if not entries or not question or not question.strip():
            return None
        sims = matrix @ self.embedder.encode_query(question)
        best = int(np.argmax(sims))
        return entries[best], float(sims[best])

    def ensure_sample_course(self) -> None:
        """Load the built-in sample course (pages ``NN-*.md`` and ``faq.csv``) if course ``sample`` has no
        documents yet. The folder's README is about the folder, not course material, so it is left out."""
        if self.list_documents(DEFAULT_COURSE):
            cid = store.course_id(self.db, DEFAULT_COURSE)
            if store.course_embedder(self.db, cid)[0] != self.embedder.name:
                self.reindex(DEFAULT_COURSE)  # our own course follows the configured embedder by itself
            return
        from knowledge_base.faq_files import load_faq

        pages = sorted(p for p in SAMPLE_COURSE_DIR.glob("*.md") if p.name[:1].isdigit())
        results = self.add(pages, DEFAULT_COURSE)
        failed = [r for r in results if r.status == "error"]
        if failed:
            raise TutorError(f"the sample course could not be loaded: {failed[0].path}: {failed[0].error}")
        self.set_faq(DEFAULT_COURSE, load_faq(SAMPLE_COURSE_DIR / "faq.csv"))

    def close(self) -> None:
        self.db.close()
