"""LoRA fine-tuning on the bundled SmolLM2: a real run of a few steps, adapters registry, resume, merge."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from finetune import metrics as M

MODEL_CACHE = Path(os.environ["TUTOR_CACHE_DIR"])  # set by conftest: one shared model cache

FAQ_ROWS = [
    ("What is the capital of France?", "Paris"),
    ("What is the capital of Japan?", "Tokyo"),
    ("What is the capital of Italy?", "Rome"),
    ("What is the capital of Spain?", "Madrid"),
    ("What is the capital of Germany?", "Berlin"),
    ("What is the capital of Egypt?", "Cairo"),
    ("What is the capital of Canada?", "Ottawa"),
    ("What is the capital of Kenya?", "Nairobi"),
    ("What colour is the course mascot?", "The mascot is teal."),
    ("When is the course exam?", "The exam is on Friday at noon."),
    ("Who teaches the course?", "Professor Quill teaches it."),
    ("Where are lectures held?", "Lectures are held in room B12."),
    ("How many labs are there?", "There are seven labs."),
    ("What language do labs use?", "Labs use Python."),
    ("How is the course graded?", "Labs count 40 percent and the exam 60 percent."),
    ("Can I submit late?", "Late labs lose ten percent per day."),
]
BASE = "smollm2-135m-instruct"


def write_faq(path, rows=FAQ_ROWS):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["question", "answer"])
        w.writerows(rows)
    return path


def tiny_config(**kw):
    from finetune.train import TrainConfig

    # 13 train rows / batch 4 = 4 steps per epoch: 8 steps = 2 epochs, a checkpoint at 4 and 8.
    defaults = dict(base=BASE, max_steps=8, batch_size=4, learning_rate=2e-3, max_length=224, show_progress=False)
    return TrainConfig(**{**defaults, **kw})


@pytest.fixture(scope="module")
def mpaths(tmp_path_factory):
    from basics.config import Paths

    return Paths(tmp_path_factory.mktemp("ft") / "data", MODEL_CACHE)


@pytest.fixture(scope="module")
def faq_file(tmp_path_factory):
    return write_faq(tmp_path_factory.mktemp("faq") / "faq.csv")


@pytest.fixture(scope="module")
def base_lm():
    from tutor.runtime.models import load_model

    return load_model(BASE, cache_dir=MODEL_CACHE, device="cpu")


@pytest.fixture(scope="module")
def trained(mpaths, faq_file):
    from finetune.train import train_adapter

    events = []
    card = train_adapter(faq_file, "tiny", tiny_config(), mpaths, progress=events.append)
    return card, events


@pytest.mark.slow
def test_training_lowers_validation_loss_and_writes_card(trained, mpaths, faq_file):
    from finetune.data import file_sha256

    card, events = trained
    m = card["metrics"]
    assert m["val_loss_after"] < m["val_loss_before"] - 0.1
    assert m["train_loss_after"] < m["train_loss_before"]
    assert m["steps"] == 8 and m["samples_per_second"] > 0
    on_disk = json.loads((mpaths.adapters_dir / "tiny" / "card.json").read_text())
    assert on_disk["base"] == BASE
    assert on_disk["data_sha256"] == file_sha256(faq_file)
    assert on_disk["hyperparameters"]["r"] == 8 and on_disk["rows"] == {"train": 13, "val": 3}
    assert (mpaths.adapters_dir / "tiny" / "adapter_config.json").is_file()
    stages = [e["stage"] for e in events]
    assert stages[0] == "load" and stages[-1] == "done" and stages.count("train") >= 8
    assert any("eval_loss" in e for e in events)  # validation each epoch reached the hook


@pytest.mark.slow
def test_labels_mask_the_prompt(base_lm):
    from finetune.data import IGNORE_INDEX, DataConfig, build_examples
    from knowledge_base.faq_entries import FAQEntry

    tok = base_lm.tokenizer
    ex = build_examples([FAQEntry("What is the capital of France?", "Paris")], tok, DataConfig(max_length=224))[0]
    learned = [i for i, lab in zip(ex["input_ids"], ex["labels"]) if lab != IGNORE_INDEX]
    assert ex["labels"][0] == IGNORE_INDEX
    assert tok.decode(learned).strip().startswith("Paris")
    assert len(learned) < 6  # the answer and the end-of-turn marker, nothing of the prompt


@pytest.mark.slow
def test_adapter_loads_by_name_and_changes_output(trained, mpaths, base_lm):
    import torch

    from tutor.adapters import adapter_path, list_adapters
    from tutor.runtime.models import load_model

    assert [c["name"] for c in list_adapters(mpaths)] == ["tiny"]
    base = base_lm
    tuned = load_model(BASE, cache_dir=MODEL_CACHE, device="cpu", adapter_dir=adapter_path(mpaths, "tiny"))
    from finetune.data import split_entries
    from knowledge_base.faq_files import load_faq
    from tutor.prompts import build_messages

    def prompt(question):
        msgs, _ = build_messages(question, [], [], "en", base.tokenizer, 200)  # the format it trained on
        text = base.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return base.tokenizer(text, return_tensors="pt")

    ids = prompt("What is the capital of Kenya?")
    with torch.no_grad():
        a = base.model(**ids).logits[0, -1]
        b = tuned.model(**ids).logits[0, -1]
    assert (a - b).abs().max() > 0.5

    # Course facts no model knows: after training, greedy answers to training questions reproduce them.
    train_rows, _ = split_entries(load_faq(trained[0]["data_file"]), 0.2, 42)
    course_rows = [e for e in train_rows if "capital" not in e.question][:4]

    def answer(lm, question):
        ids = prompt(question)
        out = lm.model.generate(**ids, max_new_tokens=12, do_sample=False)
        return lm.tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)

    tuned_answers = [answer(tuned, e.question) for e in course_rows]
    base_answers = [answer(base, e.question) for e in course_rows]
    assert tuned_answers != base_answers
    learned = [M.f1_score(t, e.answer) for t, e in zip(tuned_answers, course_rows)]
    before = [M.f1_score(b, e.answer) for b, e in zip(base_answers, course_rows)]
    # The grounded prompt already makes the base answer in short course-style sentences (token-F1 ~0.35 a
    # row on these facts), so the adapter's gain is measured against that: +0.28 measured, 0.2 required.
    assert sum(learned) > sum(before) + 0.2, (tuned_answers, base_answers)


@pytest.mark.slow
def test_resume_continues_from_checkpoint(trained, mpaths, faq_file):
    from finetune.train import train_adapter

    first, _ = trained
    card = train_adapter(faq_file, "tiny", tiny_config(max_steps=12, resume=True, overwrite=True), mpaths)
    assert card["resumed_from"].endswith("checkpoint-8")
    assert card["metrics"]["steps"] == 12
    assert card["metrics"]["val_loss_after"] <= first["metrics"]["val_loss_after"] + 0.05


@pytest.mark.slow
def test_merge_exports_a_loadable_model_with_the_same_outputs(trained, mpaths, tmp_path):
    import torch

    from tutor.adapters import adapter_path, merge_adapter
    from tutor.runtime.models import load_model

    out = merge_adapter(mpaths, "tiny", tmp_path / "merged")
    merged = load_model(str(out), cache_dir=MODEL_CACHE, device="cpu")
    tuned = load_model(BASE, cache_dir=MODEL_CACHE, device="cpu", adapter_dir=adapter_path(mpaths, "tiny"))
    ids = merged.tokenizer("Where are lectures held?", return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(merged.model(**ids).logits, tuned.model(**ids).logits, atol=1e-3)


def test_existing_adapter_is_not_overwritten(paths, faq_file):
    from finetune.train import train_adapter
    from basics.errors import ConfigError

    (paths.adapters_dir / "keep").mkdir()
    (paths.adapters_dir / "keep" / "card.json").write_text("{}")
    with pytest.raises(ConfigError, match="already exists"):
        train_adapter(faq_file, "keep", tiny_config(), paths)
    assert (paths.adapters_dir / "keep" / "card.json").read_text() == "{}"


def test_bad_faq_stops_before_any_model_loads(tmp_path, paths, monkeypatch):
    import tutor.runtime.models
    from finetune.train import train_adapter
    from basics.errors import FAQFormatError

    def no_load(*a, **k):  # a spy: reaching it means validation came too late
        raise AssertionError("model loaded before the FAQ was validated")

    monkeypatch.setattr(tutor.runtime.models, "load_model", no_load)
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nWhat is X?,It is X.\n,no question here\nWhat is X?,dup\n", encoding="utf-8")
    with pytest.raises(FAQFormatError) as err:
        train_adapter(bad, "bad", tiny_config(), paths)
    assert "bad.csv" in str(err.value) and "row 2" in str(err.value)
    assert not (paths.adapters_dir / "bad").exists()

    from tutor.cli import main

    res = CliRunner().invoke(main, ["finetune", str(bad), "--name", "bad", "--data-dir", str(paths.data_dir)])
    assert res.exit_code == 2 and "row 2" in res.output


def test_invalid_names_and_settings_are_rejected(paths, faq_file):
    from finetune.train import train_adapter
    from basics.errors import ConfigError

    with pytest.raises(ConfigError, match="not valid"):
        train_adapter(faq_file, "../escape", tiny_config(), paths)
    with pytest.raises(ConfigError, match="learning_rate"):
        train_adapter(faq_file, "ok", tiny_config(learning_rate=5.0), paths)
    with pytest.raises(ConfigError, match="--course"):
        train_adapter(faq_file, "ok", tiny_config(rag=True), paths)


def test_faq_entries_are_accepted_and_named_by_their_course(paths, faq_file):
    """The app passes a course's FAQ as entries: the card must name that course, not a temporary file."""
    from finetune.data import entries_sha256, read_faq_data
    from finetune.train import train_adapter
    from knowledge_base.faq_entries import FAQEntry
    from basics.errors import ConfigError

    from_file = read_faq_data(faq_file)
    assert from_file.source == str(faq_file.resolve()) and len(from_file.entries) == len(FAQ_ROWS)
    entries = [FAQEntry(q, a, course="ml101") for q, a in FAQ_ROWS]
    data = read_faq_data(entries)
    assert data.source == f"course ml101 FAQ ({len(FAQ_ROWS)} entries)" and data.entries == entries
    # the hash follows what the entries say, not their database ids or row numbers
    assert data.sha256 == entries_sha256([FAQEntry(q, a, course="ml101", id=7, row=3) for q, a in FAQ_ROWS])
    assert data.sha256 != entries_sha256([FAQEntry(q, a + ".", course="ml101") for q, a in FAQ_ROWS])
    assert read_faq_data(entries[:1]).source == "course ml101 FAQ (1 entry)"
    assert read_faq_data([FAQEntry("q", "a")]).source == "FAQ entries (1 entry)"
    with pytest.raises(ConfigError, match=r"FAQ entries \(0 entries\): at least 2 FAQ rows"):
        train_adapter([], "none", tiny_config(), paths)  # refused before any model loads
    with pytest.raises(ConfigError, match="file path or a list"):
        read_faq_data([{"question": "q", "answer": "a"}])


def test_split_is_seeded_and_disjoint():
    from finetune.data import split_entries

    rows = list(range(20))
    a = split_entries(rows, 0.2, seed=1)
    assert a == split_entries(rows, 0.2, seed=1)
    assert a != split_entries(rows, 0.2, seed=2)
    train, val = a
    assert len(val) == 4 and sorted(train + val) == rows


@pytest.mark.slow
def test_adapters_cli_list_and_rm(trained, mpaths):
    from tutor.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["adapters", "list", "--json", "--data-dir", str(mpaths.data_dir)])
    assert res.exit_code == 0, res.output
    assert [c["name"] for c in json.loads(res.output)] == ["tiny"]
    res = runner.invoke(main, ["adapters", "rm", "nope", "--data-dir", str(mpaths.data_dir)])
    assert res.exit_code == 2 and "No adapter named 'nope'" in res.output
    res = runner.invoke(main, ["adapters", "rm", "tiny", "--data-dir", str(mpaths.data_dir)])
    assert res.exit_code == 0 and not (mpaths.adapters_dir / "tiny").exists()
    assert not (mpaths.adapters_dir / ".checkpoints" / "tiny").exists()
