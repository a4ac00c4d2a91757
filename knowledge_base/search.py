"""Hybrid search: dense (FAISS) + BM25 candidates fused with reciprocal rank fusion (RRF).

RRF (Cormack et al. 2009) adds ``1 / (rrf_k + rank)`` from each ranked list; it needs no score calibration
between cosine and BM25, which live on unrelated scales. Each leg contributes ``candidates`` results.
Every hit gets its cosine to the query (``dense_score``) even when only BM25 found it: the engine uses it
as an absolute evidence threshold when deciding to refuse, and RRF scores are only relative.
"""

from __future__ import annotations

from dataclasses import dataclass

MODES = ("hybrid", "dense", "lexical")


@dataclass
class Hit:
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
