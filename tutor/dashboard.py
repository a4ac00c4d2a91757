"""The instructor's dashboard, computed from the question log: what students ask, how the tutor answers, which
documents serve them, and which gaps the FAQ has closed.

``dashboard_data(kb, course)`` returns a ``Dashboard`` for the last ``DashboardConfig.days`` days (UTC):

* questions per day, each day split by outcome (answered / faq / quoted / refused / error) and 👎;
* the most asked topics: the latest ``max_questions`` questions grouped by meaning with the course's own
  embedder (``tutor.topics``), each topic with example questions, how often the tutor refused it or was
  rated down, and the documents its answers cited;
* every document of the course with the number of answers that cited it (all time), so the never cited stand out;
* the refused, failed or 👎 questions that the course's FAQ now answers: the gaps the instructor has closed.

It lives in ``tutor`` because it reads the question log (``records.py``'s tables) and the knowledge base; the web
app only draws what it returns. ``to_csv`` writes its tables for a spreadsheet, and ``read_csv`` reads one back.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from basics.db import Database
from basics.errors import ConfigError
from tutor import records
from tutor.topics import QuestionVectors, group_questions, normalized

if TYPE_CHECKING:
    from knowledge_base import KnowledgeBase

OUTCOME_COLUMNS = ("answered", "faq", "quoted", "refused", "error")  # records.OUTCOMES, in the plots' order
MAX_DAYS = 3660  # ten years: one row per day
RATED_DOWN = "EXISTS (SELECT 1 FROM feedback f WHERE f.question_id = q.id AND f.rating < 0)"


@dataclass
class DashboardConfig:
    """What the dashboard looks at and how it groups questions into topics."""

    days: int = field(default=30, metadata={"help": "days back from today (UTC, today included)"})
    max_questions: int = field(default=2000, metadata={
        "help": "the latest questions of the period grouped into topics (and checked against the FAQ): caps the "
                "embedding work, which is the dashboard's only slow step on a CPU"})
    topic_threshold: float = field(default=0.55, metadata={
        "help": "cosine to a topic's central question from which a question joins the topic. On 20 course "
                "questions, paraphrases scored 0.5-0.9 with both bundled embedders, questions on neighbouring "
                "subjects ('When is the final exam?', 'How much does the final project count?') 0.45-0.53"})
    min_topic_size: int = field(default=2, metadata={"help": "questions a topic needs to be listed"})
    max_topics: int = field(default=12, metadata={"help": "topics listed, the most asked first"})
    examples: int = field(default=3, metadata={"help": "example questions shown per topic"})
    documents_per_topic: int = field(default=3, metadata={"help": "cited documents shown per topic"})
    faq_threshold: float | None = field(default=None, metadata={
        "help": "cosine to an FAQ question from which a question counts as answered by the FAQ; None: the "
                "embedder's own, the one the engine answers with the FAQ from"})

    def __post_init__(self) -> None:
        for name in ("days", "max_questions", "min_topic_size", "max_topics", "examples", "documents_per_topic"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"dashboard {name} must be a whole number of at least 1, got {value!r}")
        if self.days > MAX_DAYS:
            raise ConfigError(f"dashboard days must be at most {MAX_DAYS}, got {self.days!r}")
        for name in ("topic_threshold", "faq_threshold"):
            value = getattr(self, name)
            if value is not None and not -1.0 <= value <= 1.0:
                raise ConfigError(f"dashboard {name} is a cosine, in [-1, 1]; got {value!r}")


@dataclass
class DayRow:
    """One day's questions (``day``: YYYY-MM-DD, UTC) by outcome; ``rated_down``: those with a 👎, any outcome."""

    day: str
    questions: int = 0
    answered: int = 0
    faq: int = 0
    quoted: int = 0
    refused: int = 0
    error: int = 0
    rated_down: int = 0


@dataclass
class Topic:
    """Questions that ask about one thing. ``questions``: their distinct texts, the central one first, then by how
    often they were asked; ``size`` counts every asking. ``documents``: (document, answers citing it), most first."""

    size: int
    questions: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    documents: list[tuple[str, int]] = field(default_factory=list)
    refused: int = 0
    rated_down: int = 0


@dataclass
class DocumentUse:
    """A document of the course and how many logged answers cited it (all time)."""

    name: str
    title: str = ""
    chunks: int = 0
    added_at: str = ""
    citations: int = 0


@dataclass
class ClosedGap:
    """A question the tutor refused, failed on or was rated 👎 for (``why``), that the FAQ answers now:
    ``faq_question`` is the entry that matches it, ``cosine`` how closely (1.0: the same words)."""

    question: str
    why: str
    times: int
    last_asked: str
    faq_question: str
    cosine: float


@dataclass
class Dashboard:
    course: str
    first_day: str
    last_day: str
    per_day: list[DayRow] = field(default_factory=list)
    topics: list[Topic] = field(default_factory=list)
    grouped: int = 0  # questions the topics were made from (at most DashboardConfig.max_questions)
    documents: list[DocumentUse] = field(default_factory=list)
    closed_gaps: list[ClosedGap] = field(default_factory=list)

    @property
    def totals(self) -> DayRow:
        """The whole period as one row (``day`` = "total")."""
        total = DayRow("total")
        for row in self.per_day:
            for f in fields(DayRow)[1:]:
                setattr(total, f.name, getattr(total, f.name) + getattr(row, f.name))
        return total

    @property
    def shares(self) -> dict[str, float]:
        """Each outcome's share of the period's questions, and the share rated 👎 (``rated_down``); 0 without any."""
        total = self.totals
        return {name: getattr(total, name) / total.questions if total.questions else 0.0
                for name in (*OUTCOME_COLUMNS, "rated_down")}

    @property
    def never_cited(self) -> list[DocumentUse]:
        return [d for d in self.documents if d.citations == 0]


def dashboard_data(kb: "KnowledgeBase", course: str, config: DashboardConfig | None = None,
                   now: datetime | None = None, vectors: QuestionVectors | None = None) -> Dashboard:
    """The dashboard of ``course`` for the ``config.days`` days up to ``now`` (UTC; default: the present).
    ``vectors``: a cache kept by the caller between refreshes. ``ConfigError`` for a course that does not exist."""
    config = config or DashboardConfig()
    if course not in kb.courses():
        raise ConfigError(f"no course {course!r}; courses: {', '.join(kb.courses()) or 'none'}")
    records.ensure_schema(kb.db)
    if vectors is None or vectors.embedder is not kb.embedder:
        vectors = QuestionVectors(kb.embedder)
    last = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).date()
    first = last - timedelta(days=config.days - 1)
    window = (course, first.isoformat(), (last + timedelta(days=1)).isoformat())
    dash = Dashboard(course, first.isoformat(), last.isoformat(), per_day=_per_day(kb.db, window, first, last))
    rows = _questions(kb.db, window, config.max_questions)
    dash.topics, dash.grouped = _topics(rows, vectors, config), len(rows)
    dash.documents = _document_use(kb, course)
    threshold = config.faq_threshold if config.faq_threshold is not None else kb.embedder.spec.faq_threshold
    unanswered = f"q.outcome != 'faq' AND (q.outcome IN ('refused', 'error') OR {RATED_DOWN})"
    gaps = _questions(kb.db, window, config.max_questions, unanswered)
    dash.closed_gaps = _closed_gaps(gaps, [e.question for e in kb.faq(course)], vectors, threshold)
    return dash


# ------------------------------------------------------------------------------------------------ queries


def _per_day(db: Database, window: tuple, first: date, last: date) -> list[DayRow]:
    """One row per day of the period, days without questions included (a plot's axis has no gaps)."""
    days = {(first + timedelta(days=i)).isoformat(): DayRow((first + timedelta(days=i)).isoformat())
            for i in range((last - first).days + 1)}
    for r in db.query(
        f"SELECT substr(q.created_at, 1, 10) AS day, q.outcome, COUNT(*) AS n, SUM({RATED_DOWN}) AS down "
        "FROM questions q WHERE q.course = ? AND q.created_at >= ? AND q.created_at < ? GROUP BY day, q.outcome", window):
        row = days.get(r["day"])
        if row is None:
            continue
        row.questions += r["n"]
        row.rated_down += r["down"] or 0
        if r["outcome"] in OUTCOME_COLUMNS:
            setattr(row, r["outcome"], getattr(row, r["outcome"]) + r["n"])
    return list(days.values())


def _questions(db: Database, window: tuple, limit: int, where: str = "1") -> list[dict]:
    """The period's latest questions (newest first): id, text, outcome, when, 👎, the documents cited."""
    rows = db.query(
        f"SELECT q.id, q.question, q.outcome, q.created_at, q.sources, {RATED_DOWN} AS rated_down FROM questions q "
        f"WHERE q.course = ? AND q.created_at >= ? AND q.created_at < ? AND ({where}) "
        "ORDER BY q.created_at DESC, q.id DESC LIMIT ?",
        (*window, int(limit)))
    return [{**dict(r), "documents": _cited(r["sources"])} for r in rows]


def _cited(sources: str | None) -> list[str]:
    """The distinct documents a logged answer cited (its ``sources``: ``Citation`` dicts as JSON)."""
    try:
        items = json.loads(sources or "[]")
    except json.JSONDecodeError:
        return []
    if not isinstance(items, list):
        return []
    return list(dict.fromkeys(s["document"] for s in items if isinstance(s, dict) and s.get("document")))


def _document_use(kb: "KnowledgeBase", course: str) -> list[DocumentUse]:
    """Every document of the course with the answers that cited it, most cited first, then by name."""
    counts = {r["document"]: r["n"] for r in kb.db.query(
        "SELECT json_extract(s.value, '$.document') AS document, COUNT(DISTINCT q.id) AS n FROM questions q, "
        "json_each(CASE WHEN json_valid(q.sources) THEN q.sources ELSE '[]' END) s "
        "WHERE q.course = ? AND s.type = 'object' GROUP BY document", (course,))}
    docs = [DocumentUse(d.name, d.title or "", d.chunks, str(d.added_at), counts.get(d.name, 0))
            for d in kb.list_documents(course)]
    return sorted(docs, key=lambda d: (-d.citations, d.name))


# ------------------------------------------------------------------------------------------------ topics


def _distinct(rows: list[dict]) -> tuple[list[str], dict[str, list[dict]]]:
    """The distinct questions (by ``normalized`` text, newest wording first) and the rows of each."""
    by_key: dict[str, list[dict]] = {}
    for row in rows:
        by_key.setdefault(normalized(row["question"]), []).append(row)
    return list(by_key), by_key


def _topics(rows: list[dict], vectors: QuestionVectors, config: DashboardConfig) -> list[Topic]:
    keys, by_key = _distinct(rows)
    if not keys:
        return []
    texts = [by_key[k][0]["question"] for k in keys]
    weights = np.array([len(by_key[k]) for k in keys])
    topics = []
    for group in group_questions(vectors.encode(texts), weights, config.topic_threshold):
        members = [group[0]] + sorted(group[1:], key=lambda j: -weights[j])  # stable: ties keep the cosine order
        asked = [row for j in members for row in by_key[keys[j]]]
        cited = Counter(doc for row in asked for doc in row["documents"])
        questions = [texts[j] for j in members]
        documents = sorted(cited.items(), key=lambda kv: (-kv[1], kv[0]))[:config.documents_per_topic]
        topics.append(Topic(len(asked), questions, questions[:config.examples], documents,
                            refused=sum(row["outcome"] == "refused" for row in asked),
                            rated_down=sum(bool(row["rated_down"]) for row in asked)))
    topics = [t for t in topics if t.size >= config.min_topic_size]
    return sorted(topics, key=lambda t: -t.size)[:config.max_topics]  # sorted() is stable: equal sizes keep their order


def _closed_gaps(rows: list[dict], faq_questions: list[str], vectors: QuestionVectors,
                 threshold: float) -> list[ClosedGap]:
    """The refused, failed or 👎 questions (``rows``, outcome not ``faq``: the FAQ did not answer them then) whose
    words are an FAQ question's, or whose cosine to one reaches ``threshold`` (the FAQ answers them now)."""
    keys, by_key = _distinct(rows)
    if not keys or not faq_questions:
        return []
    texts = [by_key[k][0]["question"] for k in keys]
    sims = vectors.encode(texts) @ vectors.encode(faq_questions).T
    exact = {normalized(q): i for i, q in enumerate(faq_questions)}
    gaps = []
    for i, key in enumerate(keys):
        best = exact.get(key, int(np.argmax(sims[i])))
        cosine = 1.0 if key in exact else float(sims[i, best])
        if cosine >= threshold:
            newest = by_key[key][0]
            why = newest["outcome"] if newest["outcome"] in ("refused", "error") else "rated_down"
            gaps.append(ClosedGap(texts[i], why, len(by_key[key]), newest["created_at"], faq_questions[best],
                                  round(cosine, 3)))
    gaps.sort(key=lambda g: g.last_asked, reverse=True)
    return sorted(gaps, key=lambda g: -g.times)  # the most asked first, then the most recently asked


# ------------------------------------------------------------------------------------------------ CSV

CSV_FILES = ("questions-per-day", "topics", "documents", "closed-gaps")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A text cell a spreadsheet will not run: one starting like a formula ("=HYPERLINK(…)", typed by a student)
    gets a leading apostrophe, as OWASP's CSV-injection advice says; numbers pass as they are."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def _tables(dash: Dashboard) -> dict[str, tuple[list[str], list[list]]]:
    """Each CSV file's header and rows, by file name."""
    day_header = [f.name for f in fields(DayRow)]
    return {
        "questions-per-day": (day_header, [list(asdict(r).values()) for r in (*dash.per_day, dash.totals)]),
        "topics": (["rank", "questions", "refused", "rated_down", "examples", "documents_cited", "all_questions"],
                   [[i, t.size, t.refused, t.rated_down, " | ".join(t.examples),
                     " | ".join(f"{name} ({n})" for name, n in t.documents), " | ".join(t.questions)]
                    for i, t in enumerate(dash.topics, 1)]),
        "documents": (["document", "title", "chunks", "added_at", "citations"],
                      [list(asdict(d).values()) for d in dash.documents]),
        "closed-gaps": (["question", "why", "times", "last_asked", "faq_question", "cosine"],
                        [list(asdict(g).values()) for g in dash.closed_gaps]),
    }


def to_csv(dash: Dashboard, folder: Path) -> list[Path]:
    """Write the dashboard's tables as UTF-8 CSV files into ``folder`` (created), one per ``CSV_FILES`` name,
    prefixed with the course and the period: ``sample-2025-03-01-2025-03-30-topics.csv``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, (header, rows) in _tables(dash).items():
        path = folder / f"{dash.course}-{dash.first_day}-{dash.last_day}-{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows([[_cell(v) for v in row] for row in rows])
        out.append(path)
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    """One file ``to_csv`` wrote, as dicts by column (texts as written, the formula guard's apostrophe kept)."""
    with Path(path).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))
