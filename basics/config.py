"""Where data lives, and the settings shared by every subsystem.

Nothing deep in the code reads ``os.environ``: the CLI and the app resolve paths here once and pass
``Paths`` down. Precedence for the data directory: ``--data-dir`` flag > ``TUTOR_DATA_DIR`` > the
per-user data directory (``platformdirs``). The model cache defaults to ``DATA_DIR/cache`` and can be
shared between data directories with ``TUTOR_CACHE_DIR`` (the tests do this so models dequantize once).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "coursetutor"
DEFAULT_COURSE = "sample"


def resolve_data_dir(value: str | os.PathLike | None = None) -> Path:
    """The data directory: explicit value, else ``TUTOR_DATA_DIR``, else the per-user data dir."""
    raw = value or os.environ.get("TUTOR_DATA_DIR") or platformdirs.user_data_dir(APP_NAME)
    path = Path(raw).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Paths:
    """Every on-disk location, derived from one data directory."""

    data_dir: Path
    cache_override: Path | None = None

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike | None = None) -> "Paths":
        cache = os.environ.get("TUTOR_CACHE_DIR")
        return cls(resolve_data_dir(data_dir), Path(cache).expanduser().resolve() if cache else None)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tutor.db"

    @property
    def indexes_dir(self) -> Path:
        return self._dir("indexes")

    @property
    def adapters_dir(self) -> Path:
        return self._dir("adapters")

    @property
    def originals_dir(self) -> Path:
        """Files kept as added (PDFs), so a citation can show the page it cites (``knowledge_base/originals.py``)."""
        return self._dir("originals")

    @property
    def reports_dir(self) -> Path:
        return self._dir("reports")

    @property
    def cache_dir(self) -> Path:
        path = self.cache_override or self.data_dir / "cache"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _dir(self, name: str) -> Path:
        path = self.data_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path
