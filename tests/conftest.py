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
    from tutor.config import Paths

    return Paths(tmp_path / "data", MODEL_CACHE)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave things a person may want to look at (screenshots, reports)."""
    path = ROOT / "artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def embedder():
    """One real embedder (bundled all-MiniLM-L6-v2) for the whole session; pass it to KnowledgeBase."""
    from knowledge_base.embedder import Embedder

    return Embedder()
