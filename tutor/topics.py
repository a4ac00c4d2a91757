"""Questions grouped by meaning: the instructor dashboard's "most asked topics" (``tutor/dashboard.py``).

Students ask one thing in many words ("When is the final exam?", "What time does the final exam start?"), so
counting identical texts undercounts what a class asks most. ``group_questions`` groups their embeddings (the
course's own embedder, unit-norm query vectors, so a dot product is the cosine) around the most asked
questions; ``QuestionVectors`` keeps each question's vector, so a dashboard refresh embeds only new questions;
``normalized`` is what "the same words" means when texts are compared without an embedder.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from knowledge_base.embedder import Embedder


def normalized(text: str) -> str:
    """A question as compared for "the same words": Unicode-folded, case-folded, punctuation and extra spaces gone
    (symbols stay: "C++" is not "C")."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    text = "".join(" " if unicodedata.category(ch)[0] in "PZ" else ch for ch in text)
    return re.sub(r"\s+", " ", text).strip()


class QuestionVectors:
    """Question vectors by text for one embedder (``kind="query"``, unit norm), kept between refreshes so that a
    Refresh embeds only the questions asked since (embedding is the dashboard's only slow step on a CPU). At most
    ``limit`` vectors, the least recently used dropped first: 10,000 EmbeddingGemma vectors take 30 MB."""

    def __init__(self, embedder: "Embedder", limit: int = 10_000):
        self.embedder, self.limit = embedder, limit
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # two instructors may refresh at once

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._items))
        if missing:
            for text, vec in zip(missing, self.embedder.encode(missing, kind="query")):
                self._items[text] = vec
        out = [self._items[t] for t in texts]
        for text in texts:
            self._items.move_to_end(text)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)
        return np.stack(out) if out else np.zeros((0, self.embedder.dim), dtype=np.float32)


def group_questions(vectors: np.ndarray, weights: np.ndarray, threshold: float) -> list[list[int]]:
    """Group unit vectors by meaning, deterministically: the question with the most (weighted) neighbours at
    ``cosine >= threshold`` (of equal neighbourhoods, the most asked) becomes a topic's centre and takes those
    neighbours not yet taken; repeat until every question belongs somewhere. Returns each group's indices, its
    centre first, then by cosine to it.

    Greedy rather than k-means: the number of topics is not known beforehand, the result does not depend on a
    seed, and the work is one similarity matrix (2000 questions: 16 MB, well under a second)."""
    n = len(vectors)
    if n == 0:
        return []
    sims = vectors @ vectors.T
    near = sims >= threshold
    np.fill_diagonal(near, True)
    weights = np.asarray(weights, dtype=np.float64)
    score = near @ weights  # the weight of each question's neighbourhood among the questions still free
    free = np.ones(n, dtype=bool)
    groups = []
    own = weights / (weights.max() + 1)  # under 1: breaks a tie of neighbourhoods by the question's own weight
    while free.any():
        centre = int(np.argmax(np.where(free, score + own, -1.0)))  # then the first: the newest question
        members = np.flatnonzero(near[centre] & free)
        free[members] = False
        score -= near[:, members] @ weights[members]
        order = sorted(members.tolist(), key=lambda j: (j != centre, -sims[centre, j], j))
        groups.append(order)
    return groups
