"""Answer and retrieval metrics: SQuAD-normalised EM / F1, ROUGE-L, recall@k, MRR, refusal P/R, and
``METRICS``, the one table of the figures ``tutor eval`` reports (metrics.json, report.html, the CLI).

Answers are compared on tokens after SQuAD normalisation (lower case, no punctuation, no English
articles, collapsed whitespace). Chinese has no spaces, so every CJK character is its own token
(the MLQA / CMRC convention): a word-level F1 would score a whole Chinese sentence as one token.
All functions are pure so they can be unit-tested against hand-computed numbers.

The scoring functions score one answer (``finetune.evaluate`` stores the scores on each row); each
``Metric`` aggregates a column of those rows into one figure per system and per language slice.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from basics.text import HAN, KANA

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_CJK = re.compile(f"([{HAN}{KANA}])")  # each Chinese / Japanese character is a token of its own
# ASCII punctuation plus every Unicode punctuation character (covers Chinese ，。？！「」 etc.).
_PUNCT = set(string.punctuation)


def _is_punct(ch: str) -> bool:
    return ch in _PUNCT or unicodedata.category(ch).startswith("P")


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, drop punctuation and articles, collapse whitespace."""
    text = (text or "").lower()
    text = "".join(" " if _is_punct(ch) else ch for ch in text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def tokenize(text: str) -> list[str]:
    """Normalised tokens; each CJK character is a token of its own, other text splits on spaces."""
    return _CJK.sub(r" \1 ", normalize_answer(text)).split()


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised strings are equal (spaces ignored around CJK characters)."""
    return float(tokenize(prediction) == tokenize(reference))


def f1_score(prediction: str, reference: str) -> float:
    """SQuAD token F1 (bag of tokens, character level for Chinese)."""
    pred, ref = tokenize(prediction), tokenize(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def token_recall(prediction: str, reference: str) -> float:
    """Share of the reference's tokens that the prediction contains (bag of tokens, as ``f1_score``).

    Token F1 punishes a tutor's whole sentence against SQuAD's short spans ("The lab holds 1,200 samples."
    against "1,200": F1 0.4); recall does not. Adlakha et al. (2023, "Evaluating Correctness and Faithfulness
    of Instruction-Following Models for Question Answering") found recall the lexical metric closest to human
    judgements of such verbose answers. It rewards padding, so read it beside F1, never alone."""
    pred, ref = tokenize(prediction), tokenize(reference)
    if not ref:
        return float(not pred)
    return sum((Counter(pred) & Counter(ref)).values()) / len(ref)


def best_reference(score: Callable[[str, str], float], prediction: str, references: Sequence[str]) -> float:
    """The best ``score`` of ``prediction`` against any of ``references`` (the official SQuAD script's
    ``metric_max_over_ground_truths``: SQuAD questions have several annotators' answers, any one is right)."""
    return max(score(prediction, r) for r in references)


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (beta = 1) on the same tokens as F1."""
    pred, ref = tokenize(prediction), tokenize(reference)
    if not pred or not ref:
        return float(pred == ref)
    lcs = _lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def recall_at_k(ranked: Sequence[str], gold: str, k: int) -> float:
    """1.0 when the gold document is among the first ``k`` retrieved documents."""
    return float(gold in list(ranked)[:k])


def reciprocal_rank(ranked: Sequence[str], gold: str) -> float:
    """1 / rank of the gold document (first occurrence), 0 when it was not retrieved."""
    for i, doc in enumerate(ranked, start=1):
        if doc == gold:
            return 1.0 / i
    return 0.0


def refusal_scores(refused: Iterable[bool], unanswerable: Iterable[bool]) -> tuple[float | None, float | None]:
    """(precision, recall) of refusals, the positive class being "should refuse".

    None where undefined (no refusals made / no unanswerable rows), so a report never shows a
    made-up 0 or 1 for a case that did not occur.
    """
    pairs = list(zip(refused, unanswerable))
    tp = sum(1 for r, u in pairs if r and u)
    made = sum(1 for r, _ in pairs if r)
    should = sum(1 for _, u in pairs if u)
    return (tp / made if made else None, tp / should if should else None)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for an empty list."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def facts_present(answer: str, facts) -> bool:
    """Whether ``answer`` states every fact, each given as accepted spellings (case-, width- and
    space-insensitive substring match: "9,216" also matches "9，216" and "9 216" in the answer)."""
    def fold(text: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", text).lower().split())

    text = fold(answer)
    squeezed = text.replace(" ", "")
    return all(any(fold(alt) in text or fold(alt).replace(" ", "") in squeezed for alt in fact) for fact in facts)


# --- the table of reported figures -------------------------------------------------------------

Rows = list[dict[str, Any]]  # scored rows of one system (or one language slice), as finetune.evaluate builds them


@dataclass(frozen=True)
class Metric:
    """One figure of an evaluation: how it is computed from scored rows, and how it is shown.

    ``METRICS`` is the only list of them: the evaluation aggregates every entry (each system, each
    language and language pair), ``report.html`` tabulates every entry and charts those with ``plot``,
    ``tutor eval`` prints those with ``cli``. Adding a metric is adding one entry.
    """

    key: str  # metrics.json key, and the row label in report.html
    label: str  # short name in the ``tutor eval`` summary
    aggregate: Callable[[Rows], float | int | None]  # None where undefined (e.g. no answerable rows)
    higher_is_better: bool | None = True  # for comparing runs; None: neither (a count, a leak rate)
    fmt: str = ".4g"  # how ``tutor eval`` prints a float
    unit: str = ""  # appended in ``tutor eval`` (" ms")
    cli: str | None = None  # "system": on each system's line; "retrieval": on the one retrieval line
    plot: int | None = None  # position in the report's "systems compared" chart (scores in [0, 1] only)

    def format(self, value: float | int | None) -> str:
        """The value as ``tutor eval`` prints it: ``-`` when undefined."""
        text = "-" if value is None else format(value, self.fmt) if isinstance(value, float) else str(value)
        return text + self.unit


def _mean_of(column: str) -> Callable[[Rows], float | None]:
    """Mean of a row column over the rows that have a score (None marks "not scored" on a row)."""
    return lambda rows: mean(r[column] for r in rows)


def _refusals(rows: Rows) -> tuple[float | None, float | None]:
    return refusal_scores([r["refused"] for r in rows], [not r["answerable"] for r in rows])


METRICS: tuple[Metric, ...] = (
    Metric("n", "questions", len, higher_is_better=None),
    Metric("retrieval_recall_at_1", "recall@1", _mean_of("recall_at_1"), cli="retrieval"),
    Metric("retrieval_recall_at_5", "recall@5", _mean_of("recall_at_5"), cli="retrieval"),
    Metric("mrr", "MRR", _mean_of("reciprocal_rank"), cli="retrieval"),
    Metric("answer_f1", "F1", _mean_of("f1"), cli="system", plot=0),
    Metric("answer_recall", "recall", _mean_of("answer_recall"), cli="system", plot=6),
    Metric("exact_match", "EM", _mean_of("exact_match"), cli="system", plot=2),
    Metric("rouge_l", "ROUGE-L", _mean_of("rouge_l"), cli="system", plot=3),
    Metric("semantic_similarity", "sim", _mean_of("semantic_similarity"), cli="system", plot=4),
    Metric("correct", "correct", _mean_of("correct"), cli="system", plot=1),
    Metric("invented_facts", "invented facts", higher_is_better=False, cli="system",
           aggregate=lambda rows: sum(len(r["invented"].split("|")) for r in rows if r["invented"])),
    Metric("wrongly_refused", "wrongly refused", higher_is_better=False, cli="system",
           aggregate=lambda rows: mean(float(r["refused"]) for r in rows if r["answerable"])),
    Metric("language_match", "language match", _mean_of("language_match"), plot=5),
    Metric("refusal_precision", "refusal P", lambda rows: _refusals(rows)[0]),
    Metric("refusal_recall", "refusal R", lambda rows: _refusals(rows)[1]),
    Metric("faq_match_rate", "FAQ answered", lambda rows: mean(float(r["faq_match"]) for r in rows), higher_is_better=None),
    Metric("latency_p50_ms", "p50", lambda rows: percentile([r["latency_ms"] for r in rows], 50),
           higher_is_better=False, unit=" ms", cli="system"),
    Metric("latency_p95_ms", "p95", lambda rows: percentile([r["latency_ms"] for r in rows], 95),
           higher_is_better=False, unit=" ms"),
)
METRIC_KEYS: tuple[str, ...] = tuple(m.key for m in METRICS)  # metrics.json's figures, in the table's order


def aggregate(rows: Rows) -> dict[str, float | int | None]:
    """Every ``METRICS`` figure over ``rows``, keyed and ordered as in metrics.json."""
    return {m.key: m.aggregate(rows) for m in METRICS}
