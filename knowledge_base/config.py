"""``KBConfig``: every setting of the knowledge base, with its default and a help text.

Its own module because every part reads it (the facade, ingest, the course indexes, search, the CLI and the
UI that fill it) and none of them should have to import the facade for it. Thresholds and weights live
here, not as numbers in the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from basics.errors import ConfigError
from knowledge_base.course_info import CourseInfoLimits
from knowledge_base.embedder import DEFAULT_EMBEDDER

@dataclass
class KBConfig:
    """Knowledge-base settings. Thresholds live here, not in the code."""

    embedder: str = field(default=DEFAULT_EMBEDDER, metadata={
        "help": "registered embedder name (embeddinggemma-300m, all-MiniLM-L6-v2) or a sentence-transformers path"})
    device: str = field(default="cpu", metadata={"help": "torch device for the embedder"})
    chunk_tokens: int = field(default=200, metadata={"help": "max tokens per chunk, in the embedder's tokens"})
    chunk_overlap: int = field(default=32, metadata={"help": "tokens shared by consecutive chunks of a section"})
    hnsw_threshold: int = field(default=20_000, metadata={"help": "chunks per course above which FAISS uses HNSW"})
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 64
    search_threads: int = field(default=1, metadata={"help": "faiss OpenMP threads per query (see index.py)"})
    candidates: int = field(default=50, metadata={"help": "results each leg (dense, BM25) feeds into RRF"})
    rrf_k: int = field(default=20, metadata={"help": "RRF constant: weight / (rrf_k + rank)"})
    dense_weight: float = field(default=1.0, metadata={"help": "RRF weight of the dense leg"})
    lexical_weight: float = field(default=1.0, metadata={"help": "RRF weight of the BM25 leg"})
    cjk_dense_weight: float | None = field(default=None, metadata={
        "help": "RRF weight of the dense leg for Chinese/Japanese queries; None: 2.0 with a multilingual "
                "embedder (EmbeddingGemma finds the right xquad-dev zh paragraph first for 92% of questions, "
                "BM25 over jieba for 85%), 0.1 with an English one (MiniLM: 22%)"})
    rerank: str | None = field(default=None, metadata={
        "help": "reranker (registered with knowledge_base.rerank.register_reranker) that reorders the top "
                "`candidates` fused hits before the top k are kept; None: the RRF order as is"})
    max_file_mb: float = field(default=50.0, metadata={"help": "files larger than this are rejected"})
    keep_originals: tuple[str, ...] = field(default=(".pdf",), metadata={
        "help": "file suffixes whose bytes are kept as added (DATA_DIR/originals), so a citation opens the page "
                "it cites; the other formats are shown from their stored chunks"})
    batch_chunks: int = field(default=512, metadata={"help": "chunks embedded per encode call during ingest"})
    verify_on_open: bool = field(default=True, metadata={"help": "check index/database agreement when opened"})
    course_examples: int = field(default=3, metadata={
        "help": "example questions a course's page offers to click (from its FAQ, else its document titles)"})
    course_limits: CourseInfoLimits = field(default_factory=CourseInfoLimits, metadata={
        "help": "longest title, description, welcome and example question of a course's page"})

    def __post_init__(self) -> None:
        """A wrong setting fails when the config is made, naming the setting, not deep inside a search."""
        positive = ("chunk_tokens", "hnsw_threshold", "search_threads", "candidates", "batch_chunks", "max_file_mb")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"KBConfig.{name} must be positive (got {getattr(self, name)!r}).")
        if not 0 <= self.chunk_overlap < self.chunk_tokens:
            raise ConfigError(f"KBConfig.chunk_overlap must be >= 0 and below chunk_tokens ({self.chunk_tokens}), "
                              f"got {self.chunk_overlap!r}.")
        if self.course_examples < 0:
            raise ConfigError(f"KBConfig.course_examples must not be negative (got {self.course_examples!r}).")
        if any(not isinstance(s, str) or not s.startswith(".") for s in self.keep_originals):
            raise ConfigError(f"KBConfig.keep_originals lists file suffixes such as '.pdf', got {self.keep_originals!r}.")
        if self.rrf_k < 0 or min(self.dense_weight, self.lexical_weight, self.cjk_dense_weight or 0.0) < 0:
            raise ConfigError("KBConfig.rrf_k and the RRF weights must not be negative.")
