"""``SentenceGate``: releases a streamed answer one checked sentence at a time.

A sentence that fails a verifier is not shown. If it was the first one, the engine retries once, then quotes
the course (``tutor.passages.best_passage``) or refuses; if a later one, the answer ends before it.
"""

from __future__ import annotations

import re

from tutor.evidence import MARKER, SENTENCE_END, Evidence, split_sentences
from tutor.verify.checks import DEFAULT_VERIFIERS, SentenceContext, Verifier, verifiers_named
from tutor.verify.facts import NEGATION, premise_facts, premise_terms
from tutor.verify.replies import APOLOGY, CONTRAST, COVERAGE, LEAD_IN_END, denied_subject, restates
from tutor.verify.verdicts import Check, Finding, Kind


class SentenceGate:
    """Releases a streamed answer one checked sentence at a time.

    ``feed(delta)`` returns the text that may be shown now (whole sentences that passed every verifier of
    ``verifiers``, ``tutor.verify.checks``); once a sentence fails, ``failed`` holds its ``Check`` and
    everything after is withheld. ``finish()`` checks the last sentence.

    Two things are held back rather than failed: a first sentence that only restates an English question
    (shown once a sentence with something to say follows; an answer that is nothing but the restatement
    fails as ``Kind.RESTATEMENT``), and a lead-in ("… as follows:"), shown with the sentence it announces.
    With ``retry`` (the second answer, after a failed one nobody saw), an opening apology that states
    nothing is dropped. A sentence the answer already gave ends it (``ended``): greedy decoding of a small
    model can loop on one sentence ("Bessel의 정리는 표본분산을 계산할 때 사용됩니다." ten times), and in any language
    the repeat says nothing new.
    """

    def __init__(self, evidence: Evidence, language: str, premises: set[str] = frozenset(), question: str = "",
                 denied: str = "", instructions: frozenset[tuple[str, ...]] = frozenset(),
                 retry: bool = False, excerpts: Evidence | None = None, verifiers: str | list[Verifier] = DEFAULT_VERIFIERS,
                 sentences: list[str] | None = None):
        self.context = SentenceContext(evidence, language, question, excerpts, set(premises), denied, instructions,
                                       list(sentences or []))
        self.verifiers = verifiers_named(verifiers) if isinstance(verifiers, str) else list(verifiers)
        self.retry = retry
        self.language = language
        self.pending = ""
        self.held = ""
        self.released = ""
        self.failed: Check | None = None
        self.ended = False  # the answer began repeating itself: nothing more is taken
        self.failed_sentence = ""
        self.checks: list[Check] = []
        self.shown: list[str] = []  # what each accepted sentence released (a held lead-in with its sentence)

    @classmethod
    def for_answer(cls, question: str, excerpts: list[str], language: str, query: str = "",
                   instructions: frozenset[tuple[str, ...]] = frozenset(), verifiers: str | list[Verifier] = DEFAULT_VERIFIERS,
                   retry: bool = False, sentences: list[str] | None = None) -> "SentenceGate":
        """The gate for an answer to ``question`` (``query``: the same with a follow-up's topic folded in) from
        ``excerpts``: the facts may come from the excerpts and the question; premises and the course's denial
        are read from them here, once (what the engine and bench/support.py share).
        ``sentences``: the numbered excerpt sentences of a ``cite_sentences`` prompt (the ``cited`` verifier)."""
        query = query or question
        course = Evidence(excerpts)
        premises = premise_facts(question, course, language)
        if language == "en":
            premises |= premise_terms(question, course)
        denied = denied_subject(query, course) if language == "en" else ""
        evidence = Evidence(list(excerpts) + [question, query], language=course.language)  # the course's language
        return cls(evidence, language, premises, query, denied, instructions, retry=retry, excerpts=course, verifiers=verifiers, sentences=sentences)

    @property
    def source_language(self) -> str:
        """The excerpts' language: what day names copied from them are written in."""
        excerpts = self.context.excerpts or self.context.evidence
        return excerpts.language or "en"

    @property
    def only_denies(self) -> bool:
        """Whether all that was released (English) denies and states nothing: "The excerpts do not mention
        encoder layers." is true, and leaves the student without what the course says instead (decoder-only,
        30 blocks)."""
        sentences = split_sentences(MARKER.sub("", self.released))
        return (self.language == "en" and 0 < len(sentences) <= 2
                and all(NEGATION.search(s) and COVERAGE.search(s) and not CONTRAST.search(s) for s in sentences)
                and not any(c.facts for c in self.checks if c is not self.failed))

    def feed(self, delta: str) -> str:
        if self.failed or self.ended:
            return ""
        self.pending += delta
        out = []
        while True:
            m = SENTENCE_END.search(self.pending)  # "3." is no boundary until a space follows: "3.5" stays whole
            if not m:
                break
            sentence, self.pending = self.pending[: m.end()], self.pending[m.end():]
            shown = self._accept(sentence)
            if shown is None or self.ended:
                return "".join(out)
            out.append(shown)
        return "".join(out)

    def finish(self) -> str:
        sentence, self.pending = self.pending, ""
        shown = self._accept(sentence) if sentence.strip() and not self.failed and not self.ended else ""
        if self.held and not self.failed:  # the answer was its restatement of the question, or a lead-in, and nothing more
            bare = MARKER.sub("", self.held)
            kind = Kind.LEAD_IN if LEAD_IN_END.search(bare) or not _WORD.search(bare) else Kind.RESTATEMENT
            self.failed, self.failed_sentence = Check([kind.value], [Finding(kind)]), self.held.strip()
        return shown or ""

    def check(self, sentence: str) -> Check:
        """Every verifier's findings on ``sentence``, as the next sentence of this answer."""
        ctx = self.context
        ctx.first, ctx.released = not self.released and not self.held, self.released
        check = Check()
        for verifier in self.verifiers:
            found = verifier.check(sentence, ctx)
            check.facts += found.facts
            check.findings += found.findings
        return check

    def _accept(self, sentence: str) -> str | None:
        """The text to show now for a sentence: "" while a restatement is held back, None if it failed."""
        if _said(sentence) and _said(sentence) in {_said(s) for s in self.shown + [self.held]}:
            self.ended = True
            return ""
        check = self.check(sentence)
        self.checks.append(check)
        first = self.context.first
        if self.retry and first and not check.facts and APOLOGY.match(MARKER.sub("", sentence)):
            return ""  # "抱歉，我之前的回答不准确。": the student never saw the answer it apologises for
        if not check.ok:
            self.failed, self.failed_sentence = check, sentence.strip()
            return None
        if first and not _WORD.search(MARKER.sub("", sentence)):
            self.held += sentence  # "[1]" alone (a Turkish answer): a citation of nothing is no answer yet
            return ""
        if first and self.context.english_question and restates(sentence, self.context.english_question):
            self.held = sentence
            return ""
        if LEAD_IN_END.search(MARKER.sub("", sentence)) and not check.facts:
            # "迟交作业扣分，具体如下：" shown alone, before a list item that fails, is all the student would get.
            self.held += sentence
            return ""
        shown, self.held = self.held + sentence, ""
        self.released += shown
        self.shown.append(shown)
        return shown

    def withdraw(self, index: int, check: Check) -> None:
        """Take back the released sentences from ``shown[index]`` on, which a later judgement failed (the
        support judge runs once the answer is whole, before any of it is shown): ``check`` is why."""
        self.failed, self.failed_sentence = check, self.shown[index].strip()
        self.checks.append(check)
        self.shown = self.shown[:index]
        self.released = "".join(self.shown)


_WORD = re.compile(r"[^\W_]")  # a letter or digit of any script


def _said(sentence: str) -> str:
    """A sentence as compared for repeats: without citation markers, spacing and case."""
    return " ".join(MARKER.sub("", sentence).split()).casefold()
