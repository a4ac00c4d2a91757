"""The adapter registry and its cards: ``DATA_DIR/adapters/NAME/`` holds a peft adapter and its ``card.json``.

One registry for every user of adapters: the engine loads one by name onto the base model its card
names, ``finetune`` writes, lists, merges and removes them. It lives in ``tutor`` because serving needs
it and ``tutor`` never imports ``finetune`` (the layering is one-way: finetune -> tutor).

The directory *is* the registry (no table to fall out of sync with the files): an adapter exists when
its directory holds a peft adapter (``adapter_config.json``), since that is what the engine can load.
``card.json`` (an ``AdapterCard``) says what it was trained on and what it measured; a peft directory
copied in by hand without a card is still an adapter, of unknown base (the engine then uses ``--model``
or the default preset). Names are plain so they are safe as directory names and CLI arguments.
Writes go to a temporary sibling and are renamed into place, so a crash never leaves half an adapter
(or half a card) under a registered name, and replacing an adapter never loses the old one before the
new one is whole.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from basics.config import Paths
from basics.errors import ConfigError, ModelError
from tutor.runtime.models import load_model

log = logging.getLogger(__name__)

CARD_FILE = "card.json"
PEFT_CONFIG = "adapter_config.json"  # what peft's save_pretrained writes: the mark of an adapter directory
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class AdapterCard:
    """What an adapter is: the base it was trained on, its data, its settings and what it measured.

    Saved as ``card.json`` next to the peft weights. Keys this version does not know (a card written by
    a newer version, or edited by hand) are kept in ``extra`` and written back, so a load/save round
    trip never drops information. ``path`` is where the card was loaded from; it is not saved.
    """

    name: str
    base: str | None = None  # preset name, model directory or hub id; None: unknown (a hand-made adapter)
    created: str | None = None  # ISO 8601, UTC
    data_file: str | None = None  # the FAQ file it was trained on (resolved path)
    data_sha256: str | None = None  # that file's hash, so a run can be traced to its exact data
    rows: dict[str, int] = field(default_factory=dict)  # {"train": n, "val": n} examples
    target_modules: list[str] | str | None = None  # what LoRA adapted ("all-linear" or module names)
    device: str | None = None  # where it was trained
    bf16: bool | None = None  # trained in bf16 mixed precision
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # the TrainConfig of the run
    metrics: dict[str, Any] = field(default_factory=dict)  # losses before/after, steps, speed
    resumed_from: str | None = None  # the checkpoint the run continued from
    gguf: str | None = None  # llama.cpp LoRA export, relative to the adapter directory (tutor.runtime.lora_gguf)
    merged_from: str | None = None  # on a merged full model: the adapter it was merged from
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], name: str | None = None, path: Path | None = None) -> "AdapterCard":
        """A card from its JSON form (also the plain dicts of older versions); ``name`` fills a missing one."""
        known = {f.name for f in fields(cls)} - {"extra", "path"}
        data = {k: v for k, v in data.items() if k != "path"}  # never meant to be saved; older listings had it
        card = cls(name=data.get("name") or name or "", **{k: v for k, v in data.items() if k in known and k != "name"})
        card.extra = {k: v for k, v in data.items() if k not in known}
        card.path = path
        return card

    def to_dict(self, with_path: bool = False) -> dict[str, Any]:
        """The JSON form (what ``save`` writes); ``with_path`` adds ``path`` as listings show it."""
        data = {k: v for k, v in asdict(self).items() if k not in ("extra", "path")}
        data.update(self.extra)
        if with_path:
            data["path"] = str(self.path) if self.path else None
        return data

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/card.json`` atomically (a temporary file renamed over it); return its path."""
        target = Path(directory) / CARD_FILE
        tmp = target.with_name(f".{CARD_FILE}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        tmp.replace(target)
        return target

    @classmethod
    def load(cls, directory: str | Path) -> "AdapterCard":
        """Read ``directory/card.json``; ``ModelError`` naming the file when it is missing or unreadable."""
        directory = Path(directory)
        try:
            data = json.loads((directory / CARD_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{directory / CARD_FILE}: unreadable adapter card ({exc}); retrain or remove the adapter.") from exc
        if not isinstance(data, dict):
            raise ModelError(f"{directory / CARD_FILE}: an adapter card must be a JSON object; retrain or remove the adapter.")
        return cls.from_dict(data, name=directory.name, path=directory)


def validate_name(name: str) -> str:
    """``name`` when it is safe as a directory name and CLI argument; ``ConfigError`` saying what is allowed."""
    if not NAME_RE.match(name or ""):
        raise ConfigError(
            f"Adapter name {name!r} is not valid: use 1-64 letters, digits, '.', '_' or '-', starting "
            "with a letter or digit (it becomes a directory name)."
        )
    return name


def _adapter_dirs(paths: Paths) -> list[Path]:
    """Registered adapter directories, by name; hidden ones (staging, checkpoints, old copies) are not."""
    return [p for p in sorted(paths.adapters_dir.iterdir())
            if not p.name.startswith(".") and (p / PEFT_CONFIG).is_file()]


def adapter_path(paths: Paths, name: str) -> Path:
    """Directory of a registered adapter; ``ModelError`` naming the available ones when it is absent."""
    validate_name(name)
    path = paths.adapters_dir / name
    if not (path / PEFT_CONFIG).is_file():
        known = ", ".join(p.name for p in _adapter_dirs(paths))
        raise ModelError(f"No adapter named {name!r} in {paths.adapters_dir}; available: "
                         f"{known or 'none yet'}. Train one with `tutor finetune`.")
    return path


def adapter_card(paths: Paths, name: str) -> AdapterCard:
    """The card of a registered adapter (a bare one, base unknown, when it has none); ``.path`` is set."""
    path = adapter_path(paths, name)
    if not (path / CARD_FILE).exists():
        return AdapterCard(name=name, path=path)
    return AdapterCard.load(path)


def list_adapters(paths: Paths) -> list[dict[str, Any]]:
    """Every registered adapter's card as a JSON-ready dict with ``path``, newest first.

    Dicts rather than ``AdapterCard``s because this is what ``tutor adapters list --json`` prints and
    the app lists. A broken card is logged and its adapter skipped: one bad file must not hide the rest.
    """
    cards = []
    for path in _adapter_dirs(paths):
        try:
            cards.append(adapter_card(paths, path.name))
        except (ModelError, ConfigError) as exc:
            log.warning("%s", exc)
    return [c.to_dict(with_path=True) for c in sorted(cards, key=lambda c: c.created or "", reverse=True)]


def install_adapter(paths: Paths, name: str, staged: Path, overwrite: bool) -> Path:
    """Move a fully written adapter directory into place under ``name``."""
    target = paths.adapters_dir / name
    old = None
    if target.exists():
        if not overwrite:
            raise ConfigError(f"Adapter {name!r} already exists at {target}: pick another --name or remove it first.")
        old = target.with_name(f".old-{name}-{os.getpid()}")
        target.replace(old)
    staged.replace(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def remove_adapter(paths: Paths, name: str) -> Path:
    """Delete a registered adapter (and its training checkpoints)."""
    path = adapter_path(paths, name)
    shutil.rmtree(path)
    shutil.rmtree(checkpoints_dir(paths, name), ignore_errors=True)
    return path


def checkpoints_dir(paths: Paths, name: str) -> Path:
    """Trainer checkpoints of a run (hidden from the registry; kept so a run can be resumed)."""
    return paths.adapters_dir / ".checkpoints" / validate_name(name)


def merge_adapter(paths: Paths, name: str, out: str | Path, overwrite: bool = False) -> Path:
    """Merge the adapter into its base weights and export a full model directory (``load_model(out)``)."""
    out = Path(out).expanduser().resolve()
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"{out} exists and is not empty: choose another --out directory.")
    card = adapter_card(paths, name)
    if not card.base:
        raise ModelError(f"Adapter {name!r} has no base model on its card ({card.path / CARD_FILE}): "
                         "it cannot be merged; retrain it with `tutor finetune --base ...`.")
    loaded = load_model(card.base, cache_dir=paths.cache_dir, device="cpu", adapter_dir=card.path)
    merged = loaded.model.merge_and_unload()
    staged = out.with_name(f".{out.name}.tmp{os.getpid()}")
    shutil.rmtree(staged, ignore_errors=True)
    merged.save_pretrained(staged)
    loaded.tokenizer.save_pretrained(staged)  # carries the chat template the adapter was trained with
    replace(card, merged_from=name, gguf=None).save(staged)  # the adapter's llama.cpp export did not come along
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged.replace(out)
    log.info("merged adapter %s into %s -> %s", name, card.base, out)
    return out
