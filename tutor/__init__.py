"""coursetutor: a self-hosted tutoring bot for a course.

Subpackages: ``knowledge_base`` (documents, chunks, FAISS + SQLite, hybrid search), ``tutor`` (models,
prompts, the answering engine, CLI), ``finetune`` (LoRA on FAQ pairs, batch evaluation).
"""

__version__ = "0.1.0"
