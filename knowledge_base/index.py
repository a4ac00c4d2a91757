"""One FAISS index per course on disk: ``indexes/EMBEDDER/COURSE.faiss``, ids = chunk row ids (``IndexIDMap2``).

Flat (exact inner product) below ``hnsw_threshold`` vectors, HNSW above it: flat search is exact and
~2 ms at 10k vectors, but grows linearly; HNSW stays about a millisecond at 100k. HNSW cannot remove ids,
so a delete on an HNSW index rebuilds it from the embeddings kept in SQLite (see ``store.py``).

Writes are atomic: the index is written to a temp file in the same directory, fsynced, then renamed over
the old one, so a crash leaves either the old or the new index, never a torn file. Whether that file
agrees with the database is checked by ``CourseIndexes`` (``course_indexes.py``: ids compared on open and on
a course's first use) and repaired from SQLite.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)


def build_index(dim: int, ids: np.ndarray, vectors: np.ndarray, hnsw_threshold: int, hnsw_m: int = 32,
                ef_construction: int = 80, ef_search: int = 64) -> faiss.Index:
    """A fresh ``IndexIDMap2`` over flat IP or HNSW (IP), depending on the number of vectors."""
    if len(ids) >= hnsw_threshold:
        inner = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = ef_construction
        inner.hnsw.efSearch = ef_search
    else:
        inner = faiss.IndexFlatIP(dim)
    index = faiss.IndexIDMap2(inner)
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
    return index


def is_hnsw(index: faiss.Index) -> bool:
    return isinstance(faiss.downcast_index(index.index), faiss.IndexHNSW)


def index_ids(index: faiss.Index) -> np.ndarray:
    return faiss.vector_to_array(index.id_map).astype(np.int64)


def save_index(index: faiss.Index, path: Path) -> None:
    """Atomic write: temp file in the same directory + fsync + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        faiss.write_index(index, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_index(path: Path) -> faiss.Index | None:
    """The stored index, or None when missing or unreadable (the caller rebuilds it from SQLite)."""
    if not path.exists():
        return None
    try:
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexIDMap2):
            index = faiss.downcast_index(index)
        if not isinstance(index, faiss.IndexIDMap2):
            raise RuntimeError(f"unexpected index type {type(index).__name__}")
        return index
    except Exception as exc:  # faiss raises RuntimeError on a torn or foreign file
        log.warning("index %s is unreadable (%s); it will be rebuilt from the database", path, exc)
        return None


def search_index(index: faiss.Index | None, query: np.ndarray, k: int, ef_search: int = 64,
                 threads: int = 1) -> list[tuple[int, float]]:
    """Top-k (chunk id, inner product) for one normalised query vector (none for a course without chunks).

    ``threads``: OpenMP threads for this search. One query gains nothing from several, and on a CPU shared
    with other work they wait on each other: measured on 2 busy cores, a flat 10k search took 48 ms with 2
    threads and 0.3 ms with 1. Builds keep faiss's default; callers serialise searches and builds.
    """
    if index is None or index.ntotal == 0 or k <= 0:
        return []
    if is_hnsw(index):
        faiss.downcast_index(index.index).hnsw.efSearch = max(ef_search, k)
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, index.ntotal))
    finally:
        faiss.omp_set_num_threads(previous)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
