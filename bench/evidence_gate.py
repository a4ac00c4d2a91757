"""Calibrating the evidence gate for an embedder: top dense cosine of covered vs off-course questions.

The engine refuses without calling the model when the best retrieved passage's cosine is under
``EmbedderSpec.min_evidence``. Each embedder spreads cosines differently, so the level is measured here:

- ``squad``: a course from half of the SQuAD 2.0 dev articles; answerable questions on that half (covered)
  and on the other half (off-course);
- ``sample``: our sample course and its regression set (off-topic rows vs the rest, all languages);
- ``xquad``: XQuAD zh questions against the English paragraphs (every one covered): cross-language
  questions must clear the gate too.

For each threshold it prints the gate's refusal precision / recall on off-course questions and the share
of covered questions it would wrongly refuse; the gate should refuse only what is clearly off-course (the
model's NOT_IN_COURSE and the answer check handle the rest), so pick the highest level whose wrongly
refused share stays about 1%.

    python bench/evidence_gate.py --embedder embeddinggemma-300m --questions 100
    python bench/evidence_gate.py --embedder all-MiniLM-L6-v2 --questions 100
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.finetune_eval import ROOT, SHARED  # noqa: E402  (sets the offline/cache environment)


def top_cosines(kb, course: str, questions: list[str]) -> list[float]:
    return [max((h.dense_score for h in kb.search(q, course, k=5)), default=0.0) for q in questions]


def table(name: str, covered: list[float], off: list[float], levels: list[float]) -> None:
    print(f"\n### {name}: {len(covered)} covered, {len(off)} off-course questions")
    print("| min_evidence | refusal precision | refusal recall | covered wrongly refused |")
    print("|---|---|---|---|")
    for t in levels:
        refused_off = sum(c < t for c in off)
        refused_cov = sum(c < t for c in covered)
        refused = refused_off + refused_cov
        precision = refused_off / refused if refused else 1.0
        recall = refused_off / len(off) if off else float("nan")
        print(f"| {t:.2f} | {precision:.3f} | {recall:.3f} | {refused_cov / max(1, len(covered)):.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--embedder", default=None, help="registered name or path (default: the default embedder)")
    ap.add_argument("--questions", type=int, default=100, help="covered and off-course SQuAD questions each")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--levels", type=float, nargs="+", default=[0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45])
    args = ap.parse_args()

    from knowledge_base import KBConfig, KnowledgeBase
    from basics.config import Paths
    import os

    config = KBConfig(embedder=args.embedder) if args.embedder else KBConfig()
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Paths(Path(tmp), Path(os.environ["TUTOR_CACHE_DIR"])), config)
        print(f"embedder: {kb.embedder.name}")

        t0 = time.perf_counter()
        kb.ensure_sample_course()
        rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "sample_course_questions.jsonl").open()]
        on = top_cosines(kb, "sample", [r["question"] for r in rows if r["category"] != "off-topic"])
        off = top_cosines(kb, "sample", [r["question"] for r in rows if r["category"] == "off-topic"])
        table("sample course", on, off, args.levels)
        print(f"(sample course built and searched in {time.perf_counter() - t0:.0f} s)")

        data = json.loads((SHARED / "squad-v2-dev" / "squad-v2-dev.json").read_text(encoding="utf-8"))["data"]
        articles = list(data)
        random.Random(args.seed).shuffle(articles)
        half = len(articles) // 2
        docs = [(f"{a['title'][:40]}-{i}.md", f"# {a['title']}\n\n{p['context']}\n")
                for a in articles[:half] for i, p in enumerate(a["paragraphs"])]

        def questions(part):
            return [qa["question"] for a in part for p in a["paragraphs"] for qa in p["qas"] if not qa.get("is_impossible")]

        rng = random.Random(args.seed)
        inside = rng.sample(questions(articles[:half]), args.questions)
        outside = rng.sample(questions(articles[half:]), args.questions)
        t0 = time.perf_counter()
        kb.add_texts("half", docs, progress=True)
        print(f"(SQuAD half course: {len(docs)} paragraphs embedded in {time.perf_counter() - t0:.0f} s)")
        table("SQuAD 2.0 dev, half the articles as the course", top_cosines(kb, "half", inside),
              top_cosines(kb, "half", outside), args.levels)

        xq = json.loads((SHARED / "xquad-dev" / "xquad-dev.en.json").read_text(encoding="utf-8"))["data"]
        zh = json.loads((SHARED / "xquad-dev" / "xquad-dev.zh.json").read_text(encoding="utf-8"))["data"]
        kb.add_texts("xq", [(f"{a}-{p}.md", para["context"]) for a, art in enumerate(xq)
                            for p, para in enumerate(art["paragraphs"])])
        zq = [qa["question"] for art in zh for para in art["paragraphs"] for qa in para["qas"]]
        table("XQuAD zh questions on the English paragraphs", top_cosines(kb, "xq", zq), [], args.levels)
        kb.close()
    print("\ncommand: python bench/evidence_gate.py" + "".join(f" {a}" for a in sys.argv[1:]))


if __name__ == "__main__":
    main()
