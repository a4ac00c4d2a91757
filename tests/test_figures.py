"""The figures table of docs/benchmarks.md is what bench/results/*.json say, and a bad results file is named.

No model is loaded: these read and write small text files only.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "bench" / "figures.py"


def _load(name: str):
    """A bench/ script as a module (bench/ is a folder of scripts, not a package).

    figures.py puts bench/ on sys.path to import record.py; the path is put back afterwards, so the other tests
    never import a bench script ("language", "load", ...) by mistake.
    """
    if name in sys.modules:
        return sys.modules[name]
    saved = list(sys.path)
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(FIGURES), *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def _good_record(name: str = "demo") -> dict:
    return {"name": name, "what": "A demo measurement", "command": "python bench/demo.py --n 3",
            "machine": "2 cores AMD EPYC, AVX2 only, no GPU", "date": "2026-12-07",
            "figures": [{"metric": "right", "value": "0.9 (9 of 10)", "target": ">= 0.8: met"}], "source": ""}


def test_the_repository_table_is_current():
    """After editing bench/results/, `python bench/figures.py` must be run: the committed table is its output."""
    done = _run("--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "command: python bench/figures.py --check" in done.stdout


def test_every_seeded_source_is_a_heading_of_the_diary():
    """A record's source names the diary section it came from, so its 'diary' link lands on that run."""
    figures = _load("figures")
    anchors = figures.heading_anchors((ROOT / "docs" / "benchmarks-history.md").read_text(encoding="utf-8"))
    records = figures.load_records(ROOT / "bench" / "results")
    lost = [f"{r['name']}: {r['source']!r}" for r in records if r["source"] and r["source"] not in anchors]
    assert not lost, "sources that are no heading of docs/benchmarks-history.md:\n" + "\n".join(lost)


def test_a_missing_key_is_an_error_naming_the_file_and_the_key(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "demo.json").write_text(json.dumps(_good_record()), encoding="utf-8")
    broken = _good_record("broken")
    del broken["machine"]
    (results / "broken.json").write_text(json.dumps(broken), encoding="utf-8")
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# B\n\n<!-- figures:start -->\n<!-- figures:end -->\n", encoding="utf-8")
    done = _run("--check", "--results", str(results), "--doc", str(doc))
    assert done.returncode == 2
    assert "broken.json" in done.stderr and "machine" in done.stderr, done.stderr


def test_check_fails_on_a_stale_table_and_a_rewrite_fixes_it(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "demo.json").write_text(json.dumps(_good_record()), encoding="utf-8")
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# B\n\nintro\n\n<!-- figures:start -->\nold table\n<!-- figures:end -->\n\nrest\n", encoding="utf-8")
    assert _run("--check", "--results", str(results), "--doc", str(doc)).returncode == 1
    assert _run("--results", str(results), "--doc", str(doc)).returncode == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# B\n\nintro\n\n<!-- figures:start -->") and text.endswith("<!-- figures:end -->\n\nrest\n")
    assert "| right | 0.9 (9 of 10) | >= 0.8: met | | | |" in text
    assert "`python bench/demo.py --n 3`" in text and "2026-12-07" in text
    assert _run("--check", "--results", str(results), "--doc", str(doc)).returncode == 0


def test_record_writes_a_file_the_table_reads(tmp_path):
    record = _load("record")
    path = record.record("demo", "A demo measurement", "python bench/demo.py",
                         [{"metric": "p50", "value": "1.2 s"}], results_dir=tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert path.name == "demo.json" and data["machine"] and len(data["date"]) == 10
    with pytest.raises(record.RecordError, match="figures\\[0\\].*value"):
        record.record("demo", "A demo", "python bench/demo.py", [{"metric": "p50"}], results_dir=tmp_path)
    assert json.loads(path.read_text(encoding="utf-8")) == data  # a bad call leaves the old figures


def test_the_machine_is_described_by_its_vector_units(tmp_path):
    record = _load("record")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2 fma\n", encoding="utf-8")
    described = record.describe_machine(cpuinfo, tmp_path / "no-gpus")
    assert described.endswith("AMD EPYC, AVX2 only, no GPU") and "core" in described
    cpuinfo.write_text("model name\t: AMD EPYC 9R45\nflags\t\t: avx2 avx512f avx512_bf16\n", encoding="utf-8")
    assert "AMD EPYC 9R45, AVX-512 with BF16, no GPU" in record.describe_machine(cpuinfo, tmp_path / "no-gpus")


def test_github_anchors_of_the_diary_headings():
    figures = _load("figures")
    assert figures.github_anchor("Speed on an AVX2-only CPU (2026-12-06, fifteenth run)") == \
        "speed-on-an-avx2-only-cpu-2026-12-06-fifteenth-run"
    anchors = figures.heading_anchors("## Generation\n\n### Same\n\n## Same\n")
    assert anchors == {"Generation": "generation", "Same": "same"}
    assert figures.heading_anchors("## A\n## A b\n## a\n")["a"] == "a-1"
