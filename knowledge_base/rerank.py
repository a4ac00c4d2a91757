"""Rerankers: a second look at the fused hits of a search, before its top k are kept.

RRF (``search.py``) only combines two rankings; a reranker can judge a question and a passage together (a
cross-encoder, a rule for a course, a lexical re-sort). It is a plain function registered by name, and
``KBConfig.rerank`` names the one a knowledge base uses; with None (the default) the search is the RRF
order, untouched. Nothing is registered here: a plugin, a benchmark or a test registers its own, the way
embedders and loaders are registries.

A reranker gets the question and the top ``KBConfig.candidates`` fused hits (or ``k``, if more), best
first, each with its ``score`` (RRF), ``dense_score`` (cosine) and ``lexical_score`` (BM25 or None); it
returns hits best first (a reordering or a subset; it may set ``score``), and the search keeps the first k.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from basics.errors import ConfigError

if TYPE_CHECKING:
    from knowledge_base.search import Hit

Reranker = Callable[[str, "list[Hit]"], "list[Hit]"]
RERANKERS: dict[str, Reranker] = {}


def register_reranker(name: str, fn: Reranker) -> Reranker:
    """Make ``fn(question, hits) -> hits`` selectable as ``KBConfig(rerank=name)``; a name registered
    again is replaced. Returns ``fn``."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a reranker needs a non-empty name, got {name!r}")
    RERANKERS[name] = fn
    return fn


def get_reranker(name: str | None) -> Reranker | None:
    """The reranker registered as ``name``; None for None. An unknown name is a ``ConfigError`` that says
    which names exist."""
    if name is None:
        return None
    fn = RERANKERS.get(name)
    if fn is None:
        known = ", ".join(sorted(RERANKERS)) or "none registered"
        raise ConfigError(f"unknown reranker {name!r} (KBConfig.rerank); registered rerankers: {known}. "
                          "Register one with knowledge_base.rerank.register_reranker(name, fn), or set "
                          "rerank=None")
    return fn
