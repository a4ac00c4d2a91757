"""The sources shown under an answer: which excerpts it cites, and the snippet a student sees of each.

Small models rarely write ``[n]`` markers, yet a student should always see where an answer comes from: without
valid markers, the excerpts whose terms the answer uses are cited, and the top one if none is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tutor.questions import terms

if TYPE_CHECKING:
    from knowledge_base import Hit

_MARKER = re.compile(r"\[(\d{1,2})\]")


@dataclass
class Citation:
    """A source shown under an answer: ``[n]`` in the text is ``citations[n-1]`` when the model cited it."""

    n: int
    document: str
    section: str | None
    page: int | None
    snippet: str
    chunk_id: str | None
    score: float | None


class SourcesFound(str):
    """An empty text delta the engine yields right after retrieval, before any answer text: the ``labels`` of the
    passages found (``Title › Section``), so the chat can show "looking in the course: …" while the model
    reads them (first words take seconds on 2 CPU cores). Joins as ``""``, like ``QueueWait``."""

    labels: list[str]

    def __new__(cls, labels: list[str]) -> "SourcesFound":
        obj = super().__new__(cls, "")
        obj.labels = list(labels)
        return obj


def snippet(text: str, chars: int) -> str:
    """``text`` on one line, cut at a word to about ``chars`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + " ..."


def cite(answer: str, included: list["Hit"], min_overlap: float, snippet_chars: int) -> list[Citation]:
    """The hits ``answer`` cites with ``[n]`` (hit i is ``[i+1]``); without valid markers, each hit sharing
    ``min_overlap`` of the answer's content terms, and the top hit if none does (it is what the answer was
    conditioned on most)."""
    numbers = list(dict.fromkeys(int(n) for n in _MARKER.findall(answer) if 1 <= int(n) <= len(included)))
    if not numbers and included:
        answer_terms = terms(answer)
        for i, hit in enumerate(included, 1):
            if answer_terms and len(answer_terms & terms(hit.text)) / len(answer_terms) >= min_overlap:
                numbers.append(i)
        numbers = numbers or [1]
    return [Citation(n, included[n - 1].document, included[n - 1].section, included[n - 1].page,
                     snippet(included[n - 1].text, snippet_chars), included[n - 1].chunk_id, included[n - 1].score)
            for n in numbers]
