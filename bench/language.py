"""Language of a student's question: accuracy of each detector on short questions in many languages.

Three labelled sets, none of them used to tune a detector:

- XQuAD (../shared/data/xquad-dev): the same 290 questions in 12 languages (ar de el en es hi ro ru th tr vi zh).
- The regression set's questions (tests/data/sample_course_questions.jsonl, labelled by its ``language``).
- The short hand-written questions of tests/test_language.py (mixed "Was ist LoRA?"-style questions).

Detectors: ``current`` (basics.language.detect_language as configured), ``langdetect`` (plain, seeded, every
language it knows) and ``lingua`` (lingua-language-detector, every language, high and low accuracy modes).
Prints accuracy overall and per language, the worst language, and microseconds per question.

    python bench/language.py
    python bench/language.py --detectors current lingua --sets xquad
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

XQUAD = ROOT.parent / "shared" / "data" / "xquad-dev"


def xquad_questions() -> list[tuple[str, str]]:
    rows = []
    for path in sorted(XQUAD.glob("xquad-dev.*.json")):
        lang = path.name.split(".")[1]
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
            for paragraph in article["paragraphs"]:
                rows += [(qa["question"].strip(), lang) for qa in paragraph["qas"]]
    return rows


def regression_questions() -> list[tuple[str, str]]:
    lines = (ROOT / "tests" / "data" / "sample_course_questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [(row["question"], row["language"]) for row in map(json.loads, filter(None, lines))]


def short_questions() -> list[tuple[str, str]]:
    """The hand-labelled short questions of tests/test_language.py (read from the test, not copied)."""
    import ast

    tree = ast.parse((ROOT / "tests" / "test_language.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SHORT":
            return [(text, lang) for text, lang in ast.literal_eval(node.value) if text.strip()]
    return []


def detectors(names: list[str]) -> dict[str, Callable[[str], str]]:
    out: dict[str, Callable[[str], str]] = {}
    if "current" in names:
        from basics.language import detect_language

        out["current"] = detect_language
    if "langdetect" in names:
        from langdetect import DetectorFactory, detect

        def plain_langdetect(text: str) -> str:
            DetectorFactory.seed = 0
            try:
                code = detect(text)
            except Exception:  # noqa: BLE001 - langdetect raises on text without features
                return "?"
            return "zh" if code.startswith("zh") else code

        out["langdetect"] = plain_langdetect
    if "fasttext" in names:  # the shipped model without the names step
        from basics.language import ranked_languages

        out["fasttext"] = lambda text: (ranked_languages(text) or [("?", 0.0)])[0][0]
    for mode in ("lingua", "lingua-low"):  # (pip install lingua-language-detector to compare)
        if mode in names:
            from lingua import LanguageDetectorBuilder

            builder = LanguageDetectorBuilder.from_all_languages()
            if mode == "lingua-low":
                builder = builder.with_low_accuracy_mode()
            detector = builder.with_preloaded_language_models().build()

            def lingua_detect(text: str, detector=detector) -> str:
                found = detector.detect_language_of(text)
                return found.iso_code_639_1.name.lower() if found is not None else "?"

            out[mode] = lingua_detect
    return out


def score(detect: Callable[[str], str], rows: list[tuple[str, str]]) -> dict:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong: list[tuple[str, str, str]] = []
    start = time.perf_counter()
    for text, lang in rows:
        got = detect(text)
        per[lang][0] += got == lang
        per[lang][1] += 1
        if got != lang:
            wrong.append((text, lang, got))
    elapsed = time.perf_counter() - start
    right = sum(r for r, _ in per.values())
    return {"accuracy": right / max(1, len(rows)), "n": len(rows), "per_language": {k: r / n for k, (r, n) in sorted(per.items())},
            "us_per_question": 1e6 * elapsed / max(1, len(rows)), "wrong": wrong}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--detectors", nargs="+", default=["current", "fasttext", "langdetect"],
                   help="current fasttext langdetect lingua lingua-low")
    p.add_argument("--sets", nargs="+", default=["xquad", "regression", "short"])
    p.add_argument("--show-wrong", type=int, default=8, help="wrong answers printed per detector and set")
    a = p.parse_args(argv)
    sets = {"xquad": xquad_questions, "regression": regression_questions, "short": short_questions}
    data = {name: sets[name]() for name in a.sets}
    for name, detect in detectors(a.detectors).items():
        detect("warm up")  # model loading is not a per-question cost
        for set_name, rows in data.items():
            s = score(detect, rows)
            worst = min(s["per_language"].items(), key=lambda kv: kv[1])
            per = " ".join(f"{k}={v:.3f}" for k, v in s["per_language"].items())
            print(f"{name:11s} {set_name:10s} n={s['n']:5d} accuracy={s['accuracy']:.3f} worst={worst[0]}:{worst[1]:.3f} "
                  f"{s['us_per_question']:.0f} us/question | {per}")
            for text, lang, got in s["wrong"][: a.show_wrong]:
                print(f"    {lang}->{got}: {text[:90]}")
    print("command:", "python bench/language.py " + shlex.join(argv if argv is not None else sys.argv[1:]))


if __name__ == "__main__":
    main()
