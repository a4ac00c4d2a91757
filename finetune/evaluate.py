"""Batch evaluation: every FAQ question through the same engine as the app, plus a retrieval-only anchor.

Each system (an adapter, the base model, and the retrieval-only baseline) answers every question of
the file; ``finetune.metrics`` scores the answers against the row's reference and the retrieved
documents against the row's ``source``. The retrieval-only baseline answers with the sentence of the
top retrieved chunk closest to the question (embedder cosine): it costs no generation and gives every
figure a same-run anchor - a generator that does not beat it adds nothing over search.

Leakage: evaluating on the FAQ file that is also loaded into the course would let FAQ matching return
the gold answer verbatim. ``EvalConfig.use_faq`` is False by default and the engine's ``faq_threshold``
is then set above any cosine (1.0), so the model is what gets measured; ``faq_match_rate`` reports
how often the FAQ answered either way.

Answer metrics (F1, EM, ROUGE-L, semantic similarity) are averaged over answerable rows only (the
reference of an unanswerable row is "refuse", scored by refusal precision / recall instead);
retrieval metrics over rows that name a ``source``. A row with ``also_accepted`` answers scores F1, EM,
ROUGE-L and recall against its best reference, as the official SQuAD script does.
"""

from __future__ import annotations

import hashlib

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from basics.config import Paths
from basics.errors import ConfigError
from basics.text import HAN_CHAR, words
from tutor.evidence import MARKER, Evidence, split_sentences
from tutor.verify import check_sentence
from tutor.verify.verdicts import invented
from basics.language import detect_language
from tutor.passages import best_passage
from finetune import metrics as M
from finetune.data import FAQInput, read_faq_data

log = logging.getLogger(__name__)

RETRIEVAL_ONLY = "retrieval_only"
# An answer of at most this many words, all from the course text, is a copied name (``answer_language``).
NAME_WORDS = 4
# The lexical answer scores of a row, each the best over the row's references (``FAQEntry.references``).
SCORES = {"f1": M.f1_score, "answer_recall": M.token_recall, "exact_match": M.exact_match, "rouge_l": M.rouge_l}


@dataclass
class EvalConfig:
    """What to evaluate and how. The primary system is the adapter when given, else the base model."""

    course: str = field(metadata={"help": "Course whose knowledge base answers the questions."})
    adapter: str | None = field(default=None, metadata={"help": "Adapter name: the primary system."})
    compare: tuple[str, ...] = field(default=(), metadata={"help": "More systems: 'base' or adapter names."})
    model: str | None = field(default=None, metadata={"help": "Base model; default: the adapter's base, else the default preset."})
    limit: int | None = field(default=None, metadata={"help": "Only the first N rows."})
    use_faq: bool = field(default=False, metadata={"help": "Allow FAQ matching (leaks gold answers if the FAQ is this file)."})
    faq_off_threshold: float = field(default=1.01, metadata={"help": "faq_threshold that disables FAQ matching (cosine <= 1)."})
    retrieval_k: int = field(default=5, metadata={"help": "Documents ranked for recall@k / MRR."})
    retrieval_mode: str = field(default="hybrid", metadata={"help": "Search mode for the retrieval metrics and baseline."})
    retrieval_only: bool = field(default=True, metadata={"help": "Include the retrieval-only baseline."})
    baseline_min_score: float | None = field(
        default=None, metadata={"help": "Retrieval-only refuses below this top-chunk cosine; None: the engine's min_evidence."}
    )
    engine_options: dict = field(default_factory=dict, metadata={"help": "Extra EngineConfig fields (e.g. max_new_tokens)."})
    show_progress: bool = field(default=True, metadata={"help": "tqdm progress bar."})


@dataclass
class EvalResult:
    metrics: dict
    rows: list[dict]
    out_dir: Path | None = None


def system_names(config: EvalConfig) -> list[str]:
    """Primary first, then comparisons, then the baseline; ``adapter:NAME`` / ``base`` / ``retrieval_only``."""
    names = [f"adapter:{config.adapter}" if config.adapter else "base"]
    for other in config.compare:
        name = "base" if other == "base" else f"adapter:{other.removeprefix('adapter:')}"
        if name not in names:
            names.append(name)
    if config.retrieval_only:
        names.append(RETRIEVAL_ONLY)
    return names


def retrieval_only_answer(question: str, hits: list, embedder, min_score: float) -> tuple[str, bool]:
    """(answer, refused): the top chunk's sentence closest to the question, or a refusal."""
    if not hits or (hits[0].dense_score is not None and hits[0].dense_score < min_score):
        return "", True
    return best_passage(question, hits[0].text, embedder, max_sentences=1), False


def _ranked_documents(hits: list) -> list[str]:
    seen: list[str] = []
    for h in hits:
        if h.document not in seen:
            seen.append(h.document)
    return seen


def _same_doc(gold: str | None, ranked: list[str]) -> list[str]:
    """Map retrieved names onto the gold spelling when they differ only by folder or suffix."""
    if not gold:
        return ranked
    stem = Path(gold).stem
    return [gold if (d == gold or Path(d).name == gold or Path(d).stem == stem) else d for d in ranked]


def _engine_for(system: str, config: EvalConfig, kb, paths: Paths, base: str):
    from tutor.engine import EngineConfig, open_engine

    options = {"log_questions": False, **config.engine_options}  # evaluation questions are not student questions
    if not config.use_faq:
        options["faq_threshold"] = config.faq_off_threshold
    adapter = system.removeprefix("adapter:") if system.startswith("adapter:") else None
    return open_engine(EngineConfig(model=base, adapter=adapter, **options), kb=kb, sample_course=False)


def _result_fields(result) -> dict:
    """What a row needs from an ``AnswerResult`` (through ``to_dict``, what ``tutor ask --json`` prints)."""
    d = result.to_dict()
    cited = [c.get("document") or "" for c in d.get("citations") or []]
    return {
        "answer": d.get("answer") or "",
        "refused": d.get("outcome") == "refused",
        "faq_match": d.get("outcome") == "faq",
        "cited": "|".join(dict.fromkeys(c for c in cited if c)),
        "engine_retrieved": [r["document"] for r in d.get("retrieval") or []],
        "outcome": d.get("outcome") or "",
        "grounding": d.get("grounding") or {},  # what the model saw and wrote: answers.jsonl in the report
    }


def run_evaluation(faq: FAQInput, config: EvalConfig, paths: Paths | None = None, kb=None,
                   out_dir: str | Path | None = None) -> EvalResult:
    """Evaluate every system on ``faq``; write the report to ``out_dir`` when given.

    ``faq`` is an FAQ file (what ``tutor eval`` passes) or a list of ``FAQEntry`` (what the app passes: the
    course's FAQ); ``metrics["faq_file"]`` names the file, or the course and entry count.
    """
    from tqdm.auto import tqdm

    from basics.language import entry_language
    from tutor.runtime.models import DEFAULT_PRESET

    paths = paths or Paths.from_env()
    data = read_faq_data(faq)
    entries = data.entries[: config.limit] if config.limit else data.entries
    if kb is None:
        from knowledge_base import KnowledgeBase

        kb = KnowledgeBase(paths)
    if config.course not in kb.courses():
        raise ConfigError(f"--course {config.course!r} is not in the knowledge base (courses: {', '.join(kb.courses()) or 'none'}).")
    base = config.model
    if base is None and config.adapter:
        from tutor.adapters import adapter_card

        base = adapter_card(paths, config.adapter).base
    base = base or DEFAULT_PRESET

    # Retrieval is the same for every system: search once per question.
    retrieved = [kb.search(e.question, config.course, k=config.retrieval_k, mode=config.retrieval_mode) for e in entries]
    languages = [entry_language(e) for e in entries]
    course_languages = [course_language(e, hits) for e, hits in zip(entries, retrieved)]
    min_score = config.baseline_min_score
    if min_score is None:
        min_score = kb.embedder.spec.min_evidence  # the engine's evidence gate for this embedder
    rows: list[dict] = []
    for system in system_names(config):
        engine = None if system == RETRIEVAL_ONLY else _engine_for(system, config, kb, paths, base)
        bar = tqdm(list(zip(entries, retrieved, languages, course_languages)), desc=f"eval {system}",
                   disable=not config.show_progress)
        for entry, hits, language, material_language in bar:
            started = time.perf_counter()
            if engine is None:
                answer, refused = retrieval_only_answer(entry.question, hits, kb.embedder, min_score)
                fields = {"answer": answer, "refused": refused, "faq_match": False,
                          "cited": hits[0].document if hits and not refused else ""}
                docs = _ranked_documents(hits)
            else:
                fields = _result_fields(engine.ask(entry.question, [], config.course))
                docs = list(dict.fromkeys(fields.pop("engine_retrieved"))) or _ranked_documents(hits)
            latency_ms = (time.perf_counter() - started) * 1000
            ranked = _same_doc(entry.source, docs)
            answer = fields["answer"]
            scored = entry.answerable  # a refused answerable question scores as a wrong answer
            words = MARKER.sub("", answer)  # citation markers ("[1]") are no words of the answer
            rows.append({
                "system": system, "row": entry.row, "language": language, "course_language": material_language,
                "split": split_of(entry.question), "question": entry.question,
                "reference": entry.answer, "answerable": entry.answerable, "source": entry.source or "",
                **fields,
                "retrieved": "|".join(docs),
                "recall_at_1": M.recall_at_k(ranked, entry.source, 1) if entry.source else None,
                "recall_at_5": M.recall_at_k(ranked, entry.source, 5) if entry.source else None,
                "reciprocal_rank": M.reciprocal_rank(ranked, entry.source) if entry.source else None,
                "correct": _correct(entry, answer, fields["refused"]),
                "invented": _invented(answer, fields["refused"], language, hits, entry),
                **{key: M.best_reference(score, words, entry.references) if scored else None
                   for key, score in SCORES.items()},
                "answer_language": answer_language(words, hits),
                "latency_ms": round(latency_ms, 1),
            })
        del engine
    _add_semantic_similarity(rows, kb.embedder)
    for row in rows:
        row["language_match"] = float(row["answer_language"] == row["language"]) if row["answer_language"] else None
    metrics = summarize(rows, system_names(config))
    metrics["config"] = {k: v for k, v in asdict(config).items() if k != "show_progress"}
    metrics["model"] = base
    metrics["faq_file"] = data.source
    metrics["data_sha256"] = data.sha256
    metrics["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result = EvalResult(metrics=metrics, rows=rows)
    if out_dir is not None:
        from finetune.report import write_report

        result.out_dir = write_report(result, Path(out_dir))
    return result


SPLITS = ("tune", "held-out")


def split_of(question: str) -> str:
    """"tune" or "held-out", fixed by a hash of the question's text: a change decided on one half of an
    evaluation set is proven on the other (each report shows both, ``by_split``). The same question always
    falls in the same half, whatever file or order it comes in."""
    return "tune" if hashlib.sha256(question.strip().encode("utf-8")).digest()[0] % 2 == 0 else "held-out"


def course_language(entry, hits: list) -> str:
    """The language of the material a question is about: its gold passage's (or, without one among the
    hits, the top hit's), detected from the text; "" when nothing was retrieved. A Chinese question on an
    English course is the pair zh->en in the report."""
    gold = [h for h in hits if entry.source and _same_doc(entry.source, [h.document])[:1] == [entry.source]]
    hit = (gold or hits or [None])[0]
    return detect_language(hit.text) if hit is not None else ""


def answer_language(answer: str, hits: list) -> str:
    """The language of an answer, for language match; "" for no answer, and for a bare name or term whose
    every word the retrieved course text holds ("Leopold Kronenberg Palace", "OpenTV"): it has no language
    of its own, and langdetect guesses one (Dutch for that palace, German for "The Wankel engine.")."""
    said = words(answer)
    if not said:
        return ""
    if len(said) <= NAME_WORDS and not HAN_CHAR.search(answer):
        course = {w for h in hits for w in words(h.text)}
        if all(w in course for w in said):
            return ""
    return detect_language(answer)


def _correct(entry, answer: str, refused: bool) -> float | None:
    """1.0 when the answer states every ``must_include`` fact (an unanswerable row: when it refused);
    None for answerable rows that list no facts."""
    if not entry.answerable:
        return float(refused)
    if not entry.must_include:
        return None
    return float(not refused and M.facts_present(answer, entry.must_include))


def _invented(answer: str, refused: bool, language: str, hits: list, entry) -> str:
    """Facts the answer states (numbers, times, codes, names) that neither the retrieved course text,
    the question nor the reference contains: "|"-joined, "" when none."""
    if refused or not answer.strip():
        return ""
    evidence = Evidence([h.text for h in hits] + [entry.question, entry.answer])
    return "|".join(f for sentence in split_sentences(answer) for f in invented(check_sentence(sentence, evidence, language).findings))


def _add_semantic_similarity(rows: list[dict], embedder) -> None:
    """Cosine of answer and reference embeddings (normalised vectors: a dot product)."""
    todo = [r for r in rows if r["f1"] is not None]
    if not todo:
        return
    preds = embedder.encode([r["answer"] or " " for r in todo])
    refs = embedder.encode([r["reference"] or " " for r in todo])
    for r, p, q in zip(todo, preds, refs):
        r["semantic_similarity"] = round(float(p @ q), 4)
    for r in rows:
        r.setdefault("semantic_similarity", None)


def summarize(rows: list[dict], systems: list[str]) -> dict:
    """Per-system blocks with a ``by_language`` breakdown; the primary system's keys at the top level."""
    out: dict = {"primary": systems[0], "systems": {}}
    for system in systems:
        mine = [r for r in rows if r["system"] == system]
        block = M.aggregate(mine)
        block["by_language"] = {lang: M.aggregate([r for r in mine if r["language"] == lang])
                                for lang in sorted({r["language"] for r in mine})}
        # question language -> course material language ("zh->en": a Chinese question on English pages)
        pairs = sorted({(r["language"], r.get("course_language")) for r in mine if r.get("course_language")})
        block["by_language_pair"] = {f"{q}->{c}": M.aggregate([r for r in mine if (r["language"], r.get("course_language")) == (q, c)])
                                     for q, c in pairs}
        block["by_split"] = {half: M.aggregate([r for r in mine if r.get("split") == half]) for half in SPLITS
                             if any(r.get("split") == half for r in mine)}
        out["systems"][system] = block
    out.update(out["systems"][systems[0]])
    return out
