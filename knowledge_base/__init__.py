"""The course knowledge base: documents, chunks, a FAISS index per course and SQLite metadata.

Public API (see docs/architecture.md): ``KnowledgeBase, KBConfig, Hit, AddResult, DocumentInfo, CourseInfo,
FAQEntry, load_faq``. Importing the package loads no model; the embedder's weights load on first use.
"""

from knowledge_base.config import KBConfig
from knowledge_base.course_info import CourseInfo
from knowledge_base.embedder import Embedder
from knowledge_base.facade import KnowledgeBase
from knowledge_base.ingest import AddResult
from knowledge_base.search import Hit
from knowledge_base.store import DocumentInfo

__all__ = ["KnowledgeBase", "KBConfig", "Hit", "AddResult", "DocumentInfo", "CourseInfo", "Embedder", "FAQEntry",
           "load_faq"]


def __getattr__(name: str):
    """``FAQEntry`` / ``load_faq`` come from the FAQ modules; imported lazily so importing this package
    never loads the FAQ file parsers."""
    if name == "FAQEntry":
        from knowledge_base.faq_entries import FAQEntry

        return FAQEntry
    if name == "load_faq":
        from knowledge_base.faq_files import load_faq

        return load_faq
    raise AttributeError(f"module 'knowledge_base' has no attribute {name!r}")
