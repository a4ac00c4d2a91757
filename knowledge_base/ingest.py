"""The write path for documents: files, folders and in-memory texts in, chunks and vectors stored; delete.

``Ingest.add``: load + chunk each source -> embed a batch of chunks in one ``encode`` call (so ingest runs at
nearly the raw model speed) -> one SQLite transaction per document (document row + chunk rows with their
embeddings) -> update the course's FAISS index in memory -> write it atomically once per call. A file is
read once: its bytes are hashed (duplicate detection) and parsed from the same read.

Never raises for one bad file: its ``AddResult`` says ``error`` with a reason, and nothing of it is stored.
A file whose format the source viewer draws (``KBConfig.keep_originals``: PDF) is kept as added once its
document commits (``originals.py``), replaced with it and removed when it is deleted; the same file added
again (skipped as a duplicate) restores a kept file that is missing.
A crash between the database commit and the index write is repaired on the next open (``course_indexes.py``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from basics.db import Database
from basics.errors import IngestError
from knowledge_base import store
from knowledge_base.chunking import Chunk, chunk_document
from knowledge_base.config import KBConfig
from knowledge_base.course_indexes import CourseIndexes
from knowledge_base.embedder import Embedder
from knowledge_base.lexical import tokenize
from knowledge_base.loaders import (LOADERS, LoadedDocument, assemble, load_document, markdown_blocks,
                                    read_document_bytes)
from knowledge_base.originals import Originals

log = logging.getLogger(__name__)

Embed = Callable[[list[str]], np.ndarray]  # texts -> vectors, in place of the embedder (benchmarks)


@dataclass
class AddResult:
    """What became of one file or text: ``status`` is "added" | "replaced" | "skipped" | "error"."""

    path: str
    name: str
    status: str  # "added" | "replaced" | "skipped" | "error"
    doc_id: int | None = None
    chunks: int = 0
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Source:
    """Something to add: ``load()`` returns the document and its content hash, or raises ``IngestError``."""

    path: str
    name: str
    load: Callable[[], tuple[LoadedDocument, str]]


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
    original: bytes | None = None  # the file's bytes, when its format is kept (KBConfig.keep_originals)


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


def file_source(path: Path, name: str, max_bytes: int) -> Source:
    """A file on disk, read once when loaded: the hash and the parser see the same bytes."""

    def load() -> tuple[LoadedDocument, str]:
        data = read_document_bytes(path, max_bytes)
        doc = load_document(path, data=data)
        doc.original = data
        return doc, hashlib.sha256(data).hexdigest()

    return Source(str(path.resolve()), name, load)


def file_sources(paths: list[Path], max_bytes: int) -> list[Source]:
    """Files and folders (recursively: supported suffixes only, hidden paths skipped). Names: the file
    name, or the path relative to the folder given."""
    sources = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                rel = f.relative_to(path)
                if f.is_file() and f.suffix.lower() in LOADERS and not any(p.startswith(".") for p in rel.parts):
                    sources.append(file_source(f, safe_name(rel.as_posix()), max_bytes))
        else:
            sources.append(file_source(path, safe_name(path.name, str(path)), max_bytes))
    return sources


def text_source(name: str, text: str) -> Source:
    """An in-memory document (Markdown structure is honoured); its hash is the hash of its UTF-8 text."""

    def load() -> tuple[LoadedDocument, str]:
        title, blocks = markdown_blocks(text)
        return assemble(Path(name), title or Path(name).stem, blocks), hashlib.sha256(text.encode()).hexdigest()

    return Source(name, safe_name(name), load)


class Ingest:
    """Adds and deletes the documents of one knowledge base (its database, course indexes and embedder)."""

    def __init__(self, db: Database, indexes: CourseIndexes, config: KBConfig, embedder: Embedder,
                 originals: Originals | None = None):
        self.db = db
        self.indexes = indexes
        self.config = config
        self.embedder = embedder
        self.originals = originals  # None: no file is kept

    def add(self, course: str, sources: list[Source], progress: bool = False,
            embed: Embed | None = None) -> list[AddResult]:
        """Add ``sources`` to ``course``, one ``AddResult`` per source in order. ``embed`` replaces the
        embedder for this call (benchmarks insert precomputed vectors through the normal path)."""
        store.check_course(course)
        cid = store.course_id(self.db, course)
        # Before any work: the whole call would fail at its first commit.
        store.check_embedder(self.db, course, self.embedder.name, cid)
        results: list[AddResult | None] = [None] * len(sources)
        batch: list[_Prepared] = []
        seen: dict[str, str] = {}
        from tqdm import tqdm

        for slot, source in enumerate(tqdm(sources, desc=f"adding to {course}", unit="file", disable=not progress)):
            path, name = source.path, source.name
            try:
                doc, digest = source.load()
                dup = store.find_by_hash(self.db, cid, digest) if cid is not None else None
                if dup is not None or digest in seen:
                    other = dup["name"] if dup is not None else seen[digest]
                    if dup is not None:
                        self._restore_original(int(dup["id"]), digest, doc)
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
                self.indexes.flush(course)
        return results

    def delete(self, course: str, name: str) -> bool:
        """Remove a document and its chunks from the database and the index. False if it was not there."""
        with self.db.lock:
            cid = store.course_id(self.db, course)
            if cid is None:
                return False
            index = self.indexes.dense(course)
            with self.db.transaction() as conn:
                row = store.find_document(self.db, cid, name)
                if row is None:
                    return False
                removed = store.delete_document(conn, int(row["id"]))
            if self.originals is not None:
                self.originals.drop(int(row["id"]))
            self.indexes.update(course, index, removed, [], [])
            self.indexes.flush(course)
            log.info("deleted %s from course %r", name, course)
            return True

    def _kept(self, doc: LoadedDocument) -> bytes | None:
        """The bytes of ``doc`` to keep as its original (its format is in ``KBConfig.keep_originals``), else None."""
        return doc.original if doc.path.suffix.lower() in self.config.keep_originals else None

    def _restore_original(self, doc_id: int, digest: str, doc: LoadedDocument) -> None:
        """A file skipped as a duplicate still brings back its stored twin's kept original when that is missing
        (a PDF added before originals were kept, or a crash between the commit and the write): adding the same
        PDF again is how an instructor gets its pages shown."""
        data = self._kept(doc)
        if self.originals is not None and data is not None and self.originals.read(doc_id, digest) is None:
            self.originals.keep(doc_id, data)

    def _prepare(self, doc: LoadedDocument, name: str, digest: str) -> _Prepared:
        emb = self.embedder
        max_tokens = min(self.config.chunk_tokens, emb.max_tokens - 8)
        chunks = chunk_document(doc, emb, max_tokens, self.config.chunk_overlap, digest)
        if not chunks:
            raise IngestError(str(doc.path), "no text left after chunking")
        return _Prepared(str(doc.path), name, doc.title, digest, chunks, [tokenize(ch.text) for ch in chunks],
                         original=self._kept(doc))

    def _embed_and_commit(self, course: str, batch: list[_Prepared], results: list[AddResult | None],
                          embed: Embed | None, progress: bool = False) -> None:
        texts = [ch.text for item in batch for ch in item.chunks]
        # Embedding is most of an ingest's time (EmbeddingGemma: ~4 chunks/s on 2 cores): its own bar.
        vecs = embed(texts) if embed else self.embedder.encode(texts, progress=progress)
        pos = 0
        for item in batch:
            item.vectors = vecs[pos:pos + len(item.chunks)]
            pos += len(item.chunks)
        self._commit(course, batch, results)

    def _commit(self, course: str, items: list[_Prepared], results: list[AddResult | None]) -> None:
        """One transaction per document, then one in-memory index update for the whole batch."""
        with self.db.lock:
            cid = store.course_id(self.db, course, create=True)
            index = self.indexes.dense(course)
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
                if self.originals is not None:  # after the commit: a file never outlives a rolled-back document
                    if item.original is not None:
                        self.originals.keep(doc_id, item.original)
                    else:
                        self.originals.drop(doc_id)
                added_ids += ids
                added_vecs.append(item.vectors)
                results[item.slot] = AddResult(item.path, item.name, status, doc_id, len(ids))
                log.info("%s %s (%d chunks) in course %r", status, item.name, len(ids), course)
            if removed or added_ids:
                self.indexes.update(course, index, removed, added_ids, added_vecs)
