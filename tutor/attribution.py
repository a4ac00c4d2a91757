"""Answers that cite their sentences (``PromptConfig.cite_sentences``): the excerpts' sentences numbered [1]…[N]
across the prompt, the numbers an answer's sentence cites, and citations that point at those sentences.

Why: a fact check against all the excerpts passes "the lectures are on Tuesdays" when the course gives Tuesday
for the office hours. Checked against the sentence the model says it used, the fact must be in that sentence;
the quote that replaces a failed answer is that sentence, and the student's citation opens it, instead of the
excerpt's first lines.

The numbering is a contract between the prompt (``tutor.prompts.format_context`` writes ``numbered_body``) and
the answer check (``excerpt_sentences`` numbers the same texts the same way): both run ``split_sentences`` over
each line of the sanitised excerpt, skipping blank lines, headings and table separators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from tutor.citations import Citation, snippet
from tutor.evidence import MARKER, TABLE_SEPARATOR, split_sentences, unwrap
from tutor.subjects import holds
from tutor.verify.verdicts import Finding, named_sentences

if TYPE_CHECKING:
    from knowledge_base import Hit

_RANGE = re.compile(r"(\d{1,2})\s*[–-]\s*(\d{1,2})|(\d{1,2})")


@dataclass(frozen=True)
class Numbered:
    """One excerpt sentence as the prompt numbers it: ``[number] text``, from ``included[excerpt]``."""

    number: int
    excerpt: int
    text: str


def _line_sentences(body: str) -> Iterator[tuple[str, list[str] | None]]:
    """Each line of ``body`` with the sentences it holds to number; None for a blank line, a heading or a table's
    separator. The one walk both sides of the numbering contract take."""
    for line in body.splitlines():
        stripped = line.strip()
        numbered = bool(stripped) and not stripped.startswith("#") and not TABLE_SEPARATOR.fullmatch(stripped)
        yield line, split_sentences(line) if numbered else None


def numbered_body(body: str, start: int) -> tuple[str, int]:
    """``body`` with each sentence written ``[k] sentence``, counting from ``start``; and the next number."""
    lines, k = [], start
    for line, sentences in _line_sentences(body):
        if sentences is None:
            lines.append(line)
            continue
        lines.append(" ".join(f"[{k + j}] {sentence}" for j, sentence in enumerate(sentences)))
        k += len(sentences)
    return "\n".join(lines), k


def number_sentences(bodies: list[str]) -> list[Numbered]:
    """The sentences of ``bodies`` (the sanitised excerpt texts, in prompt order) as ``numbered_body`` numbers them."""
    out: list[Numbered] = []
    for i, body in enumerate(bodies):
        for _, sentences in _line_sentences(body):
            for sentence in sentences or []:
                out.append(Numbered(len(out) + 1, i, sentence))
    return out


def cited_numbers(text: str, count: int) -> list[int]:
    """The sentence numbers ``text`` cites ("[3]", "[3, 5]", "[3-5]"), in order, each once, within 1..``count``."""
    numbers: list[int] = []
    for marker in MARKER.finditer(text):
        for low, high, single in _RANGE.findall(marker.group()):
            span = range(int(low), int(high) + 1) if low else [int(single)]
            numbers += [n for n in span if 1 <= n <= count and n not in numbers]
    return numbers


def sentence_citations(answer: str, sentences: list[Numbered], included: list["Hit"], snippet_chars: int) -> list[Citation]:
    """One citation per sentence ``answer`` cites, numbered as in the answer, its snippet the sentence itself;
    empty when it cites none (``tutor.citations.cite`` then cites by terms)."""
    out = []
    for n in cited_numbers(answer, len(sentences)):
        s = sentences[n - 1]
        hit = included[s.excerpt]
        out.append(Citation(n, hit.document, hit.section, hit.page, snippet(s.text, snippet_chars), hit.chunk_id, hit.score))
    return out


def number_of(quote: str, sentences: list[Numbered]) -> int | None:
    """The number of the excerpt sentence ``quote`` is (or holds), for a quote cited like the answer it replaces."""
    for s in sentences:
        if s.text == quote.strip() or (len(s.text) > 20 and s.text in quote):
            return s.number
    return None


def named_sentence(included: list["Hit"], findings: list[Finding]) -> tuple[str, int] | None:
    """The course sentence the answer check named (``Kind.SAYS``: "so no GPU is needed", the office hours' day
    for their time; ``Kind.UNCITED``: the sentence the answer cited) and the index of the excerpt holding it;
    None when none was named or none holds it."""
    said = named_sentences(findings)
    for i, hit in enumerate(included):
        if said and holds(unwrap(hit.text), said[0]):
            return said[0], i
    return None
