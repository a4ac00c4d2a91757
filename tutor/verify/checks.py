"""The verifiers: each check of an answer's sentence is a small class with a name, run from a configured list.

``EngineConfig.verifiers`` names the list ("facts,question,denial,day,subject,echo,language"); the sentence gate
(``tutor.verify.gate``) runs each on every sentence with one ``SentenceContext`` and stops the answer at the
first sentence with findings. Each returns a ``Check``: the facts it looked at (for the log) and typed
``Finding``s (``tutor.verify.verdicts``) that the engine, the evaluation and the review read alike. A new check
is a class here and a name in ``VERIFIERS``; none is wired into the gate by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from basics.errors import ConfigError
from basics.text import words
from tutor.attribution import cited_numbers
from tutor.evidence import MARKER, Evidence
from tutor.schedule import names_day, omitted_day
from tutor.subjects import false_denial, misattributed
from tutor.translation import untranslated, wrong_language
from tutor.verify.facts import NEGATION, check_sentence
from tutor.verify.replies import echoes
from tutor.verify.verdicts import Check, Kind


@dataclass
class SentenceContext:
    """What every verifier may read about the answer a sentence belongs to."""

    evidence: Evidence  # the excerpts and the question: where facts may come from
    language: str  # the answer's (the question's) language
    question: str = ""  # the student's question as asked (with a follow-up: spelled out)
    excerpts: Evidence | None = None  # the excerpts alone
    premises: set[str] = field(default_factory=set)  # facts and words of the question the excerpts lack
    denied: str = ""  # the course sentence denying what the question asks about (``replies.denied_subject``)
    instructions: frozenset = frozenset()  # the prompt's rules as word runs (``replies.instruction_phrases``)
    sentences: list[str] = field(default_factory=list)  # the numbered excerpt sentences ([k] is sentences[k-1])
    first: bool = True  # the sentence opens the answer
    released: str = ""  # what was shown before this sentence

    @property
    def english_question(self) -> str:
        """The question where a check reads English words, else "" (those checks stay silent)."""
        return self.question if self.language == "en" else ""


class Verifier(Protocol):
    """One check of one sentence."""

    name: str

    def check(self, sentence: str, ctx: SentenceContext) -> Check: ...


def _found(fact: str, kind: Kind, says: str = "") -> Check:
    check = Check([fact])
    check.add(kind, says=says)
    return check


class Facts:
    """Numbers, clock times, codes, names and weekdays must be in the evidence; a "yes" to a premise the
    excerpts lack, or an English answer repeating it, fails (``tutor.verify.facts``). Any language."""

    name = "facts"

    def check(self, sentence: str, ctx: SentenceContext) -> Check:
        return check_sentence(sentence, ctx.evidence, ctx.language, ctx.premises)


class Cited:
    """With numbered excerpt sentences (``PromptConfig.cite_sentences``): the facts of a sentence that cites
    sentences must be in those sentences (or the question), not only somewhere in the excerpts: "[4]" names
    where the answer took its facts from, and a fact from another sentence is a fact moved to another subject.
    A sentence that cites nothing is left to ``Facts``. Any language."""

    name = "cited"

    def check(self, sentence: str, ctx: SentenceContext) -> Check:
        numbers = cited_numbers(sentence, len(ctx.sentences))
        if not numbers:
            return Check()
        cited = [ctx.sentences[n - 1] for n in numbers]
        found = check_sentence(sentence, Evidence(cited + [ctx.question], language=ctx.evidence.language), ctx.language)
        check = Check(found.facts)
        for finding in found.findings:
            if finding.kind is Kind.FACT:
                check.add(Kind.UNCITED, finding.fact, says=cited[0])
        return check


class QuestionBack:
    """A first sentence that is the question word for word ("Y a-t-il un examen final ? [1]"). Any language."""

    name = "question"

    def check(self, sentence: str, ctx: SentenceContext) -> Check:
        if ctx.first and ctx.question and words(MARKER.sub("", sentence)) == words(ctx.question):
            return _found("question", Kind.RESTATEMENT)
        return Check()


class Denial:
    """Where the course denies what the question asks about ("so no GPU is needed"), a first sentence that
    does not deny too; and a first sentence that denies what the excerpts do say. English."""

    name = "denial"

    def check(self, sentence: str, ctx: SentenceContext) -> Check:
        if not ctx.first or ctx.language != "en":
            return Check()
        if ctx.denied and not NEGATION.search(MARKER.sub("", sentence)):
            return _found("denial", Kind.SAYS, ctx.denied)
        said = false_denial(sentence, ctx.question, ctx.excerpts) if ctx.question and ctx.excerpts else ""
        return _found("denial", Kind.SAYS, said) if said else Check()


class Day:
    """A clock time given without the day the course always gives it with: half a fact, whatever was asked. Any
    language (CLDR days). It once ran only for questions a word list read as asking "when" (en/es/de/fr/zh):
    a Portuguese "Quando são as aulas práticas?" got the labs' times without their day."""

    name = "day"

    def check(self, sentence: str, ctx: SentenceContext) -> Check:
        if names_day(ctx.released, ctx.language) or names_day(ctx.released, ctx.evidence.language):
            return Check()
        said = omitted_day(sentence, ctx.evidence, ctx.language)
        return _found("day", Kind.SAYS, said) if said else Check()


class Subject:
    """A number given to the question's subject that the course states about something else. English."""

    name = "subject"

    def check(self, sentence: str, ctx: SentenceContext) -> Check:
        about = misattributed(sentence, ctx.english_question, ctx.excerpts) if ctx.english_question and ctx.excerpts else ""
        return _found("subject", Kind.SAYS, about) if about else Check()


class Echo:
    """A sentence that copies the prompt's own rules."""

    name = "echo"

    def check(self, sentence: str, ctx: SentenceContext) -> Check:
        if ctx.instructions and echoes(sentence, ctx.instructions, ctx.evidence):
            return _found("instructions", Kind.ECHO)
        return Check()


class Language:
    """A sentence in another language than the answer's (fastText, ``translation.wrong_language``), or one that
    copies the excerpts' prose when the answer is in another language than they are (``translation.untranslated``):
    the course sentence is quoted instead, translated. Any language."""

    name = "language"

    def check(self, sentence: str, ctx: SentenceContext) -> Check:
        copied = untranslated(sentence, ctx.excerpts or ctx.evidence, ctx.language)  # the excerpts: not the question
        if copied:
            check = _found("language", Kind.UNTRANSLATED)
            check.add(Kind.SAYS, says=copied)
            return check
        other = wrong_language(sentence, ctx.language, echo=ctx.question)
        return _found(f"language: {other}", Kind.UNTRANSLATED) if other else Check()


VERIFIERS: dict[str, type] = {v.name: v for v in (Facts, Cited, QuestionBack, Denial, Day, Subject, Echo, Language)}
DEFAULT_VERIFIERS = ",".join(VERIFIERS)


def verifiers_named(names: str) -> list[Verifier]:
    """The verifiers of a comma-separated list, in its order; an unknown name is a ``ConfigError``."""
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in VERIFIERS]
    if unknown:
        raise ConfigError(f"EngineConfig.verifiers: unknown verifier {', '.join(map(repr, unknown))} "
                          f"(known: {', '.join(VERIFIERS)}).")
    return [VERIFIERS[n]() for n in chosen]
