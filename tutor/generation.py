"""Old import path of the generators, kept for the modules outside ``tutor/generators/`` that still use it.

The generators now live one family per module under ``tutor/generators/`` (``base``, ``llamacpp``,
``transformers``, ``remote``) and are registered by name in ``tutor/backends.py``. New code imports from
there; these names stay importable from here because these callers import them from this path:

    QueueWait           tutor/engine.py, app.py
    OPTIMIZATIONS       tutor/cli_engine.py
    LlamaCppGenerator   tests/test_engine.py
    LocalGenerator      bench/generation.py
    optimize_model      bench/decode_step.py
"""

from __future__ import annotations

from tutor.generators.base import QueueWait
from tutor.generators.llamacpp import LlamaCppGenerator
from tutor.generators.transformers import OPTIMIZATIONS, LocalGenerator, optimize_model

__all__ = ["LlamaCppGenerator", "LocalGenerator", "OPTIMIZATIONS", "QueueWait", "optimize_model"]
