"""What ``TutorEngine.answer`` returns: a stream of text deltas, then the ``AnswerResult`` every front end reads
(the chat's citations, ``tutor ask --json``, the evaluation's rows, the question log)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterator

from tutor.citations import Citation


@dataclass
class AnswerResult:
    question: str
    answer: str
    language: str
    outcome: str  # "answered" | "faq" | "quoted" | "refused"
    course: str
    citations: list[Citation] = field(default_factory=list)
    faq: dict | None = None  # {question, answer, score} when the FAQ answered
    retrieval: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    standalone_query: str = ""
    question_id: int | None = None
    model: str | None = None
    adapter: str | None = None
    top_score: float | None = None
    grounding: dict = field(default_factory=dict)  # the answer check: raw model text, facts checked, what failed

    def to_dict(self) -> dict:
        """What ``tutor ask --json`` prints."""
        return asdict(self)


class AnswerStream:
    """Iterate for text deltas; ``result`` holds the ``AnswerResult`` once iteration has finished."""

    def __init__(self, run: Iterator[str]):
        self._run = run
        self.result: AnswerResult | None = None

    def __iter__(self) -> Iterator[str]:
        self.result = yield from self._run
