"""The course knowledge base: documents, chunks, a FAISS index per course and SQLite metadata."""
