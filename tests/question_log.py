"""A seeded question log for the dashboard's tests: a few hundred questions over two weeks, written through the
real ``tutor.records`` functions into a real SQLite file, then dated by hand (the log stamps "now").

The plan is plain data (``Asked`` rows), so a test states what the dashboard must find from the same plan that
wrote the log: per-day counts, topics, citations, the refused questions an FAQ entry later answered.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from tutor import records

NOW = datetime(2025, 3, 14, 20, 0, tzinfo=timezone.utc)
DAYS = 14

DOCS = [
    ("exams.md", "# Exams\n\nThe final exam takes place on Friday at noon in room B12. Bring a pen and your student card.\n"),
    ("lora.md", "# LoRA\n\nLoRA freezes the base model and trains two small low-rank matrices per layer.\n"),
    ("attention.md", "# Attention\n\nSelf-attention weighs every token of a sequence by its similarity to the others.\n"),
    ("grading.md", "# Grading\n\nThe final project counts for 40% of the grade, the problem sets for 60%.\n"),
    ("syllabus.md", "# Syllabus\n\nWeek 1: tokens. Week 2: embeddings. Week 3: attention. Week 4: fine-tuning.\n"),
    ("glossary.md", "# Glossary\n\nA token is a piece of a word; an embedding is a vector that stands for it.\n"),
]
NEVER_CITED = ["glossary.md", "syllabus.md"]

# Questions on one subject each, with the document their answers cite (None: off the course, refused). Every
# paraphrase is within cosine 0.55 of the first question of its topic and further from every other topic's
# questions with the bundled MiniLM embedder; the off-course questions are far from each other.
TOPICS = {
    "exam": (["When is the final exam?", "What time does the final exam start?", "Where is the final exam held?",
              "Is the final exam on Friday?"], "exams.md"),
    "lora": (["What does LoRA train?", "How does LoRA fine-tuning work?", "Which matrices does LoRA learn?"], "lora.md"),
    "attention": (["What is self-attention?", "Can you explain self-attention?", "How does self-attention work?"],
                  "attention.md"),
    "grading": (["What percentage of the grade is the project?",
                 "How much does the final project count towards the grade?"], "grading.md"),
    "cake": (["What is the best chocolate cake recipe?"], None),
    "pizza": (["Can you recommend a good pizza place?"], None),
    "football": (["Who won the football match yesterday?"], None),
}
TOPIC_WEIGHTS = {"exam": 6, "lora": 5, "attention": 4, "grading": 3, "cake": 1, "pizza": 1, "football": 1}

# The course's FAQ from the start (its question is always answered from the FAQ), and the entries the instructor
# added after students were refused or rated an answer down: one with the same words (other case, no "?"), one
# reworded (cosine over the FAQ threshold), one for a question rated 👎. The football question stays a gap.
FIRST_FAQ = [("When is the final exam?", "On Friday at noon, in room B12.")]
LATER_FAQ = [("what is the BEST chocolate cake recipe", "Not covered: this course is about language models."),
             ("Could you recommend a good pizza place?", "Not covered: ask the student union."),
             ("Which matrices does LoRA learn?", "Two low-rank matrices, A and B, per adapted layer.")]
CLOSED = {"What is the best chocolate cake recipe?": "what is the BEST chocolate cake recipe",
          "Can you recommend a good pizza place?": "Could you recommend a good pizza place?",
          "Which matrices does LoRA learn?": "Which matrices does LoRA learn?"}


@dataclass
class Asked:
    """One logged question as planned."""

    day: date
    time: str  # HH:MM:SS, UTC
    topic: str
    question: str
    outcome: str
    documents: list[str] = field(default_factory=list)
    rating: int | None = None  # +1, -1 or no feedback
    course: str = "demo"
    question_id: int = 0

    @property
    def created_at(self) -> str:
        return f"{self.day.isoformat()}T{self.time}+00:00"


def plan(now: datetime = NOW, seed: int = 37) -> list[Asked]:
    """Two weeks of questions up to ``now`` (18 to 28 a day) to course ``demo``, and a few that the dashboard must
    leave out: the same course 40 days before and the day after ``now``, and another course's (citing ``syllabus.md``)."""
    rng = random.Random(seed)
    rows = []
    last = now.astimezone(timezone.utc).date()
    for back in range(DAYS):
        day = last - timedelta(days=back)
        for i in range(18 + (back * 7) % 11):
            topic = rng.choices(list(TOPIC_WEIGHTS), weights=list(TOPIC_WEIGHTS.values()))[0]
            questions, doc = TOPICS[topic]
            question = rng.choice(questions)
            if doc is None:
                outcome = "refused"
            elif question == FIRST_FAQ[0][0]:
                outcome = "faq"
            elif topic == "exam":  # the rest of the exam topic: answered well, never rated down
                outcome = rng.choice(["answered", "answered", "quoted"])
            else:
                outcome = rng.choices(["answered", "quoted", "refused", "error"], weights=[70, 15, 10, 5])[0]
            rating = None if topic == "exam" else rng.choices([None, 1, -1], weights=[70, 15, 15])[0]
            documents = [doc] if doc and outcome in ("answered", "quoted", "faq") else []
            rows.append(Asked(day, f"{8 + i % 12:02d}:{(i * 7) % 60:02d}:00", topic, question, outcome, documents, rating))
    rows.append(Asked(last - timedelta(days=40), "10:00:00", "football", "Who won the football match yesterday?", "refused"))
    rows.append(Asked(last + timedelta(days=1), "10:00:00", "lora", "What does LoRA train?", "answered", ["lora.md"]))
    rows += [Asked(last, "11:00:00", "syllabus", "What is in week 3?", "answered", ["syllabus.md"], course="other")] * 3
    return rows


def seed_question_log(kb, rows: list[Asked]) -> list[Asked]:
    """Write ``rows`` into ``kb``'s question log (``records.log_question`` / ``add_feedback``, then each row's date);
    returns the rows with their ``question_id``."""
    records.ensure_schema(kb.db)
    out = []
    for row in rows:
        sources = [{"n": 1, "document": d, "section": None, "page": None, "snippet": "…", "chunk_id": f"{d}#0",
                    "score": 0.6} for d in row.documents]
        qid = records.log_question(kb.db, row.course, row.question, row.outcome, "an answer", "en", sources, 0.6, 900.0)
        if row.rating is not None:
            records.add_feedback(kb.db, qid, row.rating)
        kb.db.execute("UPDATE questions SET created_at = ? WHERE id = ?", (row.created_at, qid))
        out.append(Asked(**{**row.__dict__, "question_id": qid}))
    return out


def seeded_course(kb, now: datetime = NOW) -> list[Asked]:
    """Course ``demo`` with ``DOCS`` and ``FIRST_FAQ``, its log seeded from ``plan(now)``, then ``LATER_FAQ`` added
    the way the console adds an entry; returns the planned rows."""
    from knowledge_base.faq_entries import FAQEntry

    kb.add_texts("demo", DOCS)
    kb.add_texts("other", [DOCS[4]])
    kb.set_faq("demo", [FAQEntry(q, a) for q, a in FIRST_FAQ])
    rows = seed_question_log(kb, plan(now))
    for question, answer in LATER_FAQ:
        kb.add_faq_entry("demo", question, answer)
    return rows
