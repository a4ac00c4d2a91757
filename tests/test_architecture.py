"""The layers of docs/architecture.md, checked against the code: basics -> knowledge_base -> tutor -> finetune
-> app (the webapp package and its entry point app.py). A package imports only from the layers below it (deferred imports inside functions count too), so the
graph has no cycle and a reader can learn the project bottom up."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["basics", "knowledge_base", "tutor", "finetune", "webapp"]
ALIASES = {"app": "webapp"}  # app.py is the web app's entry point: the same layer
MAX_LINES = 400


def _sources() -> dict[str, list[Path]]:
    """Each layer's Python files (the web app layer: webapp/ and app.py)."""
    out = {layer: sorted((ROOT / layer).rglob("*.py")) for layer in LAYERS if (ROOT / layer).is_dir()}
    out.setdefault("webapp", []).append(ROOT / "app.py")
    return out


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {ALIASES.get(top, top) for top in (name.split(".")[0] for name in names)} & set(LAYERS)


def test_packages_import_only_the_layers_below_them():
    wrong = []
    for layer, files in _sources().items():
        allowed = set(LAYERS[: LAYERS.index(layer) + 1])
        for path in files:
            for other in sorted(_imported_layers(path) - allowed):
                wrong.append(f"{path.relative_to(ROOT)} ({layer}) imports {other}")
    assert not wrong, "imports against the layering basics -> knowledge_base -> tutor -> finetune -> webapp:\n" + "\n".join(wrong)


def test_modules_stay_small_enough_to_read():
    long = [f"{p.relative_to(ROOT)}: {n} lines" for files in _sources().values() for p in files
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines (split them by what they hold):\n" + "\n".join(long)


def test_the_checks_see_a_deferred_import(tmp_path):
    """The parser finds deferred imports too: a function-level ``from finetune...`` inside tutor/ counts."""
    source = tmp_path / "probe.py"
    source.write_text("import json\ndef f():\n    from finetune.train import x\n    import tutor.engine\n", encoding="utf-8")
    assert _imported_layers(source) == {"finetune", "tutor"}


def test_configs_refuse_wrong_settings_when_made():
    """A wrong setting fails where it is written, naming the setting (not at the first search or question)."""
    import pytest

    from basics.errors import ConfigError
    from knowledge_base.config import KBConfig
    from tutor.engine_config import EngineConfig

    EngineConfig(), KBConfig()  # the defaults are valid
    for bad, name in ((dict(k=0), "k"), (dict(search_mode="semantic"), "search_mode"),
                      (dict(faq_threshold=2.0), "faq_threshold"), (dict(temperature=-1.0), "temperature"), (dict(verifiers="facts,nope"), "verifiers")):
        with pytest.raises(ConfigError, match=name):
            EngineConfig(**bad)
    for bad, name in ((dict(chunk_overlap=300), "chunk_overlap"), (dict(candidates=0), "candidates")):
        with pytest.raises(ConfigError, match=name):
            KBConfig(**bad)


def test_flags_are_derived_from_config_fields():
    """`tutor ask --help` shows EngineConfig's own help and default; a flag left out keeps the config default."""
    import argparse

    from click.testing import CliRunner

    from basics.flags import add_arguments, config_from_flags
    from tutor.cli import main
    from tutor.engine_config import EngineConfig

    out = " ".join(CliRunner().invoke(main, ["ask", "--help"]).output.split())
    assert "--remote-url" in out and "TUTOR_REMOTE_URL" in out and "[default: 160]" in out
    parser = argparse.ArgumentParser()
    add_arguments(parser, EngineConfig, ["max_new_tokens", "remote_url"])
    given = vars(parser.parse_args(["--max-new-tokens", "32"]))
    config = config_from_flags(EngineConfig, given, env={"TUTOR_REMOTE_URL": "http://gpu:8000"})
    assert config.max_new_tokens == 32 and config.remote_url == "http://gpu:8000" and config.k == EngineConfig().k


def test_training_flags_are_derived_from_train_config(tmp_path):
    """`tutor finetune` reads TrainConfig's fields (with --lr as the short spelling of --learning-rate); a
    setting TrainConfig refuses is refused before any model loads."""
    from click.testing import CliRunner

    from tutor.cli import main

    faq = ROOT / "knowledge_base" / "sample_course" / "faq.csv"
    out = " ".join(CliRunner().invoke(main, ["finetune", "--help"]).output.split())
    assert "--learning-rate, --lr" in out and "[default: 0.0002]" in out and "--rag" in out
    res = CliRunner().invoke(main, ["finetune", str(faq), "--name", "x", "--rag", "--lr", "0.001",
                                    "--data-dir", str(tmp_path)])
    assert res.exit_code == 2 and "--rag needs --course" in res.output
    res = CliRunner().invoke(main, ["finetune", str(faq), "--name", "x", "--lr", "3", "--data-dir", str(tmp_path)])
    assert res.exit_code == 2 and "learning_rate must be in (0, 1), got 3.0" in res.output
