"""Shared fixtures. Models are real; only their dequantized cache is shared across the session.

``TUTOR_CACHE_DIR`` points every test at one model cache (``.cache/test-models`` in the checkout,
ignored by git), so each bundled GGUF is dequantized once per machine, not once per test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
MODEL_CACHE = ROOT / ".cache" / "test-models"
MODEL_CACHE.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("TUTOR_CACHE_DIR", str(MODEL_CACHE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def paths(tmp_path):
    """A fresh data directory (own SQLite file and indexes) sharing the session's model cache."""
    from basics.config import Paths

    return Paths(tmp_path / "data", MODEL_CACHE)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave things a person may want to look at (screenshots, reports)."""
    path = ROOT / "artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def embedder():
    """The bundled all-MiniLM-L6-v2 for the whole session, for tests of the knowledge base's mechanics
    (storage, chunking, repair): ~6x faster to ingest with than the default EmbeddingGemma."""
    from knowledge_base.embedder import Embedder

    return Embedder("all-MiniLM-L6-v2", cache_dir=MODEL_CACHE)


@pytest.fixture(scope="session")
def default_embedder():
    """The default embedder (EmbeddingGemma-300M, multilingual) for the whole session: what users get."""
    from knowledge_base.embedder import DEFAULT_EMBEDDER, Embedder

    return Embedder(DEFAULT_EMBEDDER, cache_dir=MODEL_CACHE)
