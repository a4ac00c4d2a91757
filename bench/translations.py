"""Does a quote's translation say what the course sentence says? The facts check against a meaning check by the
multilingual embedder (cosine of the course sentence and its translation), on XQuAD's parallel paragraphs.

XQuAD's paragraphs are human translations of the same English paragraphs in 11 languages. Where an English
paragraph and its translation split into the same number of sentences, sentence i of one is the translation of
sentence i of the other: those pairs are faithful translations (positives); sentence i against sentence j of the
same translated paragraph is a fluent sentence on the same topic that says something else (hard negatives).
The model then translates each English sentence the way the engine translates a quote (``translate``), and each
translation gets its cosine, its facts verdict and its text, for reading.

    python bench/translations.py --preset qwen2.5-1.5b-instruct --sentences 8
    python bench/translations.py --no-model          # the human pairs alone (seconds)

Prints, per language: the cosine of human translations (p5, p50), of hard negatives (p50, p95), of the model's
translations (p50), and how many of those the facts check and each cosine level accept; writes every row to
--out (JSONL) to read.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.finetune_eval import ROOT, SHARED  # noqa: E402  (sets the offline/cache environment)

LANGUAGES = ("ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
LEVELS = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8)


def paragraphs(language: str) -> list[str]:
    data = json.loads((SHARED / "xquad-dev" / f"xquad-dev.{language}.json").read_text(encoding="utf-8"))["data"]
    return [p["context"] for article in data for p in article["paragraphs"]]


def aligned(language: str, limit: int) -> list[tuple[str, str, list[str]]]:
    """(English sentence, its human translation, the translated paragraph's sentences) for up to ``limit``
    sentences of 10-40 words, one per paragraph, from paragraphs that split into as many sentences."""
    from tutor.evidence import split_sentences

    rows = []
    for en, other in zip(paragraphs("en"), paragraphs(language)):
        a, b = split_sentences(en), split_sentences(other)
        if len(a) != len(b) or len(a) < 2:
            b = None  # Hindi (।) and Thai (no full stop) rarely split alike: their sentences have no human pair
        for i, sentence in enumerate(a):
            if 10 <= len(sentence.split()) <= 40:
                rows.append((sentence, b[i] if b else None, b or []))
                break
    if not any(human for _, human, _ in rows):
        return rows[:limit]
    return [r for r in rows if r[1]][:limit]


def cosine(embedder, a: list[str], b: list[str]) -> np.ndarray:
    return np.sum(embedder.encode(a) * embedder.encode(b), axis=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="qwen2.5-1.5b-instruct")
    p.add_argument("--sentences", type=int, default=8, help="English sentences per language")
    p.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES)
    p.add_argument("--no-model", action="store_true", help="only the human translations and hard negatives")
    p.add_argument("--out", default="/tmp/translations.jsonl")
    args = p.parse_args()

    from knowledge_base.embedder import Embedder
    from basics.config import Paths
    from tutor.translation import translate, facts

    embedder = Embedder(cache_dir=Paths.from_env().cache_dir)
    generator = None
    if not args.no_model:
        from tutor.runtime.backends import create_generator
        from tutor.engine_config import EngineConfig
        generator = create_generator(EngineConfig(model=args.preset), Paths.from_env().cache_dir, None)

    rows, started = [], time.perf_counter()
    for language in args.languages:
        for en, human, others in aligned(language, args.sentences):
            negatives = [s for s in others if s != human]
            row = {"language": language, "source": en, "human": human,
                   "human_cos": float(cosine(embedder, [en], [human])[0]) if human else None,
                   "negative_cos": float(cosine(embedder, [en] * len(negatives), negatives).max()) if human else None}
            if generator is not None:
                raw: list[str] = []
                t0 = time.perf_counter()
                out = _drain(translate(generator, en, language, source="en", keep=raw))
                row.update(model=raw[0] if raw else "", accepted=out is not None, seconds=round(time.perf_counter() - t0, 2),
                           facts_same=facts(en) == facts(raw[0] if raw else "", language),
                           model_cos=float(cosine(embedder, [en], [raw[0] if raw else ""])[0]))
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ("source", "human")}, ensure_ascii=False)[:300],
                  flush=True)
    Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    report(rows)
    print(f"{len(rows)} sentences in {time.perf_counter() - started:.0f} s; rows in {args.out}")
    print("command: python bench/translations.py " + shlex.join(sys.argv[1:]))


def _drain(gen):
    """Run a generator that yields queue notices to its return value."""
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def report(rows: list[dict]) -> None:
    header = "| language | n | human p5 | human p50 | negative p50 | negative p95 | model p50 | facts accept |" + \
             "".join(f" cos≥{t} |" for t in LEVELS)
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for language in sorted({r["language"] for r in rows}) + ["all"]:
        part = [r for r in rows if language in ("all", r["language"])]
        human = np.array([r["human_cos"] for r in part if r["human_cos"] is not None])
        negative = np.array([r["negative_cos"] for r in part if r["negative_cos"] is not None])
        cells = [language, len(part)] + ([f"{np.percentile(human, 5):.2f}", f"{np.median(human):.2f}",
                 f"{np.median(negative):.2f}", f"{np.percentile(negative, 95):.2f}"] if len(human) else ["-"] * 4)
        if "model_cos" in part[0]:
            model = np.array([r["model_cos"] for r in part])
            cells += [f"{np.median(model):.2f}", f"{sum(r['facts_same'] for r in part)}/{len(part)}"]
            cells += [f"{int((model >= t).sum())}/{len(part)}" for t in LEVELS]
        print("| " + " | ".join(map(str, cells)) + " |")


if __name__ == "__main__":
    main()
