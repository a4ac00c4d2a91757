"""Fine-tuning and evaluation on public QA data: base vs adapter vs retrieval-only, and training speed.

A course is built from SQuAD 2.0 dev paragraphs (one document per paragraph, optionally XQuAD zh
paragraphs too); its questions are split in two: the adapter trains (``--rag``: prompts hold the
retrieved excerpts, the engine's own format) on one part, and every system is evaluated on questions the
adapter never saw. Unanswerable SQuAD 2.0 questions test refusals. Everything runs through the library
(`train_adapter`, `run_evaluation`), i.e. the same code as `tutor finetune` / `tutor eval`.

The shared data is read from ../shared/data and written only to a temporary directory (never into the
project). Prints the figures and the command that reproduces them.

    python bench/finetune_eval.py --paragraphs 48 --train 160 --eval 80 --base smollm2-135m-instruct
    python bench/finetune_eval.py --paragraphs 120 --train 320 --eval 80   # the default preset
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TUTOR_CACHE_DIR", str(ROOT / ".cache" / "test-models"))


def squad_items(path: Path, n_paragraphs: int, seed: int, prefix: str, language: str):
    """(documents, questions) from ``n_paragraphs`` seeded-random paragraphs of a SQuAD-format file."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs = [(a["title"], i, p) for a in data for i, p in enumerate(a["paragraphs"])]
    random.Random(seed).shuffle(paragraphs)
    docs, questions = [], []
    for title, i, p in paragraphs[:n_paragraphs]:
        name = f"{prefix}-{title[:40].replace(' ', '_')}-{i}.md"
        docs.append((name, f"# {title}\n\n{p['context']}\n"))
        for qa in p["qas"]:
            answerable = not qa.get("is_impossible", False)
            answers = [a["text"] for a in qa["answers"]] if answerable else [""]
            # Every annotator's span is a reference (the official SQuAD script scores the best one).
            questions.append({"question": qa["question"], "answer": answers[0], "source": name if answerable else None,
                              "answerable": answerable, "language": language,
                              "also_accepted": list(dict.fromkeys(answers[1:])) or None})
    return docs, questions


def report(eval_file: Path, econfig, paths, kb, out: Path) -> None:
    """Run one evaluation and print its metrics as a Markdown table, with each F1 against retrieval-only."""
    from finetune.evaluate import run_evaluation

    t0 = time.perf_counter()
    result = run_evaluation(eval_file, econfig, paths, kb=kb, out_dir=out)
    print(f"evaluation: {time.perf_counter() - t0:.0f} s, report {out / 'report.html'}")

    keys = ("answer_f1", "exact_match", "rouge_l", "semantic_similarity", "language_match", "refusal_precision",
            "refusal_recall", "retrieval_recall_at_1", "retrieval_recall_at_5", "mrr", "latency_p50_ms", "latency_p95_ms")
    systems = result.metrics["systems"]
    print("| metric | " + " | ".join(systems) + " |")
    print("|---" * (len(systems) + 1) + "|")
    for k in keys:
        cells = [systems[s][k] for s in systems]
        print(f"| {k} | " + " | ".join("-" if v is None else f"{v:.3f}" if v < 100 else f"{v:.0f}" for v in cells) + " |")
    anchor = systems["retrieval_only"]["answer_f1"] or 1e-9
    for s in systems:
        print(f"F1 {s} / retrieval_only = {systems[s]['answer_f1'] / anchor:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", default=None, help="preset, directory or HF id [default: the default preset]")
    ap.add_argument("--paragraphs", type=int, default=48, help="SQuAD paragraphs in the course")
    ap.add_argument("--zh-paragraphs", type=int, default=0, help="XQuAD zh paragraphs added to the course")
    ap.add_argument("--train", type=int, default=160, help="training questions (answerable + some unanswerable)")
    ap.add_argument("--eval", type=int, default=80, help="held-out evaluation questions")
    ap.add_argument("--unanswerable-share", type=float, default=0.1, help="share of unanswerable questions in both sets")
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--max-length", type=int, default=384)
    ap.add_argument("--rag-k", type=int, default=2, help="chunks in the training prompts")
    ap.add_argument("--engine-k", type=int, default=None,
                    help="chunks the engine retrieves when evaluating [default: --rag-k, so train and eval prompts match]")
    ap.add_argument("--precision", default="auto", help="training precision: auto | fp32 | bf16")
    ap.add_argument("--optimize", nargs="+", default=["auto"],
                    help="the engine's CPU speed-up at evaluation, one evaluation each: auto | none | bf16 | int8 | int4")
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--skip-train", action="store_true", help="evaluate base + retrieval-only only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="report directory [default: a temp dir]")
    args = ap.parse_args()
    from tutor.runtime.models import DEFAULT_PRESET

    args.base = args.base or DEFAULT_PRESET
    engine_k = args.engine_k or args.rag_k

    from finetune.evaluate import EvalConfig
    from finetune.train import TrainConfig, train_adapter
    from knowledge_base import KnowledgeBase
    from basics.config import Paths

    docs, questions = squad_items(SHARED / "squad-v2-dev" / "squad-v2-dev.json", args.paragraphs, args.seed, "squad", "en")
    if args.zh_paragraphs:
        zdocs, zq = squad_items(SHARED / "xquad-dev" / "xquad-dev.zh.json", args.zh_paragraphs, args.seed, "xquad", "zh")
        docs += zdocs
        questions += zq
    rng = random.Random(args.seed)
    rng.shuffle(questions)
    answerable = [q for q in questions if q["answerable"]]
    unanswerable = [q for q in questions if not q["answerable"]]
    n_un_eval = int(args.eval * args.unanswerable_share)
    n_un_train = int(args.train * args.unanswerable_share)
    eval_set = answerable[: args.eval - n_un_eval] + unanswerable[:n_un_eval]
    train_set = answerable[args.eval - n_un_eval: args.eval - n_un_eval + args.train - n_un_train] \
        + unanswerable[n_un_eval: n_un_eval + n_un_train]
    seen = {q["question"] for q in train_set}
    assert not any(q["question"] in seen for q in eval_set), "evaluation questions leaked into training"

    work = Path(tempfile.mkdtemp(prefix="bench-ft-"))
    paths = Paths(work / "data", Path(os.environ["TUTOR_CACHE_DIR"]))
    kb = KnowledgeBase(paths)
    t0 = time.perf_counter()
    kb.add_texts("squad", docs)
    print(f"course: {len(docs)} documents in {time.perf_counter() - t0:.1f} s; train {len(train_set)} / eval {len(eval_set)} questions")

    def write(rows, name):
        path = work / name
        path.write_text("\n".join(json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False)
                                  for r in rows) + "\n", encoding="utf-8")
        return path

    train_file, eval_file = write(train_set, "train.jsonl"), write(eval_set, "eval.jsonl")
    card = None
    if not args.skip_train:
        config = TrainConfig(base=args.base, rag=True, course="squad", rag_k=args.rag_k, epochs=args.epochs,
                             max_length=args.max_length, r=args.r, learning_rate=args.lr, batch_size=args.batch_size,
                             seed=args.seed, precision=args.precision)
        card = train_adapter(train_file, "squad-rag", config, paths, kb=kb)
        m = card["metrics"]
        print(f"training: {m['steps']} steps, {m['train_runtime_s']:.0f} s, {m['samples_per_second']:.2f} samples/s, "
              f"val loss {m['val_loss_before']:.3f} -> {m['val_loss_after']:.3f}")
    for optimize in args.optimize:
        print(f"\n## evaluation with optimize={optimize}")
        econfig = EvalConfig(course="squad", adapter=None if args.skip_train else "squad-rag",
                             compare=() if args.skip_train else ("base",), model=args.base,
                             engine_options={"max_new_tokens": args.max_new_tokens, "k": engine_k, "optimize": optimize})
        out = (Path(args.out) if args.out else work / "report") / (optimize if len(args.optimize) > 1 else "")
        report(eval_file, econfig, paths, kb, out)
    if card:
        print(json.dumps({"card_metrics": card["metrics"]}, default=str))
    print("command: python " + " ".join(shlex.quote(a) for a in [str(Path(__file__).relative_to(ROOT))] + sys.argv[1:]))


if __name__ == "__main__":
    main()
