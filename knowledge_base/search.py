"""Hybrid search: dense (FAISS) + BM25 candidates fused with reciprocal rank fusion (RRF), then an optional
reranker. ``HybridSearch.search`` is what ``KnowledgeBase.search`` runs; the steps are plain functions.

RRF (Cormack et al. 2009) adds ``weight / (rrf_k + rank)`` from each ranked list; it needs no score
calibration between cosine and BM25, which live on unrelated scales. Each leg contributes ``candidates``
results. The weights (``leg_weights``) say how far each leg is trusted for this question: BM25 cannot cross
languages, so with a multilingual embedder its weight is the share of the question's words the course
contains (``LexicalIndex.coverage``); for a Chinese/Japanese question the dense leg counts ``cjk_dense_weight``
(a multilingual embedder is better than BM25 over jieba there, MiniLM far worse).

Every hit gets its cosine to the query (``dense_score``) even when only BM25 found it, from the embedding
stored with the chunk: the engine uses it as an absolute evidence threshold when deciding to refuse, and
RRF scores are only relative. A reranker (``rerank.py``, ``KBConfig.rerank``) may then reorder the top
``candidates`` fused hits before the top k are kept; without one the RRF order is the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from basics.errors import ConfigError
from basics.text import is_cjk
from knowledge_base import store
from knowledge_base.index import search_index
from knowledge_base.lexical import LexicalIndex, tokenize
from knowledge_base.rerank import get_reranker

if TYPE_CHECKING:
    import faiss

    from knowledge_base.config import KBConfig
    from knowledge_base.course_indexes import CourseIndexes
    from basics.db import Database
    from knowledge_base.embedder import Embedder

MODES = ("hybrid", "dense", "lexical")


@dataclass
class Hit:
    """One retrieved chunk. ``score``: fused (RRF, or the reranker's); ``dense_score``: cosine(query, chunk) in
    [-1, 1], always set; ``lexical_score``: BM25, or None when the lexical leg did not find the chunk."""

    chunk_id: str
    doc_id: int
    document: str
    title: str | None
    section: str | None
    page: int | None
    text: str
    start: int
    end: int
    score: float
    dense_score: float
    lexical_score: float | None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def place_label(section: str | None, page: int | None) -> str:
    """Where a passage is inside its document, as a citation shows it: "Self-attention, page 4" (either part
    may be missing). One spelling for the chat, the exported conversation and every CLI listing."""
    return ", ".join(x for x in (section or "", f"page {page}" if page else "") if x)


def rrf_fuse(dense: list[tuple[int, float]], lexical: list[tuple[int, float]], rrf_k: int = 20,
             mode: str = "hybrid", dense_weight: float = 1.0, lexical_weight: float = 1.0) -> list[tuple[int, float]]:
    """(chunk row id, fused score) best first: sum of ``weight / (rrf_k + rank)`` over the lists that
    ``mode`` selects. Weights let a leg known to be weak for a language (MiniLM on Chinese) count less."""
    lists = {"hybrid": ((dense, dense_weight), (lexical, lexical_weight)), "dense": ((dense, 1.0),),
             "lexical": ((lexical, 1.0),)}[mode]
    fused: dict[int, float] = {}
    for ranked, weight in lists:
        for rank, (cid, _) in enumerate(ranked):
            fused[cid] = fused.get(cid, 0.0) + weight / (rrf_k + rank + 1)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


@dataclass
class Ranked:
    """The fused ranking of one query and what each leg said about the chunks it found."""

    fused: list[tuple[int, float]]  # (chunk row id, RRF score), best first
    dense: dict[int, float]  # chunk id -> cosine, for the chunks the dense leg found
    lexical: dict[int, float]  # chunk id -> BM25 score, for the chunks the lexical leg found


def leg_weights(query: str, coverage: float | None, config: KBConfig, multilingual: bool) -> tuple[float, float]:
    """(dense weight, lexical weight) for this question. ``coverage``: the share of its words the course
    contains (None when the lexical leg did not run or the embedder is English-only)."""
    lexical_weight = config.lexical_weight
    if multilingual and coverage is not None:  # a question in another language: BM25 sees only its names
        lexical_weight *= coverage
    dense_weight = config.dense_weight
    if is_cjk(query):
        dense_weight = config.cjk_dense_weight
        if dense_weight is None:
            dense_weight = 2.0 if multilingual else 0.1
    return dense_weight, lexical_weight


def rank(query: str, qvec: np.ndarray, mode: str, n: int, index: faiss.Index | None, lexical: LexicalIndex | None,
         config: KBConfig, multilingual: bool) -> Ranked:
    """Run the legs ``mode`` selects (dense over ``index``, BM25 over ``lexical``), ``n`` results each, and
    fuse them with their weights."""
    dense = search_index(index, qvec, n, config.hnsw_ef_search, config.search_threads) if mode != "lexical" else []
    bm25: list[tuple[int, float]] = []
    coverage = None
    if mode != "dense" and lexical is not None:
        tokens = tokenize(query)
        bm25 = lexical.search(tokens, n)
        if multilingual:
            coverage = lexical.coverage(tokens)
    dense_weight, lexical_weight = leg_weights(query, coverage, config, multilingual)
    fused = rrf_fuse(dense, bm25, config.rrf_k, mode, dense_weight, lexical_weight)
    return Ranked(fused, dict(dense), dict(bm25))


def to_hits(ranked: Ranked, ids: list[int], rows: dict, qvec: np.ndarray) -> list[Hit]:
    """``Hit`` objects for the chunk ``ids`` (in that order) whose rows are still there (a chunk deleted
    between the index lookup and now is left out). A chunk only BM25 found gets its cosine from the
    embedding stored with it, so ``dense_score`` is always the evidence the engine's threshold expects."""
    scores = dict(ranked.fused)
    hits = []
    for i in ids:
        r = rows.get(i)
        if r is None:
            continue
        cos = ranked.dense.get(i)
        if cos is None:
            cos = float(np.frombuffer(r["embedding"], dtype=np.float32) @ qvec)
        hits.append(Hit(r["chunk_key"], r["doc_id"], r["document"], r["title"], r["section"], r["page"],
                        r["text"], r["start"], r["end"], float(scores[i]), float(cos), ranked.lexical.get(i)))
    return hits


class HybridSearch:
    """Searches the courses of one knowledge base: its database, its course indexes and its embedder."""

    def __init__(self, db: Database, indexes: CourseIndexes, config: KBConfig, embedder: Embedder):
        self.db = db
        self.indexes = indexes
        self.config = config
        self.embedder = embedder

    def search(self, query: str, course: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        """Top-k chunks of ``course`` for ``query``: [] for an unknown course, an empty query or k <= 0."""
        if mode not in MODES:
            raise ConfigError(f"search mode {mode!r} is not one of {', '.join(MODES)}")
        cid = store.course_id(self.db, course)
        if cid is None or not query or not query.strip() or k <= 0:
            return []
        store.check_embedder(self.db, course, self.embedder.name, cid)
        reranker = get_reranker(self.config.rerank)  # an unknown name fails before the model runs
        qvec = self.embedder.encode_query(query)
        n = max(k, self.config.candidates)
        with self.db.lock:  # writers change the FAISS and BM25 objects in place under this lock
            index = self.indexes.dense(course) if mode != "lexical" else None
            lexical = self.indexes.lexical(course, cid) if mode != "dense" else None
            ranked = rank(query, qvec, mode, n, index, lexical, self.config, self.embedder.spec.multilingual)
        ids = [i for i, _ in ranked.fused[:k if reranker is None else n]]
        hits = to_hits(ranked, ids, store.chunk_rows(self.db, ids), qvec)
        if reranker is not None:
            hits = list(reranker(query, hits))[:k]
        return hits
