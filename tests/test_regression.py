"""The sample-course regression set (tests/data/sample_course_questions.jsonl) through `tutor eval`.

The whole set (90 questions) is measured with `bench/answers.py sample` (docs/benchmarks.md, "Answers");
here the questions where a tutor is most tempted to invent (course logistics, questions with a false
premise) and the off-topic ones run through the real default model on every CI run. What must hold: no
invented fact reaches a student, off-topic questions are refused, and the share answered right does not fall.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

REGRESSION_SET = Path(__file__).resolve().parent / "data" / "sample_course_questions.jsonl"
CATEGORIES = ("logistics", "trap", "off-topic")


def test_regression_set_is_well_formed():
    from knowledge_base.faq_files import load_faq

    rows = [json.loads(line) for line in REGRESSION_SET.read_text(encoding="utf-8").splitlines()]
    entries = load_faq(REGRESSION_SET)
    assert len(entries) == len(rows) >= 40
    languages = [r["language"] for r in rows if r["answerable"]]
    assert sum(lang in ("zh", "es", "de") for lang in languages) >= 10
    assert sum(lang == "fr" for lang in languages) >= 5  # the issue names French questions too
    assert sum(not r["answerable"] for r in rows) >= 5
    assert all(e.must_include for e in entries if e.answerable)  # every answerable row is scored by its facts


def test_the_second_course_question_set_is_well_formed():
    """The statistics course's set (never tuned on): >= 40 questions in >= 8 languages, ja ko pt ru ar among
    them, every answerable row scored by its facts, every source a page of the course."""
    from knowledge_base.facade import BUILTIN_COURSES
    from knowledge_base.faq_files import load_faq

    path = REGRESSION_SET.parent / "statistics_course_questions.jsonl"
    entries = load_faq(path)
    languages = {e.language for e in entries}
    assert len(entries) >= 40 and len(languages) >= 8 and {"ja", "ko", "pt", "ru", "ar"} <= languages
    assert all(e.must_include for e in entries if e.answerable) and sum(not e.answerable for e in entries) >= 4
    pages = {p.name for p in BUILTIN_COURSES["estatistica"].glob("*.md")}
    assert {e.source for e in entries if e.source} <= pages


@pytest.mark.slow
def test_default_model_invents_nothing_on_logistics_and_traps(tmp_path):
    from tutor.cli import main

    rows = [json.loads(line) for line in REGRESSION_SET.read_text(encoding="utf-8").splitlines()]
    subset = tmp_path / "subset.jsonl"
    subset.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows if r["category"] in CATEGORIES) + "\n",
                      encoding="utf-8")
    out = tmp_path / "report"
    res = CliRunner().invoke(main, ["eval", str(subset), "--course", "sample", "--out", str(out),
                                    "--data-dir", str(tmp_path / "data")])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    base = metrics["systems"]["base"]
    assert base["invented_facts"] == 0, (out / "rows.csv").read_text()
    assert base["refusal_recall"] == 1.0  # every off-topic question refused
    assert base["correct"] >= 0.4, base  # 0.49 measured on the default (docs/benchmarks.md); traps are the hard part
    assert "correct" in (out / "report.html").read_text(encoding="utf-8")
