"""Answer quality and honesty of an untuned preset on public QA data, through `run_evaluation`.

Three measurements, each printing its figures and the command that reproduces it:

- ``quality``: a course of SQuAD 2.0 dev paragraphs (English) and XQuAD zh paragraphs; answerable
  questions of both, plus SQuAD 2.0 unanswerables. Token-F1 (en), character-F1 (zh), language match,
  answerable questions wrongly refused, and refusal precision/recall on the unanswerables.
- ``offcourse``: a course built from half of the dev articles; questions on the covered half (should be
  answered) and on the other half (should be refused): refusal precision and recall.
- ``crosslingual``: XQuAD's parallel files: a course of English paragraphs asked the Chinese questions
  (answers scored against the Chinese reference, character-F1), and a course of Chinese paragraphs asked
  the English ones: language match, F1, wrongly refused, per (question, course) language pair.
- ``languages``: XQuAD's English paragraphs as a course, the same questions asked in each of its 12 languages:
  per language, retrieval recall@5, answered, answer language, content against that language's reference.
- ``sample``: the regression set on our own sample course (tests/data/sample_course_questions.jsonl):
  share correct (every key fact stated; off-topic refused) and invented facts, for the tuning and the
  held-out half; ``--course estatistica`` asks the Portuguese statistics course its own set (never tuned on).
- ``speed``: answer latency p50/p95 on the sample course, and decode tokens/s through the engine against
  bare llama-cpp-python on the same GGUF and prompt tokens, in the same run.

The shared data is read from ../shared/data and written only to a temporary directory.

    python bench/answers.py quality --preset qwen2.5-1.5b-instruct --en 60 --zh 30 --unanswerable 20
    python bench/answers.py quality --preset qwen2.5-1.5b-instruct --en 60 --zh 30 --unanswerable 20 --answer-form short
    python bench/answers.py offcourse --preset qwen2.5-1.5b-instruct --questions 100
    python bench/answers.py crosslingual --preset qwen2.5-1.5b-instruct --questions 30
    python bench/answers.py languages --preset qwen2.5-1.5b-instruct --questions 8 --answer-form short
    python bench/answers.py sample --preset qwen2.5-1.5b-instruct
    python bench/answers.py sample --preset qwen2.5-1.5b-instruct --course estatistica
    python bench/answers.py speed --preset qwen2.5-1.5b-instruct --questions 20
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# finetune_eval sets the offline/cache environment and knows where the shared data lies
from bench.finetune_eval import ROOT, SHARED, squad_items  # noqa: E402  (after sys.path)

KEYS = ("answer_f1", "answer_recall", "correct", "invented_facts", "wrongly_refused", "language_match", "refusal_precision",
        "refusal_recall", "retrieval_recall_at_5", "latency_p50_ms", "latency_p95_ms")


def workspace():
    from knowledge_base import KnowledgeBase
    from basics.config import Paths

    work = Path(tempfile.mkdtemp(prefix="bench-answers-"))
    paths = Paths(work / "data", Path(os.environ["TUTOR_CACHE_DIR"]))
    return work, paths, KnowledgeBase(paths)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False)
                              for r in rows) + "\n", encoding="utf-8")
    return path


def evaluate(rows_file: Path, course: str, args, paths, kb, out: Path):
    """One evaluation of the preset (and the retrieval-only anchor); prints a table per language."""
    from finetune.evaluate import EvalConfig, run_evaluation
    from tutor.prompts import PromptConfig

    options = {"max_new_tokens": args.max_new_tokens,
               "prompt": PromptConfig(answer_form=args.answer_form, cite_sentences=args.cite_sentences)}
    if args.min_evidence is not None:
        options["min_evidence"] = args.min_evidence
    if args.support_judge:
        options["support_judge"] = True
    if args.pivot:
        options["pivot_answers"] = True
    config = EvalConfig(course=course, model=args.preset, engine_options=options, use_faq=False)
    t0 = time.perf_counter()
    result = run_evaluation(rows_file, config, paths, kb=kb, out_dir=out)
    print(f"evaluation: {time.perf_counter() - t0:.0f} s, report {out / 'report.html'}")
    systems = result.metrics["systems"]
    for system, block in systems.items():
        print(f"\n### {system}")
        groups = {"all": block, **block.get("by_split", {}), **block["by_language"], **block.get("by_language_pair", {})}
        print("| metric | " + " | ".join(groups) + " |")
        print("|---" * (len(groups) + 1) + "|")
        for k in KEYS:
            cells = [g.get(k) for g in groups.values()]
            print(f"| {k} | " + " | ".join("-" if v is None else f"{v:.3f}" if isinstance(v, float) and v < 100
                                          else f"{v:.0f}" for v in cells) + " |")
    return result


def cmd_quality(args) -> None:
    work, paths, kb = workspace()
    docs, qs = squad_items(SHARED / "squad-v2-dev" / "squad-v2-dev.json", args.paragraphs, args.seed, "squad", "en")
    zdocs, zqs = squad_items(SHARED / "xquad-dev" / "xquad-dev.zh.json", args.zh_paragraphs, args.seed, "xquad", "zh")
    kb.add_texts("qa", docs + zdocs)
    rng = random.Random(args.seed)
    rng.shuffle(qs)
    rng.shuffle(zqs)
    rows = [q for q in qs if q["answerable"]][: args.en] + [q for q in zqs if q["answerable"]][: args.zh] \
        + [q for q in qs if not q["answerable"]][: args.unanswerable]
    print(f"course: {len(docs)} SQuAD + {len(zdocs)} XQuAD zh paragraphs; {len(rows)} questions")
    evaluate(write_jsonl(work / "quality.jsonl", rows), "qa", args, paths, kb, work / "report")


def cmd_offcourse(args) -> None:
    """Half of the articles make the course; questions from the other half must be refused."""
    work, paths, kb = workspace()
    data = json.loads((SHARED / "squad-v2-dev" / "squad-v2-dev.json").read_text(encoding="utf-8"))["data"]
    articles = list(data)
    random.Random(args.seed).shuffle(articles)
    covered, other = articles[: len(articles) // 2], articles[len(articles) // 2:]
    docs, inside = [], []
    for a in covered:
        for i, p in enumerate(a["paragraphs"]):
            name = f"{a['title'][:40]}-{i}.md"
            docs.append((name, f"# {a['title']}\n\n{p['context']}\n"))
            inside += [{"question": qa["question"], "answer": qa["answers"][0]["text"], "source": name,
                        "answerable": True, "language": "en"} for qa in p["qas"] if not qa.get("is_impossible")]
    outside = [{"question": qa["question"], "answer": "", "answerable": False, "language": "en"}
               for a in other for p in a["paragraphs"] for qa in p["qas"] if not qa.get("is_impossible")]
    rng = random.Random(args.seed)
    rows = rng.sample(inside, args.questions) + rng.sample(outside, args.questions)
    t0 = time.perf_counter()
    kb.add_texts("half", docs)
    print(f"course: {len(covered)} articles, {len(docs)} paragraphs ({time.perf_counter() - t0:.0f} s); "
          f"{args.questions} covered + {args.questions} off-course questions")
    evaluate(write_jsonl(work / "offcourse.jsonl", rows), "half", args, paths, kb, work / "report")


def cmd_crosslingual(args) -> None:
    """Questions in one language on course material in the other (XQuAD en/zh are the same questions)."""
    work, paths, kb = workspace()
    for course, doc_lang, q_lang in (("xen", "en", "zh"), ("xzh", "zh", "en")):
        if f"{q_lang}->{doc_lang}" not in args.pairs:
            continue
        docs, _ = squad_items(SHARED / "xquad-dev" / f"xquad-dev.{doc_lang}.json", 60, args.seed, "xquad", doc_lang)
        q_docs, qs = squad_items(SHARED / "xquad-dev" / f"xquad-dev.{q_lang}.json", 60, args.seed, "xquad", q_lang)
        # The files are parallel and shuffled alike: paragraph i of one is paragraph i of the other.
        same = {q_name: name for (q_name, _), (name, _) in zip(q_docs, docs)}
        for q in qs:
            q["source"] = same[q["source"]]
        kb.add_texts(course, docs)
        rows = random.Random(args.seed).sample(qs, args.questions)
        print(f"\n## {q_lang} questions on {doc_lang} paragraphs ({len(docs)} paragraphs, {len(rows)} questions)")
        evaluate(write_jsonl(work / f"{course}.jsonl", rows), course, args, paths, kb, work / f"report-{course}")


XQUAD_LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")


def cmd_languages(args) -> None:
    """XQuAD's English paragraphs as one course, asked ``--questions`` questions in each XQuAD language (the
    same question ids in every language, so each language is asked the same things): per language, recall@5,
    answered (not refused), answer language and content against that language's reference."""
    work, paths, kb = workspace()
    docs, en_qs = squad_items(SHARED / "xquad-dev" / "xquad-dev.en.json", 60, args.seed, "xquad", "en")
    kb.add_texts("xen", docs)
    picked = random.Random(args.seed).sample(range(len(en_qs)), args.questions)
    rows = []
    for lang in args.languages:
        l_docs, qs = squad_items(SHARED / "xquad-dev" / f"xquad-dev.{lang}.json", 60, args.seed, "xquad", lang)
        same = {q_name: name for (q_name, _), (name, _) in zip(l_docs, docs)}  # parallel files, shuffled alike
        for i in picked:
            rows.append({**qs[i], "source": same[qs[i]["source"]]})
    print(f"course: {len(docs)} XQuAD en paragraphs; {args.questions} questions x {len(args.languages)} languages")
    evaluate(write_jsonl(work / "languages.jsonl", rows), "xen", args, paths, kb, work / "report")


# The built-in courses' question sets: the sample course's regression set (tuned on: read its held-out half) and
# the statistics course's (never tuned on).
QUESTION_SETS = {"sample": "sample_course_questions.jsonl", "estatistica": "statistics_course_questions.jsonl"}


def cmd_sample(args) -> None:
    work, paths, kb = workspace()
    kb.ensure_sample_course(args.course)
    evaluate(ROOT / "tests" / "data" / QUESTION_SETS[args.course], args.course, args, paths, kb, work / "report")


def cmd_speed(args) -> None:
    """Answer latency through the engine, and its decode speed against bare llama-cpp-python (same GGUF,
    same prompt tokens, same run, alternating so machine load hits both alike)."""
    from llama_cpp import Llama

    from finetune.metrics import percentile
    from tutor.engine import EngineConfig, TutorEngine
    from tutor.runtime.models import PRESETS

    work, paths, kb = workspace()
    kb.ensure_sample_course()
    rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "sample_course_questions.jsonl").open(encoding="utf-8")]
    questions = [r["question"] for r in rows if r["answerable"]][: args.questions]
    engine = TutorEngine(kb, EngineConfig(model=args.preset, log_questions=False, faq_threshold=1.01,
                                          max_new_tokens=args.max_new_tokens), paths)
    gen = engine.generator
    bare = Llama(model_path=str(PRESETS[args.preset].gguf_path(paths.cache_dir)), n_ctx=gen.config.n_ctx,
                 n_threads=os.cpu_count(), n_batch=gen.config.n_batch, seed=0, verbose=False)
    totals, firsts, prompts, prefill = [], [], [], []
    ours, theirs, same = [0, 0.0], [0, 0.0], 0  # [decode steps, seconds] summed over the answers
    for q in questions:
        t0 = time.perf_counter()
        result = engine.ask(q, [], "sample")
        totals.append((time.perf_counter() - t0) * 1000)
        stats = gen.last_stats
        if result.outcome not in ("answered", "quoted") or stats.new_tokens < 8:
            continue
        firsts.append(result.timings["first_token_ms"])
        prompts.append(stats.prompt_tokens)
        ours[0] += stats.new_tokens - 1
        ours[1] += stats.total_s - stats.first_token_s
        # The same request through bare llama-cpp-python: the prompt tokens, stops and penalty the engine
        # sent, greedy. Where the engine closed its stream early (a failed answer check), stop after as many
        # tokens; where the model ended it, run to the end too, so both count the same decode steps.
        bare.reset()
        t1, n, first = time.perf_counter(), 0, None
        for chunk in bare.create_completion(gen.last_prompt, max_tokens=args.max_new_tokens, temperature=0, top_k=1,
                                            stop=gen.last_stops or None, repeat_penalty=gen.repetition_penalty,
                                            stream=True):
            if not chunk["choices"][0].get("text"):
                continue
            n += 1
            first = first or time.perf_counter()
            if not stats.ran_out and n == stats.new_tokens:
                break
        end = time.perf_counter()
        same += n == stats.new_tokens
        theirs[0] += n - 1
        theirs[1] += end - first
        prefill.append(len(gen.last_prompt) / max(first - t1, 1e-9))  # from an empty cache: the whole prompt
    ours_rate, theirs_rate = ours[0] / max(ours[1], 1e-9), theirs[0] / max(theirs[1], 1e-9)
    print(f"{args.preset}: {len(questions)} questions; prompt tokens p50 {percentile(prompts, 50):.0f}")
    print(f"answer latency p50 {percentile(totals, 50) / 1000:.1f} s, p95 {percentile(totals, 95) / 1000:.1f} s; "
          f"first shown text p50 {percentile(firsts, 50) / 1000:.1f} s")
    print(f"bare llama-cpp-python prefill {sum(prefill) / max(len(prefill), 1):.0f} tokens/s")
    print(f"decode tokens/s: engine {ours_rate:.1f}, bare llama-cpp-python {theirs_rate:.1f} "
          f"= {ours_rate / max(theirs_rate, 1e-9):.2f}x ({len(prompts)} answers, {same} with the same token count)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("quality", "offcourse", "crosslingual", "languages", "sample", "speed"))
    ap.add_argument("--preset", default=None, help="preset, .gguf file, directory or HF id [default: the default preset]")
    ap.add_argument("--paragraphs", type=int, default=64, help="SQuAD paragraphs in the course (quality)")
    ap.add_argument("--zh-paragraphs", type=int, default=24, help="XQuAD zh paragraphs in the course (quality)")
    ap.add_argument("--en", type=int, default=60, help="answerable English questions (quality)")
    ap.add_argument("--zh", type=int, default=30, help="answerable Chinese questions (quality)")
    ap.add_argument("--unanswerable", type=int, default=20, help="SQuAD 2.0 unanswerable questions (quality)")
    ap.add_argument("--questions", type=int, default=100, help="covered and off-course questions each (offcourse); "
                    "questions timed (speed)")
    ap.add_argument("--pairs", nargs="+", default=["zh->en", "en->zh"], choices=["zh->en", "en->zh"],
                    help="question -> course languages (crosslingual)")
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--min-evidence", type=float, default=None, help="override the engine's evidence gate")
    ap.add_argument("--answer-form", default="sentences", choices=("sentences", "short"),
                    help="the prompt's answer length (tutor.prompts.ANSWER_FORMS): 'short' asks for the bare answer "
                         "that extractive QA references hold")
    ap.add_argument("--languages", nargs="+", default=list(XQUAD_LANGUAGES), choices=XQUAD_LANGUAGES,
                    help="question languages asked on the English XQuAD course (languages)")
    ap.add_argument("--cite-sentences", action="store_true", help="numbered excerpt sentences, cited by the answer "
                    "(PromptConfig.cite_sentences)")
    ap.add_argument("--support-judge", action="store_true", help="the engine's support judge on (EngineConfig.support_judge)")
    ap.add_argument("--pivot", action="store_true", help="answer in the course's language, then translate (EngineConfig.pivot_answers)")
    ap.add_argument("--course", default="sample", choices=tuple(QUESTION_SETS), help="built-in course (sample)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from tutor.runtime.models import DEFAULT_PRESET

    args.preset = args.preset or DEFAULT_PRESET
    {"quality": cmd_quality, "offcourse": cmd_offcourse, "crosslingual": cmd_crosslingual, "languages": cmd_languages,
     "sample": cmd_sample, "speed": cmd_speed}[args.what](args)
    print("command: python " + " ".join(shlex.quote(a) for a in [str(Path(__file__).relative_to(ROOT))] + sys.argv[1:]))


if __name__ == "__main__":
    main()
