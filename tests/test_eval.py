"""`tutor eval` end to end: a real course (SQLite + FAISS in a temp dir), the real engine, all three outputs."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from finetune import metrics as M
from finetune.metrics import METRIC_KEYS

DOCS = [
    ("lora.md", "# LoRA\n\nLoRA freezes the base model and trains two small low-rank matrices per layer. "
                "The rank r is usually 8 or 16. The scaling factor alpha divides by r.\n"),
    ("exams.md", "# Exams\n\nThe final exam takes place on Friday at noon in room B12. "
                 "Bring a pen and your student card.\n"),
    ("tokens.md", "# Tokenization\n\nA tokenizer splits text into subword tokens. "
                  "Byte pair encoding merges the most frequent pairs of symbols.\n"),
    ("zh.md", "# 学习率\n\n学习率太大，训练会发散，损失会变大。学习率太小，训练会很慢。\n"),
]
FAQ = [
    {"question": "What rank is usually used for LoRA?", "answer": "8 or 16", "source": "lora.md"},
    # Two references, as SQuAD's annotators give: the scores take the better one.
    {"question": "When is the final exam?", "answer": "Friday at noon", "source": "exams.md",
     "also_accepted": ["on Friday at noon in room B12"]},
    {"question": "What does byte pair encoding merge?", "answer": "the most frequent pairs of symbols", "source": "tokens.md"},
    {"question": "What should I bring to the exam?", "answer": "a pen and your student card", "source": "exams.md"},
    {"question": "学习率太大会怎么样？", "answer": "训练会发散", "source": "zh.md", "language": "zh"},
    {"question": "Who won the football world cup in 1966?", "answer": "", "answerable": False},
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, embedder):
    import os
    from pathlib import Path

    from knowledge_base import KnowledgeBase
    from knowledge_base.faq_files import load_faq
    from basics.config import Paths

    root = tmp_path_factory.mktemp("eval")
    paths = Paths(root / "data", Path(os.environ["TUTOR_CACHE_DIR"]))
    kb = KnowledgeBase(paths, embedder=embedder)
    kb.add_texts("demo", DOCS)
    faq = root / "faq.jsonl"
    faq.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in FAQ) + "\n", encoding="utf-8")
    kb.set_faq("demo", load_faq(faq))  # the same file in the course FAQ: eval must not leak it
    return paths, kb, faq


@pytest.mark.slow
def test_eval_cli_writes_metrics_rows_and_report(setup, tmp_path):
    from tutor.cli import main

    paths, kb, faq = setup
    out = tmp_path / "report"
    res = CliRunner().invoke(main, ["eval", str(faq), "--course", "demo", "--out", str(out), "--max-new-tokens", "24",
                                    "--answer-form", "short",  # SQuAD-style bare answers, as the benchmarks score them
                                    "--embedder", "all-MiniLM-L6-v2", "--data-dir", str(paths.data_dir)])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["engine_options"]["prompt"]["answer_form"] == "short"
    for key in METRIC_KEYS:
        assert key in metrics, key
    assert metrics["n"] == len(FAQ) and metrics["primary"] == "base"
    assert set(metrics["systems"]) == {"base", "retrieval_only"}
    assert set(metrics["by_language"]) == {"en", "zh"} and metrics["by_language"]["zh"]["n"] == 1
    # (question language -> language of the course passage it is about): the Chinese page is Chinese
    assert metrics["by_language_pair"]["zh->zh"]["n"] == 1 and metrics["by_language_pair"]["en->en"]["n"] == 5
    # FAQ matching is off by default: the gold answers sitting in the course FAQ must not be returned.
    assert metrics["faq_match_rate"] == 0.0
    # Retrieval: every answerable question's source document is in the course; most are found first.
    assert metrics["retrieval_recall_at_5"] == 1.0 and metrics["mrr"] >= 0.8
    base = metrics["systems"]["base"]
    assert 0.0 <= base["answer_f1"] <= 1.0 and base["latency_p95_ms"] >= base["latency_p50_ms"] > 0

    with open(out / "rows.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * len(FAQ)
    assert {"answer", "retrieved", "f1", "answer_recall", "latency_ms", "refused"} <= set(rows[0])
    only = [r for r in rows if r["system"] == "retrieval_only"]
    # The baseline answers with a sentence of the top chunk: for the exam question, the exam sentence.
    exam = next(r for r in only if r["question"].startswith("When is the final exam"))
    assert "Friday at noon" in exam["answer"]
    # Scored against its better reference (the official SQuAD rule), not only the first.
    first, other = (M.f1_score(exam["answer"], r) for r in ("Friday at noon", "on Friday at noon in room B12"))
    assert other > first and float(exam["f1"]) == pytest.approx(other)
    # The unanswerable row is scored by refusal P/R, not by F1 against an empty reference.
    for system in ("base", "retrieval_only"):
        off = next(r for r in rows if r["system"] == system and r["question"].startswith("Who won the football"))
        assert off["answerable"] == "False" and off["f1"] == ""
        assert metrics["systems"][system]["refusal_recall"] == (1.0 if off["refused"] == "True" else 0.0)
    # Each answer with what the model saw: the excerpts of a generated one (a reader judges it by them)
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(answers) == len(rows)
    generated = [a for a in answers if a["system"] == "base" and a["outcome"] in ("answered", "quoted")]
    assert generated and all(a["grounding"]["excerpts"] and "raw" in a["grounding"] for a in generated)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 3 and "retrieval_only" in page and "zh-&gt;zh" in page


@pytest.mark.slow
def test_eval_compares_adapter_base_and_baseline_with_faq_leak_reported(setup, tmp_path):
    from finetune.evaluate import EvalConfig, run_evaluation
    from finetune.report import read_report
    from finetune.train import TrainConfig, train_adapter

    paths, kb, faq = setup
    train_adapter(faq, "mini", TrainConfig(base="smollm2-135m-instruct", max_steps=1, batch_size=4, max_length=192,
                                           show_progress=False), paths, kb=kb)
    config = EvalConfig(course="demo", adapter="mini", compare=("base",), limit=3, use_faq=True,
                        engine_options={"max_new_tokens": 16}, show_progress=False)
    result = run_evaluation(faq, config, paths, kb=kb, out_dir=tmp_path / "cmp")
    assert list(result.metrics["systems"]) == ["adapter:mini", "base", "retrieval_only"]
    assert result.metrics["primary"] == "adapter:mini"
    assert result.metrics["answer_f1"] == result.metrics["systems"]["adapter:mini"]["answer_f1"]
    # With use_faq the engine answers the FAQ's own questions from the FAQ, and the report says so.
    assert result.metrics["systems"]["base"]["faq_match_rate"] == 1.0
    assert result.metrics["systems"]["retrieval_only"]["faq_match_rate"] == 0.0
    metrics, rows = read_report(result.out_dir)
    assert metrics["systems"].keys() == result.metrics["systems"].keys() and len(rows) == 9


@pytest.mark.slow
def test_train_and_evaluate_take_the_course_faq_as_entries(setup, tmp_path):
    """What the app does: the course's FAQ goes in as entries (no temporary CSV); card and report name it."""
    from finetune.data import entries_sha256
    from finetune.evaluate import EvalConfig, run_evaluation
    from finetune.train import TrainConfig, train_adapter

    paths, kb, _ = setup
    entries = kb.faq("demo")
    card = train_adapter(entries, "from-entries", TrainConfig(base="smollm2-135m-instruct", max_steps=1, batch_size=4,
                                                              max_length=192, show_progress=False), paths, kb=kb)
    assert card["data_file"] == f"course demo FAQ ({len(FAQ)} entries)" and card["data_sha256"] == entries_sha256(entries)
    config = EvalConfig(course="demo", model="smollm2-135m-instruct", limit=2, engine_options={"max_new_tokens": 8},
                        show_progress=False)
    result = run_evaluation(entries, config, paths, kb=kb, out_dir=tmp_path / "entries")
    assert result.metrics["faq_file"] == f"course demo FAQ ({len(FAQ)} entries)"
    assert result.metrics["data_sha256"] == entries_sha256(entries) and len(result.rows) == 4  # 2 x (base, retrieval-only)
    assert "course demo FAQ" in (result.out_dir / "report.html").read_text(encoding="utf-8")


def test_unknown_course_is_a_clear_error(setup):
    from finetune.evaluate import EvalConfig, run_evaluation
    from basics.errors import ConfigError

    paths, kb, faq = setup
    with pytest.raises(ConfigError, match="'nope' is not in the knowledge base"):
        run_evaluation(faq, EvalConfig(course="nope"), paths, kb=kb)


def test_retrieval_only_picks_the_sentence_closest_to_the_question(embedder):
    from finetune.evaluate import retrieval_only_answer, split_sentences
    from knowledge_base import Hit

    text = "The exam is on Friday. Labs use Python. 学习率太大，训练会发散。"
    assert split_sentences(text) == ["The exam is on Friday.", "Labs use Python.", "学习率太大，训练会发散。"]
    hit = Hit("c1", 1, "x.md", "X", None, None, text, 0, len(text), 1.0, 0.9, None)
    assert retrieval_only_answer("Which language do the labs use?", [hit], embedder, 0.2) == ("Labs use Python.", False)
    low = Hit("c1", 1, "x.md", "X", None, None, text, 0, len(text), 1.0, 0.1, None)
    assert retrieval_only_answer("Which language do the labs use?", [low], embedder, 0.2) == ("", True)
    assert retrieval_only_answer("anything", [], embedder, 0.2) == ("", True)


def test_a_copied_name_is_not_judged_for_language():
    """langdetect reads a bare name as some language ("The Wankel engine." came back German): a short answer
    whose every word the retrieved course text holds has no language of its own, so language match skips it;
    a sentence, a name the course lacks, and Chinese are still detected."""
    from finetune.evaluate import answer_language
    from knowledge_base import Hit

    text = "The Wankel engine powers the car. OpenTV runs the set-top boxes."
    hit = Hit("c1", 1, "x.md", "X", None, None, text, 0, len(text), 1.0, 0.9, None)
    assert answer_language("The Wankel engine.", [hit]) == "" and answer_language("OpenTV", [hit]) == ""
    assert answer_language("The Wankel engine powers the car and runs on petrol.", [hit]) == "en"
    assert answer_language("Der Wankelmotor.", [hit]) != ""  # not the course's words: detected, whatever it says
    assert answer_language("汪克尔发动机", [hit]) == "zh" and answer_language("", [hit]) == ""
