"""The course knowledge base: documents, chunks, a FAISS index per course and SQLite metadata.

Public API (see docs/architecture.md): ``KnowledgeBase, KBConfig, Hit, AddResult, DocumentInfo, FAQEntry,
load_faq``. Importing the package loads no model; the embedder is created on first use.
"""

from knowledge_base.facade import AddResult, DocumentInfo, KBConfig, KnowledgeBase
from knowledge_base.embedder import Embedder
from knowledge_base.search import Hit

__all__ = ["KnowledgeBase", "KBConfig", "Hit", "AddResult", "DocumentInfo", "Embedder", "FAQEntry", "load_faq"]


def __getattr__(name: str):
    """``FAQEntry`` / ``load_faq`` come from ``faq.py``; imported lazily so this package never depends on it
    at import time."""
    if name in ("FAQEntry", "load_faq"):
        from knowledge_base import faq

        return getattr(faq, name)
    raise AttributeError(f"module 'knowledge_base' has no attribute {name!r}")
