"""``KnowledgeBase``: the public facade (documents, search, FAQ) used by the engine, the CLI and the app.

It composes the parts and holds little logic of its own, so each part can be read (and tested) alone:

* ``store.py``: every SQL statement (courses, documents, chunks, embeddings; the FAQ rows' in ``faq_store.py``);
* ``course_indexes.py``: each course's FAISS + BM25 index in memory, verified against SQLite and repaired;
* ``ingest.py``: the write path (files, folders, texts -> chunks -> vectors -> one transaction per
  document -> index update) and delete;
* ``search.py``: hybrid search (dense + BM25, weights, RRF, evidence cosines), then ``rerank.py``;
* ``faq_match.py``: the FAQ of each course with its question embeddings, and the nearest match;
* ``sources.py`` and ``originals.py``: a cited passage in its section, and the kept PDFs it is shown from.

What stays here is what spans them: ``reindex`` (chunks, FAQ and index of a course swapped to another
embedder in one transaction), ``stats``, a course's page (``course_info``: its texts with examples drawn from
its FAQ or documents, rules in ``course_info.py``) and the built-in sample course. SQLite is the source of truth; the
FAISS files and BM25 indexes are caches of it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np

from basics.config import DEFAULT_COURSE, Paths
from basics.errors import ConfigError, IngestError, TutorError
from knowledge_base import faq_store, store
from knowledge_base.config import KBConfig
from knowledge_base.course_indexes import CourseIndexes
from knowledge_base.course_info import CourseInfo, clean_fields, example_questions, read_course_file
from knowledge_base.embedder import Embedder
from knowledge_base.faq_entries import FAQEntry
from knowledge_base.faq_files import load_faq
from knowledge_base.faq_match import CourseFAQs
from knowledge_base.index import is_hnsw
from knowledge_base.originals import Originals
from knowledge_base.ingest import AddResult, Ingest, file_source, file_sources, safe_name, text_source
from knowledge_base.rerank import get_reranker
from knowledge_base.search import Hit, HybridSearch
from knowledge_base.sources import CitedPassage, cited_passage
from knowledge_base.store import DocumentInfo

log = logging.getLogger(__name__)

SAMPLE_COURSE_DIR = Path(__file__).resolve().parent / "sample_course"
# The courses that ship with the project, by course id: the sample course (how Transformers and fine-tuning
# work, in English, the one every answer figure is tuned on) and an introductory statistics course in
# Portuguese, never tuned on (tests/data/statistics_course_questions.jsonl asks it in ten languages).
BUILTIN_COURSES = {DEFAULT_COURSE: SAMPLE_COURSE_DIR, "estatistica": SAMPLE_COURSE_DIR.parent / "statistics_course"}


class KnowledgeBase:
    """Documents, chunks, per-course FAISS + BM25 indexes and FAQs over one SQLite database.

    ``embedder``: share one (its weights load on first use, not here) between several knowledge bases;
    by default one is made from ``config.embedder``.
    """

    def __init__(self, paths: Paths, config: KBConfig | None = None, embedder: Embedder | None = None):
        self.paths = paths
        self.config = config or KBConfig()
        get_reranker(self.config.rerank)  # a misspelt reranker fails when opened, not at the first question
        self.db = store.open_database(paths.db_path)
        if embedder is None:
            embedder = Embedder(self.config.embedder, device=self.config.device, cache_dir=paths.cache_dir)
        self._embedder = embedder
        self.indexes = CourseIndexes(self.db, self.config, paths.indexes_dir, self.embedder)
        self.originals = Originals(paths.originals_dir)
        self.ingest = Ingest(self.db, self.indexes, self.config, self.embedder, self.originals)
        self.searcher = HybridSearch(self.db, self.indexes, self.config, self.embedder)
        self.faqs = CourseFAQs(self.db, self.embedder)
        if self.config.verify_on_open:
            for course in self.courses():
                self.indexes.dense(course)

    @classmethod
    def open(cls, data_dir: str | Path | None = None, embedder: str | None = None) -> "KnowledgeBase":
        """The knowledge base of a data directory (None: ``TUTOR_DATA_DIR`` or the per-user one), with the
        named embedder (None: the default): what every CLI command opens."""
        return cls(Paths.from_env(data_dir), KBConfig(embedder=embedder) if embedder else KBConfig())

    @property
    def embedder(self) -> Embedder:
        """The embedder of this knowledge base (read-only: every part was given this one)."""
        return self._embedder

    @property
    def repaired(self) -> list[str]:
        """Courses whose index disagreed with the database and was rebuilt from it."""
        return self.indexes.repaired

    def index_path(self, course: str, embedder: str | None = None) -> Path:
        """Where the course's FAISS index is (``indexes/EMBEDDER/COURSE.faiss``)."""
        return self.indexes.path(course, embedder)

    def check_embedder(self, course: str, cid: int | None = None) -> None:
        """Raise ``EmbedderMismatchError`` when the course's vectors were made by another embedder."""
        store.check_embedder(self.db, course, self.embedder.name, cid)

    # ------------------------------------------------------------------------------------------ documents

    def add(self, paths: list[Path], course: str = DEFAULT_COURSE, progress: bool = False) -> list[AddResult]:
        """Add files and folders (recursively, supported suffixes only). Names: the file name, or the path
        relative to the folder given. Never raises for one bad file: its result says ``error``."""
        return self._recorded(course, self.ingest.add(course, file_sources(paths, self._max_bytes()), progress))

    def add_file(self, path: Path, course: str = DEFAULT_COURSE, name: str | None = None) -> AddResult:
        """Add one file; ``name`` is the upload's file name (sanitised: see ``ingest.safe_name``). Raises
        ``IngestError`` when the file cannot be added; a duplicate is a ``skipped`` result, not an error."""
        path = Path(path)
        source = file_source(path, safe_name(name or path.name, str(path)), self._max_bytes())
        result = self._recorded(course, self.ingest.add(course, [source]))[0]
        if result.status == "error":
            raise IngestError(str(path), result.error)
        return result

    def add_texts(self, course: str, docs: list[tuple[str, str]], progress: bool = False,
                  embed: Callable[[list[str]], np.ndarray] | None = None) -> list[AddResult]:
        """Add in-memory documents ``(name, text)`` (Markdown structure is honoured). ``embed`` replaces the
        embedder for this call: benchmarks use it to insert precomputed vectors through the normal path."""
        return self._recorded(course, self.ingest.add(course, [text_source(n, t) for n, t in docs], progress, embed))

    def delete(self, course: str, name: str) -> bool:
        """Remove a document and its chunks from the database and the index. False if it was not there."""
        return self._recorded(course, self.ingest.delete(course, name))

    def course_language(self, course: str) -> str | None:
        """The course's main language, recorded when its documents change (None: no documents yet)."""
        cid = store.course_id(self.db, course)
        return store.course_language(self.db, cid) if cid is not None else None

    def _recorded(self, course: str, outcome):
        """Record ``course``'s main language after its documents changed (detected from up to 40 of its
        chunks); passes ``outcome`` through."""
        from basics.language import detect_language

        cid = store.course_id(self.db, course)
        if cid is not None:
            texts = store.chunk_sample(self.db, cid, 40)
            language = detect_language(" ".join(texts)[:4000]) if texts else None
            with self.db.transaction() as conn:
                store.set_course_language(conn, cid, language)
        return outcome

    def _max_bytes(self) -> int:
        return int(self.config.max_file_mb * 2**20)

    # ------------------------------------------------------------------------------------------ listing

    def courses(self) -> list[str]:
        return list(store.course_titles(self.db))

    def course_titles(self) -> dict[str, str]:
        """Every course's title by course id, in id order (the id itself where no title was set)."""
        return {name: title or name for name, title in store.course_titles(self.db).items()}

    def course_info(self, course: str) -> CourseInfo:
        """What the student page says about ``course``: its title (the id when unset), description, welcome
        and up to ``KBConfig.course_examples`` example questions. ``ConfigError`` for a course that does not exist."""
        cid = self._existing_course(course)
        texts = store.course_texts(self.db, cid)
        examples = example_questions(faq_store.faq_rows(self.db, course), self.list_documents(course),
                                     self.config.course_examples, self.config.course_limits)
        return CourseInfo(course, texts["title"] or course, texts["description"] or "", texts["welcome"] or "", examples)

    def set_course_info(self, course: str, title: str | None = None, description: str | None = None,
                        welcome: str | None = None) -> CourseInfo:
        """Set the given texts of an existing course (None: keep; "": clear, the title then shows the id).
        Control characters are dropped; a text over ``KBConfig.course_limits`` is a ``ConfigError`` and
        nothing is changed. Returns the course's info as students now see it."""
        cid = self._existing_course(course)
        texts = clean_fields(self.config.course_limits, title, description, welcome)  # all checked before any write
        with self.db.transaction() as conn:
            store.set_course_texts(conn, cid, texts)
        return self.course_info(course)

    def create_course(self, course: str, title: str = "") -> CourseInfo:
        """An empty course (until now a course came into being with its first document): an admin creates it
        so that its instructors can be given it first. ``ConfigError`` for a bad id, a title too long, or a
        course that exists already (its documents are never touched)."""
        store.check_course(course)
        texts = clean_fields(self.config.course_limits, title=title or "")
        with self.db.transaction() as conn:  # the check and the insert in one: two admins cannot both create it
            if store.course_id(self.db, course) is not None:
                raise ConfigError(f"course {course!r} exists already; nothing was changed")
            store.set_course_texts(conn, store.course_id(self.db, course, create=True), texts)
        return self.course_info(course)

    def _existing_course(self, course: str) -> int:
        store.check_course(course)
        cid = store.course_id(self.db, course)
        if cid is None:
            raise ConfigError(f"no course {course!r} (add its documents first); courses: {', '.join(self.courses()) or 'none'}")
        return cid

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
            index = self.indexes.dense(name)
            embedder, dim = store.course_embedder(self.db, cid)
            out[name] = {**counts, "embedder": embedder, "dim": dim, "language": store.course_language(self.db, cid),
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
        cid = self._existing_course(course)
        before, _ = store.course_embedder(self.db, cid)
        chunk_ids, texts = store.chunk_texts(self.db, cid)
        faq_ids, questions = faq_store.faq_questions(self.db, cid)
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
            self.faqs.forget(course)
            self.indexes.reload(course)
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
        return self.searcher.search(query, course, k, mode)

    def cited_passage(self, key: str) -> CitedPassage | None:
        """The chunk a citation names (its ``chunk_id``, a chunk key) in its section, with the kept file of its
        PDF: what the source viewer shows (``sources.py``). None when no chunk has that key any more (its
        document was deleted or replaced); ``ValueError`` for a key that is not shaped like one."""
        return cited_passage(self.db, self.originals, key)

    # ------------------------------------------------------------------------------------------ FAQ

    def set_faq(self, course: str, entries: list[FAQEntry]) -> int:
        """Replace the course's FAQ with ``entries``; question embeddings are stored with them."""
        return self.faqs.set(course, entries)

    def add_faq_entry(self, course: str, question: str, answer: str, language: str | None = None) -> int:
        """Append one entry (from the instructor console); returns its id."""
        return self.faqs.add(course, question, answer, language)

    def faq(self, course: str) -> list[FAQEntry]:
        return self.faqs.entries(course)

    def match_faq(self, question: str, course: str = DEFAULT_COURSE) -> tuple[FAQEntry, float] | None:
        """The FAQ entry whose question is closest to ``question`` and the cosine; None without an FAQ.
        Deciding whether the cosine is high enough is the engine's business."""
        return self.faqs.match(question, course)

    def ensure_sample_course(self, course: str = DEFAULT_COURSE) -> None:
        """Load a built-in course (``BUILTIN_COURSES``: pages ``NN-*.md``, ``faq.csv``, and its title,
        description and welcome in ``course.json``) if it has no documents yet. The folder's README is about
        the folder, not course material, so it is left out. A course loaded before ``course.json`` existed
        gets its texts now; texts an instructor has set are kept."""
        folder = BUILTIN_COURSES[course]
        if self.list_documents(course):
            cid = store.course_id(self.db, course)
            if store.course_embedder(self.db, cid)[0] != self.embedder.name:
                self.reindex(course)  # our own course follows the configured embedder by itself
        else:
            pages = sorted(p for p in folder.glob("*.md") if p.name[:1].isdigit())
            results = self.add(pages, course)
            failed = [r for r in results if r.status == "error"]
            if failed:
                raise TutorError(f"the built-in course {course} could not be loaded: {failed[0].path}: {failed[0].error}")
            self.set_faq(course, load_faq(folder / "faq.csv"))
        if all(text is None for text in store.course_texts(self.db, store.course_id(self.db, course)).values()):
            self.set_course_info(course, **read_course_file(folder))

    def close(self) -> None:
        self.db.close()
