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
import re

import numpy as np

log = logging.getLogger(__name__)

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_]+", re.UNICODE)
_IS_CJK = re.compile(rf"[{_CJK}]")

STOPWORDS = frozenset(
    """a an and are as at be but by for from has have he her his i if in into is it its of on or our she so
    than that the their them then there these they this to was we were what when where which who whom why will
    with you your do does did how can could would should may might not no yes been being about also
    的 了 是 在 和 与 及 或 也 就 都 而 及 着 之 其 这 那 个 一个 有 为 以 于 上 中 对 把 被 让 给 从 到 吗 呢 吧 啊 什么 哪 哪个 哪些 谁 如何 怎么 多少 几
    """.split()
)

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


def is_cjk(text: str, threshold: float = 0.3) -> bool:
    """True when CJK characters make up at least ``threshold`` of the non-space characters."""
    chars = [c for c in text if not c.isspace()]
    return bool(chars) and len(_IS_CJK.findall(text)) >= threshold * len(chars)


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    for m in _TOKEN.finditer(text):
        piece = m.group(0)
        if _IS_CJK.match(piece):
            tokens.extend(w for w in _segment(piece) if w not in STOPWORDS)
        else:
            word = piece.lower()
            if word not in STOPWORDS:
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
