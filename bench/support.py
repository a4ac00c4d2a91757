"""Is a sentence of an answer supported by the excerpts it was written from? The rule verifiers against the
model's own yes/no judgement (``tutor.verify.support``), on sentences labelled by reading.

Two steps:

- ``build``: the sentences of the answers an evaluation recorded (its answers.jsonl: the raw model text of
  each try, and the excerpts it saw), one row each, unlabelled. Only our own courses' answers go into the
  project (the public QA sets' text stays in ../shared).
- ``score``: the labelled rows (tests/data/support_labels.jsonl: ``label`` "supported" or "unsupported",
  decided by reading the sentence against its excerpts) judged by each checker: precision and recall of
  "unsupported", per language, and the time each judgement adds.

    python bench/support.py build REPORT_DIR... --out /tmp/support_items.jsonl
    python bench/support.py score --preset qwen2.5-1.5b-instruct
    python bench/support.py ablate
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.finetune_eval import ROOT  # noqa: E402  (sets the offline/cache environment)

LABELS = ROOT / "tests" / "data" / "support_labels.jsonl"
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def build(args) -> None:
    """Rows to label from the answers.jsonl of evaluation reports."""
    from tutor.evidence import split_sentences
    from tutor.prompts import says_not_covered

    rows, seen = [], set()
    for report in args.reports:
        course = json.loads((Path(report) / "metrics.json").read_text(encoding="utf-8"))["config"]["course"]
        for line in (Path(report) / "answers.jsonl").read_text(encoding="utf-8").splitlines():
            answer = json.loads(line)
            grounding = answer.get("grounding") or {}
            if answer.get("system") == "retrieval_only" or not grounding.get("excerpts"):
                continue
            tries = [(grounding.get("first_try") or {}).get("raw", ""), grounding.get("raw", "")]
            for attempt, raw in enumerate(t for t in tries if t):
                if says_not_covered(raw):
                    continue
                for position, sentence in enumerate(split_sentences(raw)):
                    key = hashlib.sha1(f"{course}\n{answer['question']}\n{sentence}".encode()).hexdigest()[:12]
                    if key in seen or len(sentence) < 4:
                        continue
                    seen.add(key)
                    rows.append({"id": key, "course": course, "language": answer["language"], "question": answer["question"],
                                 "position": position, "try": attempt, "sentence": sentence,
                                 "excerpts": grounding["excerpts"], "label": "", "note": ""})
    Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    languages = sorted({r["language"] for r in rows})
    print(f"{len(rows)} sentences in {len(languages)} languages ({', '.join(languages)}) -> {args.out}")


def rules_say_unsupported(row: dict, verifiers: str | None = None) -> bool:
    """What the verifiers (``tutor.verify.checks``; the default list) find on the sentence, in its place in the answer."""
    from tutor.prompts import INSTRUCTIONS
    from tutor.verify import DEFAULT_VERIFIERS, SentenceGate

    gate = SentenceGate.for_answer(row["question"], row["excerpts"], row["language"], instructions=INSTRUCTIONS,
                                   verifiers=verifiers or DEFAULT_VERIFIERS)
    gate.context.first = row["position"] == 0
    return not gate.check(row["sentence"]).ok


def answer_messages(row: dict, generator) -> list[dict]:
    """The answer's prompt as the engine builds it (``build_messages``) from the row's excerpts."""
    from knowledge_base.search import Hit
    from tutor.prompts import build_messages

    hits = [Hit(f"c{i}", i, "course", None, None, None, text, 0, len(text), 1.0, 1.0, None)
            for i, text in enumerate(row["excerpts"])]
    return build_messages(row["question"], hits, [], row["language"], generator.tokenizer, 700)[0]


def _pr(pairs: list[tuple[bool, bool]]) -> dict:
    """Precision and recall of "unsupported" over (said unsupported, is unsupported) pairs."""
    said = sum(1 for s, _ in pairs if s)
    hit = sum(1 for s, truth in pairs if s and truth)
    truth = sum(1 for _, t in pairs if t)
    return {"n": len(pairs), "unsupported": truth, "flagged": said,
            "precision": hit / said if said else None, "recall": hit / truth if truth else None}


def ablate(args) -> None:
    """Each rule verifier's worth on the labels: precision and recall of the list without it, and the unsupported
    sentences only it finds against the supported ones only it flags. A rule that finds nothing the others miss
    and flags supported sentences does not earn its place."""
    from tutor.verify.checks import DEFAULT_VERIFIERS

    rows = [json.loads(line) for line in Path(args.labels).read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("label") in ("supported", "unsupported")]
    names = DEFAULT_VERIFIERS.split(",")
    truth = [r["label"] == "unsupported" for r in rows]
    alone = {n: [rules_say_unsupported(r, n) for r in rows] for n in names}
    every = [any(alone[n][i] for n in names) for i in range(len(rows))]
    print(f"{len(rows)} labelled sentences, {sum(truth)} unsupported; languages: "
          f"{', '.join(sorted({r['language'] for r in rows}))}")
    print("\n| verifiers | flagged | precision | recall | only this one finds (unsupported / supported) |\n|---|---|---|---|---|")
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    m = _pr(list(zip(every, truth)))
    print(f"| all ({DEFAULT_VERIFIERS}) | {m['flagged']} | {fmt(m['precision'])} | {fmt(m['recall'])} | |")
    for n in names:
        without = [any(alone[o][i] for o in names if o != n) for i in range(len(rows))]
        m = _pr(list(zip(without, truth)))
        own = [i for i in range(len(rows)) if alone[n][i] and not without[i]]
        print(f"| without {n} | {m['flagged']} | {fmt(m['precision'])} | {fmt(m['recall'])} | "
              f"{sum(truth[i] for i in own)} / {sum(not truth[i] for i in own)} |")
    print("\nreproduce: python bench/support.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]))


def score(args) -> None:
    from basics.config import Paths
    from tutor.runtime.backends import create_generator
    from tutor.engine_config import EngineConfig
    from tutor.runtime.generators.base import choose
    from tutor.verify.support import SupportJudge

    rows = [json.loads(line) for line in Path(args.labels).read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("label") in ("supported", "unsupported")]
    if args.sample:  # a fixed random share of the rows of each course (a judgement costs a prefill: minutes per 100)
        import random

        rng = random.Random(0)
        rows = [r for r in rows if r["course"] in args.all_of.split(",") or rng.random() < args.sample]
    if args.limit:
        rows = rows[: args.limit]
    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None
    judge = None
    if args.preset:
        generator = create_generator(EngineConfig(model=args.preset), Paths.from_env().cache_dir, None)
        judge = SupportJudge(generator)
    results, times, times_in = [], [], []
    for i, row in enumerate(rows):
        truth = row["label"] == "unsupported"
        rules = rules_say_unsupported(row)
        p_no = p_in = None
        if judge is not None and args.variant in ("standalone", "both"):
            t0 = time.perf_counter()  # rows of one answer follow each other: they share the excerpts' prefill
            p_no = judge.unsupported(row["sentence"], row["excerpts"], row["question"])
            times.append(time.perf_counter() - t0)
        if judge is not None and args.variant == "prefix":
            messages = answer_messages(row, generator)
            choose(generator, messages, ("yes", "no"))  # as in the engine: the answer's prompt is in the cache
            t1 = time.perf_counter()
            p_in = judge.unsupported_after(messages, row["sentence"], row["question"])
            times_in.append(time.perf_counter() - t1)
        if judge is not None and args.variant in ("turn", "both"):
            messages = answer_messages(row, generator)
            # as in the engine: the answer's prompt and text are in the cache when the judgement comes
            choose(generator, messages + [{"role": "assistant", "content": row["sentence"].strip()}], ("yes", "no"))
            t1 = time.perf_counter()
            p_in = judge.unsupported_in(messages, row["sentence"], row["sentence"])
            times_in.append(time.perf_counter() - t1)
        results.append({"id": row["id"], "language": row["language"], "truth": truth, "rules": rules, "model": p_no,
                        "turn": p_in, "seconds": (times_in or times or [None])[-1]})
        if dump:  # written as they come: a long run cut short keeps what it measured
            dump.write(json.dumps(results[-1]) + "\n")
            dump.flush()
        if (i + 1) % 25 == 0:
            print(f"  {i + 1}/{len(rows)}", file=sys.stderr)
    languages = sorted({r["language"] for r in results})
    print(f"{len(results)} labelled sentences, {sum(r['truth'] for r in results)} unsupported, languages: {', '.join(languages)}")
    print("\n| checker | n | flagged | precision | recall |\n|---|---|---|---|---|")

    def line(name, pairs):
        m = _pr(pairs)
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        print(f"| {name} | {m['n']} | {m['flagged']} | {fmt(m['precision'])} | {fmt(m['recall'])} |")

    line("rules (default verifiers)", [(r["rules"], r["truth"]) for r in results])
    if judge is not None and p_no is not None:
        for t in THRESHOLDS:
            line(f"model P(no) >= {t}", [(r["model"] >= t, r["truth"]) for r in results])
        for t in THRESHOLDS:
            line(f"rules or model >= {t}", [(r["rules"] or r["model"] >= t, r["truth"]) for r in results])
    if judge is not None and p_in is not None:
        for t in THRESHOLDS:
            line(f"{args.variant} P(no) >= {t}", [(r["turn"] >= t, r["truth"]) for r in results])
        for t in THRESHOLDS:
            line(f"rules or {args.variant} >= {t}", [(r["rules"] or r["turn"] >= t, r["truth"]) for r in results])
        for name, ts in (("standalone prompt", times), ("next turn of the answer's prompt", times_in)):
            if not ts:
                continue
            ts.sort()
            print(f"\nmodel judgement, {name}: p50 {ts[len(ts) // 2] * 1000:.0f} ms, p95 {ts[int(len(ts) * 0.95)] * 1000:.0f} ms")
    print("\n| language | n | unsupported | rules P / R | model (0.5) P / R |\n|---|---|---|---|---|")
    by = defaultdict(list)
    for r in results:
        by[r["language"]].append(r)
    for lang, rs in sorted(by.items()):
        a = _pr([(r["rules"], r["truth"]) for r in rs])
        key = "model" if p_no is not None else "turn"
        b = _pr([(r[key] >= 0.5, r["truth"]) for r in rs]) if judge is not None else {"precision": None, "recall": None}
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        print(f"| {lang} | {len(rs)} | {a['unsupported']} | {fmt(a['precision'])} / {fmt(a['recall'])} | "
              f"{fmt(b['precision'])} / {fmt(b['recall'])} |")
    print("\nreproduce: python bench/support.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    b = sub.add_parser("build", help="sentences to label, from evaluation reports")
    b.add_argument("reports", nargs="+")
    b.add_argument("--out", default="/tmp/support_items.jsonl")
    s = sub.add_parser("score", help="the checkers against the labels")
    s.add_argument("--labels", default=str(LABELS))
    s.add_argument("--preset", default="qwen2.5-1.5b-instruct", help="model of the yes/no judge ('' for the rules alone)")
    s.add_argument("--limit", type=int, default=0)
    s.add_argument("--sample", type=float, default=0.0, help="judge only this random share of the rows ...")
    s.add_argument("--all-of", default="estatistica", help="... except those of these courses, all judged")
    s.add_argument("--dump", default="", help="write each sentence's verdicts here (jsonl)")
    s.add_argument("--variant", default="standalone", choices=("standalone", "turn", "both", "prefix"),
                   help="the judge's prompt: its own (excerpts, question, sentence); the turn after the answer; or "
                        "a turn after the answer prompt's system turn (rules and excerpts: cached)")
    a = sub.add_parser("ablate", help="each rule verifier's worth on the labels (no model)")
    a.add_argument("--labels", default=str(LABELS))
    args = ap.parse_args()
    {"build": build, "score": score, "ablate": ablate}[args.what](args)


if __name__ == "__main__":
    main()
