"""The adapter registry: ``DATA_DIR/adapters/NAME/`` holds a peft adapter and its ``card.json``.

The directory *is* the registry (no table to fall out of sync with the files): an adapter exists when
its directory has a card. Names are plain so they are safe as directory names and CLI arguments.
Writes go to a temporary sibling and are renamed into place, so a crash never leaves half an adapter
under a registered name, and replacing an adapter never loses the old one before the new one is whole.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

from basics.config import Paths
from basics.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

CARD_FILE = "card.json"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def validate_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise ConfigError(
            f"Adapter name {name!r} is not valid: use 1-64 letters, digits, '.', '_' or '-', starting "
            "with a letter or digit (it becomes a directory name)."
        )
    return name


def adapter_path(paths: Paths, name: str) -> Path:
    """Directory of a registered adapter; ``ModelError`` naming the known ones when it is absent."""
    validate_name(name)
    path = paths.adapters_dir / name
    if not (path / CARD_FILE).is_file():
        known = ", ".join(a["name"] for a in list_adapters(paths)) or "none yet"
        raise ModelError(f"No adapter named {name!r} in {paths.adapters_dir} (known: {known}). Train one with `tutor finetune`.")
    return path


def read_card(path: Path) -> dict:
    try:
        card = json.loads((path / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path / CARD_FILE}: unreadable adapter card ({exc})") from exc
    card.setdefault("name", path.name)
    card["path"] = str(path)
    return card


def write_card(path: Path, card: dict) -> None:
    data = {k: v for k, v in card.items() if k != "path"}
    (path / CARD_FILE).write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")


def list_adapters(paths: Paths) -> list[dict]:
    """Cards of every registered adapter, newest first. Broken cards are logged and skipped."""
    cards = []
    for path in sorted(paths.adapters_dir.iterdir()):
        if path.name.startswith(".") or not (path / CARD_FILE).is_file():
            continue
        try:
            cards.append(read_card(path))
        except ModelError as exc:
            log.warning("%s", exc)
    return sorted(cards, key=lambda c: c.get("created", ""), reverse=True)


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
    from tutor.models import load_model

    out = Path(out).expanduser().resolve()
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"{out} exists and is not empty: choose another --out directory.")
    path = adapter_path(paths, name)
    card = read_card(path)
    loaded = load_model(card["base"], cache_dir=paths.cache_dir, device="cpu", adapter_dir=path)
    merged = loaded.model.merge_and_unload()
    staged = out.with_name(f".{out.name}.tmp{os.getpid()}")
    shutil.rmtree(staged, ignore_errors=True)
    merged.save_pretrained(staged)
    loaded.tokenizer.save_pretrained(staged)  # carries the chat template the adapter was trained with
    write_card(staged, {**card, "merged_from": name})
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged.replace(out)
    log.info("merged adapter %s into %s -> %s", name, card["base"], out)
    return out
