"""The layers of docs/architecture.md, checked against the code: basics -> knowledge_base -> tutor -> finetune
-> app. A package imports only from the layers below it (deferred imports inside functions count too), so the
graph has no cycle and a reader can learn the project bottom up."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["basics", "knowledge_base", "tutor", "finetune", "app"]
MAX_LINES = 400


def _sources() -> dict[str, list[Path]]:
    """Each layer's Python files (``app`` is app.py and the web/ package, if any)."""
    out = {layer: sorted((ROOT / layer).rglob("*.py")) for layer in LAYERS if (ROOT / layer).is_dir()}
    out.setdefault("app", []).extend(p for p in [ROOT / "app.py"] if p.is_file())
    return out


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name.split(".")[0] for name in names} & set(LAYERS)


def test_packages_import_only_the_layers_below_them():
    wrong = []
    for layer, files in _sources().items():
        allowed = set(LAYERS[: LAYERS.index(layer) + 1])
        for path in files:
            for other in sorted(_imported_layers(path) - allowed):
                wrong.append(f"{path.relative_to(ROOT)} ({layer}) imports {other}")
    assert not wrong, "imports against the layering basics -> knowledge_base -> tutor -> finetune -> app:\n" + "\n".join(wrong)


def test_modules_stay_small_enough_to_read():
    long = [f"{p.relative_to(ROOT)}: {n} lines" for files in _sources().values() for p in files
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines (split them by what they hold):\n" + "\n".join(long)


def test_the_checks_see_a_deferred_import(tmp_path):
    """The parser finds deferred imports too: a function-level ``from finetune...`` inside tutor/ counts."""
    source = tmp_path / "probe.py"
    source.write_text("import json\ndef f():\n    from finetune.train import x\n    import tutor.engine\n", encoding="utf-8")
    assert _imported_layers(source) == {"finetune", "tutor"}
