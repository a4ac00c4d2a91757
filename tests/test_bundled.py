"""Split GGUF assembly (basics/bundled.py): parts found without importing them, hash checked, nothing
half-written in the cache when a part is missing, truncated or corrupt. Uses small part packages made
here; the real 1.5B parts are assembled by the slow tests and `bash .ci/setup`'s first app start."""

from __future__ import annotations

import hashlib
import sys

import pytest

from basics.bundled import QWEN25_05B, QWEN25_15B, SplitGGUF
from basics.errors import ModelError

PARTS = [b"GGUF" + bytes(range(256)) * 40, b"second part" * 500, b"tail"]


def make_parts(root, dist="fakemodel_part", payloads=PARTS):
    for i, data in enumerate(payloads, 1):
        pkg = root / f"{dist}{i}"
        (pkg / "data").mkdir(parents=True)
        # importing this package would fail the test: assembly must only locate it
        (pkg / "__init__.py").write_text("raise RuntimeError('weight packages must not be imported')\n")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)


@pytest.fixture
def split(tmp_path, monkeypatch):
    site = tmp_path / "site"
    make_parts(site)
    monkeypatch.syspath_prepend(str(site))
    blob = b"".join(PARTS)
    return SplitGGUF("fake.gguf", "fakemodel-part", len(PARTS), "1.0", len(blob), hashlib.sha256(blob).hexdigest(),
                     "a test model"), site


def test_assembles_once_and_verifies(split, tmp_path):
    spec, _ = split
    path = spec.assemble(tmp_path / "cache")
    assert path.read_bytes() == b"".join(PARTS)
    assert not any("fakemodel_part" in m for m in sys.modules)  # located, never imported
    before = path.stat().st_mtime_ns
    assert spec.assemble(tmp_path / "cache") == path and path.stat().st_mtime_ns == before  # reused


def test_corrupt_part_leaves_nothing_in_the_cache(split, tmp_path):
    spec, site = split
    part = site / "fakemodel_part2" / "data" / "part02.bin"
    part.write_bytes(part.read_bytes()[:-1] + b"X")  # same size, one byte flipped
    with pytest.raises(ModelError, match="sha256.*corrupt.*force-reinstall"):
        spec.assemble(tmp_path / "cache")
    assert list((tmp_path / "cache" / "gguf").iterdir()) == []


def test_truncated_or_missing_part_names_the_package(split, tmp_path):
    spec, site = split
    part = site / "fakemodel_part3" / "data" / "part03.bin"
    part.write_bytes(b"ta")
    with pytest.raises(ModelError, match="truncated"):
        spec.assemble(tmp_path / "cache")
    part.unlink()
    (site / "fakemodel_part3" / "__init__.py").unlink()
    (site / "fakemodel_part3" / "data").rmdir()
    (site / "fakemodel_part3").rmdir()
    with pytest.raises(ModelError, match=r"fakemodel-part3==1\.0 is not installed"):
        spec.assemble(tmp_path / "cache")
    assert not (tmp_path / "cache" / "gguf" / "fake.gguf").exists()


def test_pinned_requirements_match_pyproject():
    from pathlib import Path

    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    for spec in (QWEN25_15B, QWEN25_05B):
        for requirement in spec.requirements():
            assert f'"{requirement}"' in pyproject, requirement
