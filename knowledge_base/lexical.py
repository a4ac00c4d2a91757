"""BM25 (bm25s) over chunks, with language-aware tokenisation.

Why a lexical leg at all: it rescues queries with rare exact terms (names, numbers, course codes), and with an
English-only embedder (MiniLM) it is what finds Chinese paragraphs at all. It cannot cross languages: with a
multilingual embedder its weight follows ``coverage``, the share of the query's words the course contains.

Tokenisation: runs of CJK characters are segmented with jieba (search mode, so compound words also yield their
parts); everything else is lowercased word characters with a light English suffix stemmer. Stop words are
dropped. Chunk tokens are computed once at ingest and stored in SQLite, so (re)building the in-memory index
for a course is a split + ``bm25s.index`` (about a second per 100k chunks), never a re-tokenisation.
"""

from __future__ import annotations

import logging

import numpy as np

from basics.text import STOPWORDS, is_cjk_run, words

log = logging.getLogger(__name__)

_jieba = None


def _segment(text: str) -> list[str]:
    global _jieba
    if _jieba is None:  # imported on first Chinese text: jieba builds its prefix dict (~1 s) on first use
        import jieba

        jieba.setLogLevel(logging.WARNING)
        _jieba = jieba
    return [w for w in _jieba.cut_for_search(text) if w.strip()]


def _stem(word: str) -> str:
    """A light English stemmer (plural and a few verb endings); enough to match 'graded' with 'grades'."""
    if len(word) <= 4 or not word.isascii():
        return word
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: len(word) - len(suffix)] + repl
    return word


def tokenize(text: str) -> list[str]:
    """BM25 tokens: Chinese/Japanese runs segmented by jieba, other words stemmed; stopwords dropped."""
    tokens: list[str] = []
    for word in words(text):
        if is_cjk_run(word):
            tokens.extend(w for w in _segment(word) if w not in STOPWORDS)
        elif word not in STOPWORDS:
            tokens.append(_stem(word))
    return tokens


class LexicalIndex:
    """BM25 over one course's chunks; ``ids`` maps bm25s's row numbers to chunk row ids."""

    def __init__(self, ids: list[int], token_lists: list[list[str]], k1: float = 1.5, b: float = 0.75):
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.ids = np.asarray(ids, dtype=np.int64)
        self.bm25 = bm25s.BM25(k1=k1, b=b)
        if ids:
            self.bm25.index(token_lists, show_progress=False)
        self.vocab = self.bm25.vocab_dict if ids else {}

    def __len__(self) -> int:
        return len(self.ids)

    def coverage(self, query_tokens: list[str]) -> float:
        """Share of the query's tokens that occur in the course at all: ~1 for a question in the course's
        language, ~0 for a Chinese question on English pages (whose only known tokens are names like LoRA)."""
        return sum(t in self.vocab for t in query_tokens) / len(query_tokens) if query_tokens else 0.0

    def search(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
        """Top-k (chunk id, BM25 score) with score > 0."""
        known = [t for t in query_tokens if t in self.vocab]
        if not known or not len(self.ids):
            return []
        scores = self.bm25.get_scores(known)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(self.ids[i]), float(scores[i])) for i in top if scores[i] > 0]
