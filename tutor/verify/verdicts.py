"""What the answer check found, typed: each finding has a kind, the fact it is about, and the course sentence
it names, instead of reasons passed as prefixed strings.

The engine decides on kinds (no retry after a restatement, quote the sentence a finding names), the evaluation
counts only ``FACT`` findings as invented facts (a restated question invents nothing), and the question log
and the instructor's review read the same findings. ``Finding.text`` is the one-line form the logs, the retry
prompt and the tests have always used ("B305", "yes: B305", "restates the question", "the course says: …").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from tutor.evidence import SAYS  # the prefix of a finding's text that names the course's sentence


class Kind(str, Enum):
    """Why a sentence of an answer is not shown."""

    FACT = "unsupported fact"  # a number, time, code, name or day the excerpts do not contain
    PREMISE = "repeats a premise the course lacks"  # "final exam" in a course with only a final project
    AFFIRMED = "affirms a false premise"  # "Yes, ..." to a question whose facts the excerpts lack
    SAYS = "the course says otherwise"  # with the course's sentence: a denial missed, a day paired wrongly, ...
    RESTATEMENT = "restates the question"
    LEAD_IN = "announces what it does not say"
    ECHO = "repeats the tutor's instructions"
    UNTRANSLATED = "copies course text untranslated"  # prose of the excerpts in their language, not the student's
    UNCITED = "not in the sentence it cites"  # a fact its cited excerpt sentence lacks (tutor.attribution)
    MEANING = "the course does not say this"  # the model's own yes/no judgement (tutor.verify.support)


@dataclass(frozen=True)
class Finding:
    """One reason a sentence failed: its ``kind``, the ``fact`` concerned, and the course sentence it ``says``."""

    kind: Kind
    fact: str = ""
    says: str = ""

    @property
    def text(self) -> str:
        """The one-line form: the fact itself, "yes: …", the kind's name, or "the course says: …"."""
        if self.kind is Kind.SAYS:
            return SAYS + self.says
        if self.kind is Kind.AFFIRMED:
            return "yes: " + self.fact
        if self.kind in (Kind.FACT, Kind.PREMISE):
            return self.fact
        if self.kind is Kind.UNCITED:
            return f"{self.fact}: not in the sentence it cites"
        return self.kind.value

    def to_dict(self) -> dict:
        return {"kind": self.kind.name.lower(), "fact": self.fact, "says": self.says}


@dataclass
class Check:
    """What ``check_sentence`` found: the facts it looked for, and typed findings of
    what the evidence lacks or contradicts."""

    facts: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def unsupported(self) -> list[str]:
        """The findings in their one-line form (``Finding.text``), as the logs and the retry prompt show them."""
        return [f.text for f in self.findings]

    def add(self, kind: Kind, fact: str = "", says: str = "") -> None:
        self.findings.append(Finding(kind, fact, says))


def invented(findings: list[Finding]) -> list[str]:
    """What "invented facts" counts: facts the course does not state, premises it lacks, a "yes" to them (not
    the course sentences the findings name, nor restatements, echoes or copied text, which invent nothing)."""
    return [f.text for f in findings if f.kind in (Kind.FACT, Kind.PREMISE, Kind.AFFIRMED)]


def named_sentences(findings: list[Finding]) -> list[str]:
    """The course sentences the findings name, the cited one included (the quote falls back to the first)."""
    return [f.says for f in findings if f.kind in (Kind.SAYS, Kind.UNCITED) and f.says]
