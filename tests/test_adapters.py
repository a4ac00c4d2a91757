"""The adapter registry (``tutor.adapters``): cards round-trip, old cards load, one notion of "an adapter"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A card exactly as finetune/train.py wrote it before AdapterCard existed (a plain dict).
OLD_CARD = {
    "name": "course-v1",
    "base": "smollm2-135m-instruct",
    "created": "2024-05-01T10:00:00+00:00",
    "data_file": "/data/faq.csv",
    "data_sha256": "ab" * 32,
    "rows": {"train": 13, "val": 3},
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "device": "cpu",
    "bf16": False,
    "hyperparameters": {"r": 8, "alpha": 16, "learning_rate": 0.0002, "target_modules": None},
    "metrics": {"val_loss_before": 3.2, "val_loss_after": 1.1, "steps": 8, "best_checkpoint": None},
    "resumed_from": None,
}


def fake_adapter(paths, name: str, card: dict | None = None) -> Path:
    """A registered adapter as far as the registry can tell: the peft config, optionally a card."""
    path = paths.adapters_dir / name
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2, "lora_alpha": 4}))
    if card is not None:
        (path / "card.json").write_text(json.dumps(card))
    return path


def test_card_save_load_round_trip(tmp_path):
    from tutor.adapters import AdapterCard

    card = AdapterCard(name="a", base="gemma3-270m", created="2024-01-01T00:00:00+00:00", data_file="/x/faq.csv",
                       data_sha256="cd" * 32, rows={"train": 4, "val": 1}, target_modules="all-linear", device="cuda",
                       bf16=True, hyperparameters={"r": 4}, metrics={"val_loss_after": 0.5}, resumed_from="/ck/checkpoint-4",
                       gguf="adapter.gguf", extra={"note": "kept by a newer version"})
    written = card.save(tmp_path)
    assert written == tmp_path / "card.json" and not list(tmp_path.glob(".*"))  # no temporary file left behind
    loaded = AdapterCard.load(tmp_path)
    assert loaded == card and loaded.path == tmp_path
    assert json.loads(written.read_text())["note"] == "kept by a newer version"  # unknown keys stay top-level
    loaded.save(tmp_path)
    assert AdapterCard.load(tmp_path) == card


def test_old_plain_dict_cards_still_load(tmp_path):
    from tutor.adapters import AdapterCard

    (tmp_path / "card.json").write_text(json.dumps({**OLD_CARD, "path": "/stale/listing/path"}))
    card = AdapterCard.load(tmp_path)
    assert (card.name, card.base, card.data_sha256) == ("course-v1", "smollm2-135m-instruct", "ab" * 32)
    assert card.rows == {"train": 13, "val": 3} and card.metrics["val_loss_after"] == 1.1
    assert card.gguf is None and card.extra == {}  # "path" was never meant to be saved: dropped, not kept
    assert {k: v for k, v in card.to_dict().items() if k in OLD_CARD} == OLD_CARD
    # The smallest card of all (hand-written, as tests and users make them): the name comes from the folder.
    (tmp_path / "card.json").write_text('{"base": "gemma3-270m"}')
    assert (AdapterCard.load(tmp_path).name, AdapterCard.load(tmp_path).base) == (tmp_path.name, "gemma3-270m")


def test_unreadable_card_names_the_file(tmp_path):
    from tutor.adapters import AdapterCard
    from basics.errors import ModelError

    (tmp_path / "card.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"card\.json: unreadable adapter card"):
        AdapterCard.load(tmp_path)
    (tmp_path / "card.json").write_text("[1, 2]")
    with pytest.raises(ModelError, match="must be a JSON object"):
        AdapterCard.load(tmp_path)


def test_one_registry_for_engine_and_finetune(paths, caplog):
    """An adapter is a directory with a peft config; the card is its metadata, optional for hand-made ones."""
    from tutor.adapters import adapter_card, adapter_path, checkpoints_dir, list_adapters, remove_adapter
    from basics.errors import ModelError

    fake_adapter(paths, "old", {**OLD_CARD, "name": "old", "created": "2024-01-01"})
    fake_adapter(paths, "new", {**OLD_CARD, "name": "new", "created": "2025-01-01"})
    fake_adapter(paths, "bare")  # peft's save_pretrained copied in by hand, no card
    fake_adapter(paths, "broken", None)
    (paths.adapters_dir / "broken" / "card.json").write_text("{oops")
    (paths.adapters_dir / "cardonly").mkdir()  # a card without weights is not an adapter: nothing to load
    (paths.adapters_dir / "cardonly" / "card.json").write_text("{}")
    fake_adapter(paths, ".tmp-new-123", OLD_CARD)  # a run still writing: hidden

    listed = list_adapters(paths)
    assert [c["name"] for c in listed] == ["new", "old", "bare"]  # newest first, broken card skipped and logged
    assert "broken" in caplog.text and listed[0]["path"] == str(paths.adapters_dir / "new")
    assert adapter_card(paths, "bare").base is None and adapter_card(paths, "new").base == OLD_CARD["base"]
    with pytest.raises(ModelError, match=r"No adapter named 'cardonly'.*available: bare, broken, new, old"):
        adapter_path(paths, "cardonly")

    checkpoints_dir(paths, "old").mkdir(parents=True)
    assert remove_adapter(paths, "old") == paths.adapters_dir / "old"
    assert not (paths.adapters_dir / "old").exists() and not checkpoints_dir(paths, "old").exists()


def test_install_replaces_only_when_asked(paths, tmp_path):
    from tutor.adapters import AdapterCard, install_adapter
    from basics.errors import ConfigError

    def staged(base: str) -> Path:
        path = paths.adapters_dir / f".tmp-a-{base}"
        path.mkdir()
        AdapterCard(name="a", base=base).save(path)
        return path

    target = install_adapter(paths, "a", staged("one"), overwrite=False)
    with pytest.raises(ConfigError, match="already exists"):
        install_adapter(paths, "a", staged("two"), overwrite=False)
    install_adapter(paths, "a", paths.adapters_dir / ".tmp-a-two", overwrite=True)
    assert AdapterCard.load(target).base == "two"
    assert sorted(p.name for p in paths.adapters_dir.iterdir()) == ["a"]  # nothing staged or old left over


@pytest.mark.parametrize("name", ["../escape", "", ".hidden", "a/b", "x" * 65])
def test_names_that_are_not_directory_safe_are_rejected(paths, name):
    from tutor.adapters import adapter_path, validate_name
    from basics.errors import ConfigError

    with pytest.raises(ConfigError, match="not valid"):
        validate_name(name)
    with pytest.raises(ConfigError, match="not valid"):
        adapter_path(paths, name)
